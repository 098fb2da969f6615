"""Date expressions in complaint messages (Chinese and English), resolved against a clock.

`find_dates` returns every date expression in a message, in order; `extract_date` picks the
one most likely to say when the incident happened.

Resolution rules (see the eval README):

- everything is resolved against ``now.date()`` (the conversation clock's own local date);
  the wall clock is never read;
- weeks start on Monday: "上周五" / "last Friday" is the Friday of the previous
  Monday-to-Sunday week; "周一" / "这周一" / "on Monday" is the Monday of the current week
  when that is not after today, otherwise the latest past Monday;
- a month/day without a year ("11月20号", "November 10") is its most recent occurrence not
  after today; a bare day ("15号") is this month's, or the previous month's if after today;
- other future dates ("明天", "下周一", "2030-01-01") are returned as found: the dialogue
  decides what to do with them;
- a vague time ("上个月", "前段时间", "a while ago") gives ``date=None, vague=True``.

Matching runs on ``workflow.text.fold(text)``, which keeps the length, so spans index the
original text. Overlapping candidates are settled by keeping the longest ("上周五" over
"周五", "上个月15号" over "上个月").
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from workflow.text import fold, has_cjk

__all__ = ["DateMatch", "extract_date", "find_dates"]


@dataclass(frozen=True)
class DateMatch:
    """One date expression found in a message."""

    date: datetime.date | None  # None when the expression is vague
    vague: bool  # True for 上个月 / 前段时间 / a while ago / last month / 去年 / 最近
    text: str  # matched substring of the input
    start: int
    end: int


# A resolver gets the regex match and the context; it returns (date, vague) or None to
# reject the match (e.g. "每周一" is a schedule, not a date).
_Result = tuple[datetime.date | None, bool]


@dataclass(frozen=True)
class _Ctx:
    text: str  # folded text
    today: datetime.date
    cjk: bool
    now: datetime.datetime | None = None  # the clock time, when the caller gave one


_Resolver = Callable[[re.Match[str], _Ctx], "_Result | None"]

_VAGUE: _Result = (None, True)

# ---------------------------------------------------------------------------------------
# numbers

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_EN_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
}
_EN_NUM_RE = "|".join(sorted(_EN_NUMBERS, key=len, reverse=True))
# Ordinal words, as a day of the month is said ("March fifth", "on the twenty-first").
_EN_ORDINALS = {
    w: i
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split(),
        start=1,
    )
}
_EN_ORDINALS.update({"twentieth": 20, "thirtieth": 30})
_EN_ORD_UNITS = "|".join(w for w, i in _EN_ORDINALS.items() if i < 10)
_EN_ORD_WORD = (
    rf"(?:twenty[\s-]*(?:{_EN_ORD_UNITS})|thirty[\s-]*first|(?:20|30)[\s-]*(?:{_EN_ORD_UNITS})|"
    + "|".join(sorted(_EN_ORDINALS, key=len, reverse=True))
    + ")"
)


def _to_int(s: str) -> int | None:
    """ASCII digits or a Chinese numeral below 1000 ("十一", "二十", "一百零五"); else None.

    Anything approximate ("几", "一两", "十几") gives None, which callers treat as vague.
    """
    s = s.strip()
    if not s:
        return None
    if s.isascii():
        return int(s) if s.isdigit() else None
    total = 0
    cur: int | None = None
    for ch in s:
        if ch in _CN_DIGITS:
            value = _CN_DIGITS[ch]
            if value == 0:
                continue  # "一百零五": the zero only marks a gap
            if cur is not None:
                return None  # two digits in a row ("一两") is a range, not a number
            cur = value
        elif ch == "十":
            total += (cur or 1) * 10
            cur = None
        elif ch == "百":
            total += (cur or 1) * 100
            cur = None
        else:
            return None
    return total + (cur or 0)


def _cn_year(s: str) -> int | None:
    """Year written digit by digit ("2026", "二〇二六", "26")."""
    if s.isascii() and s.isdigit():
        return int(s) + 2000 if len(s) == 2 else int(s)
    if len(s) == 4 and all(ch in _CN_DIGITS and ch != "两" for ch in s):
        return int("".join(str(_CN_DIGITS[ch]) for ch in s))
    return None


# ---------------------------------------------------------------------------------------
# date arithmetic


def _days_ago(ctx: _Ctx, n: int) -> datetime.date:
    return ctx.today - datetime.timedelta(days=n)


def _monday(today: datetime.date) -> datetime.date:
    return today - datetime.timedelta(days=today.weekday())


def _weekday(ctx: _Ctx, weekday: int, weeks: int, strictly_past: bool = False) -> datetime.date:
    """`weekday` (0=Monday) of the week `weeks` away; weeks=0 falls back to last week's day
    when this week's is still ahead (or, with strictly_past, is today)."""
    day = _monday(ctx.today) + datetime.timedelta(days=7 * weeks + weekday)
    if weeks == 0 and (day > ctx.today or (strictly_past and day == ctx.today)):
        day -= datetime.timedelta(days=7)
    return day


def _recent_month_day(today: datetime.date, month: int, day: int) -> datetime.date | None:
    """Most recent month/day not after today (29 Feb looks back to the last leap year)."""
    for year in range(today.year, today.year - 9, -1):
        try:
            candidate = datetime.date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None


def _recent_day(today: datetime.date, day: int) -> datetime.date | None:
    """Day `day` of this month, or of the latest earlier month having it, not after today."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = datetime.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate <= today:
            return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def _month_offset(today: datetime.date, months: int, day: int) -> datetime.date | None:
    """Day `day` of the month `months` away from today's month (None if it has no such day)."""
    index = today.year * 12 + today.month - 1 + months
    try:
        return datetime.date(index // 12, index % 12 + 1, day)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# context helpers


def _before(ctx: _Ctx, m: re.Match[str], n: int = 6) -> str:
    return ctx.text[max(0, m.start() - n) : m.start()]


def _after(ctx: _Ctx, m: re.Match[str], n: int = 6) -> str:
    return ctx.text[m.end() : m.end() + n]


# Words shortly before a decimal-looking "M.D" that make it a number: rates, money,
# versions, clock times ("余额还有11.20", "利率3.85", "下午3.30").
_NUMBER_CUE = re.compile(
    r"率|额|价|费|息|金|款|元|钱|币|收益|年化|涨|跌|余|利|版|第|点|分|约|共|计|"
    r"上午|下午|晚上|早上|中午|凌晨|傍晚|[¥$€£%*xX×+=]"
)
# Words right before an 8-digit number that make it an identifier, not a date.
_ID_CUE = re.compile(r"(?:号|码|编|单|账|卡|流水|订单|工单|id|no|#|:)\s*\.?\s*$", re.IGNORECASE)
_UNTIL_BEFORE = re.compile(
    r"(?:到|至|直到|截至|截止|一直到|until|till|til|up\s+to|as\s+of|through)\s*$", re.IGNORECASE
)
_UNTIL_AFTER = re.compile(r"^\s*为止")
# When the customer found out, not when it happened ("昨天发现前天被扣了", "yesterday I noticed
# a charge from Monday"): like an end point, another date in the message comes first.
_FOUND_AFTER = re.compile(
    r"^\s*(?:才|我|又|就|我才|我就)?(?:发现|看到|查到|察觉|注意到|知道)"
    r"|^\s*,?\s*(?:i\s+|we\s+)?(?:noticed|found|realised|realized|discovered|saw)\b",
    re.IGNORECASE)


# ---------------------------------------------------------------------------------------
# Chinese patterns

_UNITS = (
    r"[0-9万亿千百元块角毛%‰倍折个点小时天年周次笔张秒米斤克吨岁期人份件套位层楼]|"
    r"美元|港元|港币|欧元|日元|英镑|kg|km|k\b|w\b|usd|rmb|cny|yuan|dollar"
)
_CN_NUM = "零〇一二两三四五六七八九十百"
_MONTH = r"1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九]"
_DAY = (
    r"3[01]|[12][0-9]|0?[1-9]|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|"
    r"[一二三四五六七八九]"
)
_YEAR = r"(?P<y>[0-9]{4}|[0-9]{2}|[零〇一二三四五六七八九]{4}|今|去|前|明)\s*年\s*"
_WEEKDAY_CN = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEK_WORD = r"(?:周|星期|礼拜|週|禮拜)"
# 上/下/这 that belong to the word before ("网上", "线上", "一下", "晚上") are not a prefix:
# "线上周一申请的" is this week's Monday, "查一下周一的记录" is not next week's.
_NOT_PREFIX = r"(?<![网线早晚马路身手桌面楼车头会班世天向往以之加一了底午乡地私])"


def _year_value(ctx: _Ctx, y: str) -> int | None:
    relative = {"今": 0, "去": -1, "前": -2, "明": 1}
    if y in relative:
        return ctx.today.year + relative[y]
    year = _cn_year(y)
    if year is None or not 1900 <= year <= 2100:
        return None
    return year


def _zh_full_date(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    month, day = _to_int(m["m"]), _to_int(m["d"])
    if month is None or day is None or not 1 <= month <= 12:
        return None
    if m["y"] is None:
        found = _recent_month_day(ctx.today, month, day)
        return (found, False) if found else None
    year = _year_value(ctx, m["y"])
    if year is None:
        return None
    try:
        return datetime.date(year, month, day), False
    except ValueError:
        return None


def _zh_month_only(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    month = _to_int(m["m"])
    if month is None or not 1 <= month <= 12:
        return None
    # A bare Chinese-numeral month ("三月") is too easily part of something else.
    if m["y"] is None and not m["suf"] and not m["m"].isascii():
        return None
    return _VAGUE


_MONTH_REL = {
    "这个": 0,
    "这": 0,
    "本": 0,
    "当": 0,
    "上个": -1,
    "上": -1,
    "上上个": -2,
    "上上": -2,
    "下个": 1,
    "下": 1,
}


def _zh_month_rel_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    day = _to_int(m["d"])
    if day is None:
        return None
    found = _month_offset(ctx.today, _MONTH_REL[m["rel"]], day)
    return (found, False) if found else _VAGUE


def _zh_bare_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    day = _to_int(m["d"])
    if day is None or not 1 <= day <= 31:
        return None
    if re.search(r"(?:每个?月?|第)\s*$", _before(ctx, m, 3)):
        return None  # "每月15号" is a schedule, "第3号" a position
    found = _recent_day(ctx.today, day)
    return (found, False) if found else None


def _zh_numeric_md(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """Numeric 11.20 / 11-20: a date only in Chinese text, away from money or clock cues."""
    if not ctx.cjk:
        return None
    if not m["suf"] and _NUMBER_CUE.search(_before(ctx, m, 5)):
        return None
    found = _recent_month_day(ctx.today, int(m["m"]), int(m["d"]))
    return (found, False) if found else None


_REL_DAYS = {"今": 0, "刚": 0, "昨": 1, "前": 2, "大前": 3, "明": -1, "后": -2}


def _zh_rel_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    return _days_ago(ctx, _REL_DAYS[m["k"]]), False


def _hours_ago(ctx: _Ctx, hours: float) -> _Result:
    """"一个小时前", "20 minutes ago": today, or yesterday when that was before midnight."""
    if ctx.now is None:
        return ctx.today, False
    return (ctx.now - datetime.timedelta(hours=hours)).date(), False


def _zh_hours_ago(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    n = 0.5 if m["n"] == "半" else _to_int(m["n"])
    if n is None or n > 48:
        return None
    return _hours_ago(ctx, n / 60 if m["unit"].startswith("分") else n)


def _en_hours_ago(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    word = m["n"].lower()
    n = 0.5 if word == "half an" else (int(word) if word.isdigit() else _EN_NUMBERS.get(word))
    if n is None or n > 48:
        return None
    return _hours_ago(ctx, n / 60 if m["unit"].lower().startswith("min") else n)


def _zh_ago(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    n = _to_int(m["n"])
    unit = m["unit"]
    if n is None or m["more"] or "月" in unit or unit == "年" or n > 3660:
        return _VAGUE  # "几天前", "十多天前", "三个月前": no single day
    if unit in ("天", "日"):
        return _days_ago(ctx, n), False
    return _days_ago(ctx, 7 * n), False  # weeks ago


_WEEK_REL = {
    None: 0,
    "": 0,
    "这": 0,
    "这个": 0,
    "本": 0,
    "这一": 0,
    "上": -1,
    "上个": -1,
    "上上": -2,
    "上上个": -2,
    "下": 1,
    "下个": 1,
    "下下": 2,
    "下下个": 2,
}


def _zh_weekday(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    if re.search(r"(?:每|逢|隔|到|至|~|-)\s*$", _before(ctx, m, 2)):
        return None  # "每周一" (schedule), "周一到周五" second half
    if re.match(r"\s*次", _after(ctx, m, 3)) or (
        not m["p"] and re.match(r"\s*(?:到|至|~|-)", _after(ctx, m, 3))
    ):
        return None  # "一周一次"; "周一至周五" (opening hours), but "上周一到周三" is a date
    weeks = _WEEK_REL[m["p"]]
    return _weekday(ctx, _WEEKDAY_CN[m["w"]], weeks), False


def _zh_earlier(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """Adverbial 之前/以前 ("之前在你们这办的"), not "还款之前" (before X)."""
    prev = _before(ctx, m, 1)
    if prev and not re.match(r"[\s,.;:!?，。；：！？、…我是就在很好也都他她那这]", prev):
        return None
    return _VAGUE


_FESTIVALS = {
    "元旦": (1, 1),
    "双十一": (11, 11),
    "双11": (11, 11),
    "双十二": (12, 12),
    "双12": (12, 12),
    "平安夜": (12, 24),
    "圣诞": (12, 25),
    "圣诞节": (12, 25),
    "情人节": (2, 14),
}


def _zh_festival(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """Festivals on a fixed solar date, most recent occurrence (like a month/day)."""
    found = _recent_month_day(ctx.today, *_FESTIVALS[m[0]])
    return (found, False) if found else None


def _vague(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    return _VAGUE


_NOT_NEAREST = r"(?!的?(?:网点|支行|分行|营业|柜台|atm|ATM|一家|那家|距离|地方))"

_ZH_RULES: list[tuple[re.Pattern[str], _Resolver]] = [
    # 2026年11月20日, 去年11月20号, 十一月二十号, 11月20 (no suffix when nothing follows)
    (
        re.compile(
            rf"(?<![0-9.\-/{_CN_NUM}几个第])(?:{_YEAR})?(?P<m>{_MONTH})\s*月\s*(?:份\s*)?"
            rf"(?P<d>{_DAY})\s*(?:[日号號]|(?![{_CN_NUM}]|\s*(?:{_UNITS})))",
            re.IGNORECASE,
        ),
        _zh_full_date,
    ),
    # 2026年11月, 11月份, 11月初: a month, no day
    (
        re.compile(
            rf"(?<![0-9.\-/{_CN_NUM}几个第每])(?:{_YEAR})?(?P<m>{_MONTH})\s*月"
            rf"(?P<suf>份|初|底|末|中旬|上旬|下旬)?(?![0-9{_CN_NUM}期息内])"
        ),
        _zh_month_only,
    ),
    # 这个月1号, 本月3日, 上个月15号, 上月3号
    (
        re.compile(
            rf"{_NOT_PREFIX}(?P<rel>上上个|上上|上个|下个|这个|上|下|这|本|当)\s*月\s*(?:的\s*)?"
            rf"(?P<d>{_DAY})\s*[日号號]"
        ),
        _zh_month_rel_day,
    ),
    # 15号, 十五号 alone
    (
        re.compile(
            rf"(?<![0-9.\-/月{_CN_NUM}])(?P<d>{_DAY})\s*[号號]"
            r"(?!\s*(?:线|楼|窗|柜|台|门|机|桌|厅|位|房|室|院|馆|口|店|车|码|段|卡|箱|座|床|球|"
            r"人|员|字|文|令|召|称|公|牌|道|仓|库|柱|桩|街|路|弄|栋|单元|选手|表))"
        ),
        _zh_bare_day,
    ),
    # 15日 alone (digits only: "三日内" is a duration)
    (
        re.compile(
            r"(?<![0-9.\-/月个几数多第每])(?P<d>3[01]|[12][0-9]|0?[1-9])\s*日"
            r"(?!\s*(?:内|之内|以内|前|后|之后|以后|起|左右|元|息|均|期|游|化|利|元|常|本|语|文|"
            r"志|程|历|报|光|夜|子|用|间))"
        ),
        _zh_bare_day,
    ),
    # 11.20 / 11-20 / 11/20日
    (
        re.compile(
            r"(?<![0-9.\-/:A-Za-z¥$€£])(?P<m>1[0-2]|0?[1-9])(?:[.\-]|(?=/[0-9]+\s*[日号]))/?"
            r"(?P<d>3[01]|[12][0-9]|0?[1-9])(?![0-9]|[.\-/:][0-9])"
            rf"(?:\s*(?P<suf>[日号號])|(?!\s*(?:{_UNITS}|分|秒|:)))",
            re.IGNORECASE,
        ),
        _zh_numeric_md,
    ),
    # 今天 / 昨晚 / 前天 / 大前天 / 明天 / 后天 / 刚才
    (re.compile(r"(?P<k>大前)(?:天|日|晚|夜|儿)"), _zh_rel_day),
    (re.compile(r"(?P<k>今)(?:天|日|早|晨|晚|夜|儿个|儿|个)"), _zh_rel_day),
    (re.compile(r"(?P<k>昨)(?:天|日|晚|夜|早|晨|儿个|儿|个)"), _zh_rel_day),
    (re.compile(r"(?P<k>刚)(?:才|刚)"), _zh_rel_day),
    (
        re.compile(r"(?<![之以从提事目面先当日年月眼向往早跟])(?P<k>前)(?:天|日|晚|夜)(?!天)"),
        _zh_rel_day,
    ),
    (re.compile(r"(?P<k>明)(?:天|日|早|晚|儿)(?!星)"), _zh_rel_day),
    (re.compile(r"(?<![然之以最落此背先过午])(?P<k>后)天(?!天)"), _zh_rel_day),
    # 一个小时前, 半小时前, 二十分钟前: today (or yesterday, just after midnight)
    (
        re.compile(rf"(?<![0-9{_CN_NUM}几])(?P<n>[0-9]{{1,2}}|[{_CN_NUM}]{{1,3}}|半)\s*个?\s*多?\s*"
                   r"(?P<unit>小时|钟头|分钟)\s*(?:前|以前|之前)"),
        _zh_hours_ago,
    ),
    # 三天前, 两个星期前, 几天前 (vague), 三个月前 (vague)
    (
        re.compile(
            rf"(?<![0-9{_CN_NUM}几半])(?P<n>[0-9]{{1,4}}|[{_CN_NUM}几半]{{1,5}})"
            r"\s*(?P<more>多)?\s*"
            r"(?P<unit>天|日|周|个星期|星期|个礼拜|礼拜|个多月|个月|月|年)\s*(?:多)?\s*"
            r"(?:前|以前|之前)"
        ),
        _zh_ago,
    ),
    # 上周五, 这周一, 周一, 星期天, 下周三
    (
        re.compile(
            rf"(?:{_NOT_PREFIX}(?P<p>上上个|上上|上个|下下个|下下|下个|这个|这一|上|下|这|本))?"
            rf"\s*{_WEEK_WORD}"
            r"(?P<w>[一二三四五六日天七])(?![0-9一二三四五六七八九十年期])"
        ),
        _zh_weekday,
    ),
    # one-day festivals with a fixed solar date; multi-day holidays are vague
    (re.compile(r"元旦|双十一|双11|双十二|双12|平安夜|圣诞节?|情人节"), _zh_festival),
    (re.compile(r"国庆(?:节|假期|期间)?|春节|过年|五一(?:假期|期间|节)|中秋节?|端午节?"), _vague),
    # vague times
    (
        re.compile(
            r"前段时间|前一段时间|前段日子|前一阵子|前阵子|前一阵|前些日子|前些天|前些时候|"
            r"前几天|前两天|前几周|前几个月|这几天|这两天|近几天|近两天|近日|近期|近来|"
            r"最近" + _NOT_NEAREST + r"|去年|前年|年初|年底|年中|年前|年末|上半年|下半年|"
            r"很久以前|很久之前|好久以前|好久之前|很早以前|很早之前|早些时候|早先|"
            rf"{_NOT_PREFIX}(?:上上|上个|上|这个|这|本|下个|下)\s*(?:月|周末|周|星期|礼拜)"
            r"(?:初|底|末|中)?|"
            r"(?:这个|这|本|上个|上)月(?:初|底|末|中旬|上旬|下旬)|月初|月底|月中"
        ),
        _vague,
    ),
    (re.compile(r"之前|以前|此前|早前"), _zh_earlier),
]


# ---------------------------------------------------------------------------------------
# patterns for both languages: ISO-like and numeric dates with a year


def _iso(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    try:
        return datetime.date(int(m["y"]), int(m["m"]), int(m["d"])), False
    except ValueError:
        return None


def _compact(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """20261120: only near today's year and not after an identifier cue (订单号, No.)."""
    if _ID_CUE.search(_before(ctx, m, 8)):
        return None
    if re.match(r"\s*(?:元|块|万|号|笔|个|次|%|rmb|usd|yuan)", _after(ctx, m), re.IGNORECASE):
        return None
    if not ctx.today.year - 10 <= int(m["y"]) <= ctx.today.year + 1:
        return None
    return _iso(m, ctx)


def _year_last(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """a/b/yyyy: kept only when day and month cannot be confused (25/11/2026, 11/25/2026)."""
    a, b, year = int(m["a"]), int(m["b"]), int(m["y"])
    if a > 12 >= b:
        month, day = b, a
    elif b > 12 >= a or a == b:
        month, day = a, b
    else:
        return None  # 10/11/2026: October 11 or 10 November?
    try:
        return datetime.date(year, month, day), False
    except ValueError:
        return None


_COMMON_RULES: list[tuple[re.Pattern[str], _Resolver]] = [
    (
        re.compile(
            r"(?<![0-9.\-/])(?P<y>(?:19|20)[0-9]{2})\s*(?P<sep>[-/.])\s*(?P<m>1[0-2]|0?[1-9])"
            r"\s*(?P=sep)\s*(?P<d>3[01]|[12][0-9]|0?[1-9])(?![0-9]|[.\-/][0-9])(?:\s*[日号])?"
        ),
        _iso,
    ),
    (
        re.compile(
            r"(?<![0-9A-Za-z.\-/])(?P<y>(?:19|20)[0-9]{2})(?P<m>0[1-9]|1[0-2])"
            r"(?P<d>0[1-9]|[12][0-9]|3[01])(?![0-9A-Za-z])"
        ),
        _compact,
    ),
    (
        re.compile(
            r"(?<![0-9.\-/])(?P<a>[0-9]{1,2})\s*(?P<sep>[-/.])\s*(?P<b>[0-9]{1,2})\s*(?P=sep)\s*"
            r"(?P<y>(?:19|20)[0-9]{2})(?![0-9])"
        ),
        _year_last,
    ),
]


# ---------------------------------------------------------------------------------------
# English patterns

_EN_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_EN_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
    "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_WD = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORD = r"(?:st|nd|rd|th)?"
_EN_YEAR = r"(?:,?\s*(?P<y>(?:19|20)[0-9]{2})\b)?"
_EN_FLAGS = re.IGNORECASE | re.ASCII


def _en_day(m: re.Match[str]) -> int | None:
    """The day of the month of a match: digits ("5", "5th") or an ordinal word ("fifth")."""
    if m["d"]:
        return int(m["d"])
    word = re.sub(r"[\s-]+", " ", m["dw"].lower()).strip()
    if word in _EN_ORDINALS:
        return _EN_ORDINALS[word]
    tens, _, unit = word.partition(" ")
    if unit not in _EN_ORDINALS:
        return None
    return {"twenty": 20, "20": 20, "thirty": 30, "30": 30}[tens] + _EN_ORDINALS[unit]


def _en_month_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    month = _EN_MONTHS[m["mon"][:3].lower()]
    if m["mon"] == "may" and not m["y"] and (
        (not m["ord"] and not m["dw"]) or (m["dw"] and " of " not in m.group().lower())
    ):
        return None  # lowercase "may 5", "the second may" are more likely the verb
    day = _en_day(m)
    if day is None or not 1 <= day <= 31:
        return None
    if m["y"]:
        try:
            return datetime.date(int(m["y"]), month, day), False
        except ValueError:
            return None
    found = _recent_month_day(ctx.today, month, day)
    return (found, False) if found else None


def _en_bare_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    day = _en_day(m)
    if day is None or not 1 <= day <= 31:
        return None
    found = _recent_day(ctx.today, day)
    return (found, False) if found else None


_EN_MONTH_REL = {"this": 0, "the current": 0, "last": -1, "the last": -1, "previous": -1,
                 "the previous": -1, "next": 1, "the next": 1}


def _en_month_rel_day(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    """"the 20th of this month", "the fifth of last month"."""
    day = _en_day(m)
    if day is None or not 1 <= day <= 31:
        return None
    rel = re.sub(r"\s+", " ", m["rel"].lower())
    found = _month_offset(ctx.today, _EN_MONTH_REL[rel], day)
    return (found, False) if found else _VAGUE


def _en_rel_day(days_ago: int) -> _Resolver:
    def resolve(m: re.Match[str], ctx: _Ctx) -> _Result | None:
        return _days_ago(ctx, days_ago), False

    return resolve


def _en_ago(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    word = m["n"].lower()
    n = int(word) if word.isdigit() else _EN_NUMBERS.get(word)
    if n is None or n > 3660:
        return _VAGUE
    per_unit = 7 if m["unit"].lower().startswith("week") else 1
    return _days_ago(ctx, n * per_unit), False


def _en_weekday(m: re.Match[str], ctx: _Ctx) -> _Result | None:
    if re.search(
        r"(?:every|each|on\s+a|until|till|to|through|-)\s*$",
        _before(ctx, m, 12),
        re.IGNORECASE,
    ):
        return None  # schedules and ranges: "every Monday", "Monday to Friday"
    if re.match(
        rf"\s*(?:to|through|till|until|-)\s*(?:{_WD}|(?:mon|tue|wed|thu|fri|sat|sun)\b)",
        _after(ctx, m, 14),
        re.IGNORECASE,
    ):
        return None  # "Monday to Friday", but not "last Tuesday to take out my money"
    prefix = (m["p"] or "").lower().split()
    weekday = _EN_WEEKDAYS[m["wd"].lower()]
    if m["lastweek"] or prefix == ["last"]:
        return _weekday(ctx, weekday, -1), False
    if prefix == ["next"]:
        return _weekday(ctx, weekday, 1), False
    if "coming" in prefix:  # the next one after today
        day = _monday(ctx.today) + datetime.timedelta(days=weekday)
        return (day + datetime.timedelta(days=7) if day <= ctx.today else day), False
    return _weekday(ctx, weekday, 0, strictly_past="past" in prefix), False


# A day of the month: digits with an optional ordinal suffix, or an ordinal word.
_EN_DAY = rf"(?:(?P<d>3[01]|[12][0-9]|0?[1-9])(?P<ord>st|nd|rd|th)?|(?P<dw>{_EN_ORD_WORD}))"
_EN_ORD_DAY = rf"(?:(?P<d>3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)|(?P<dw>{_EN_ORD_WORD}))"
# An ordinal that counts something else: "on the second floor", "the third time".
_EN_NOT_DAY = (
    r"(?![\s-]+(?:floor|storey|story|time|times|attempt|try|call|page|line|one|ones|item|"
    r"instal+ment|payment|transaction|withdrawal|charge|visit|round|person|card|letter|reminder|"
    r"day|week|month|year|quarter|half|place|person|branch|account|number|digit|row|box|"
    r"counter|window|desk|teller|phase|step|stage|level|of\s+(?:every|each|the\s+month))\b)"
)
_EN_RULES: list[tuple[re.Pattern[str], _Resolver]] = [
    # November 10, Nov. 10th, Monday, November 23, 2026, September the third, March fifth
    (
        re.compile(
            rf"\b(?:{_WD},?\s+)?(?:the\s+)?{_MON}\s*(?:the\s+)?{_EN_DAY}"
            rf"\b{_EN_YEAR}(?!,?[0-9])",
            _EN_FLAGS,
        ),
        _en_month_day,
    ),
    # 10 November, 10th of November, the 10th of Nov 2026, the third of September
    (
        re.compile(
            rf"\b(?:the\s+)?{_EN_DAY}\s+(?:of\s+)?{_MON}{_EN_YEAR}",
            _EN_FLAGS,
        ),
        _en_month_day,
    ),
    # the 20th of this month, the fifth of last month
    (
        re.compile(
            rf"\b(?:on\s+)?the\s+{_EN_ORD_DAY}\s+of\s+"
            r"(?P<rel>this|the\s+current|last|the\s+last|previous|the\s+previous|next|the\s+next)"
            r"\s+month\b",
            _EN_FLAGS,
        ),
        _en_month_rel_day,
    ),
    # on the 10th, on the sixteenth
    (
        re.compile(rf"\bon\s+the\s+{_EN_ORD_DAY}\b{_EN_NOT_DAY}", _EN_FLAGS),
        _en_bare_day,
    ),
    (
        re.compile(r"\b(?:the\s+)?(?:day\s+before\s+yesterday|night\s+before\s+last)\b", _EN_FLAGS),
        _en_rel_day(2),
    ),
    (re.compile(r"\b(?:yesterday|last\s+night)\b", _EN_FLAGS), _en_rel_day(1)),
    (
        re.compile(
            r"\b(?:(?:earlier\s+)?today|tonight|this\s+(?:morning|afternoon|evening)|just\s+now)\b",
            _EN_FLAGS,
        ),
        _en_rel_day(0),
    ),
    (re.compile(r"\btomorrow\b", _EN_FLAGS), _en_rel_day(-1)),
    # an hour ago, about two hours ago, 20 minutes ago, half an hour ago
    (
        re.compile(
            rf"\b(?P<n>half\s+an|[0-9]{{1,2}}|{_EN_NUM_RE})\s+(?P<unit>hours?|minutes?|mins?)"
            r"\s+(?:ago|back)\b",
            _EN_FLAGS,
        ),
        _en_hours_ago,
    ),
    # three days ago, 2 weeks ago
    (
        re.compile(
            rf"\b(?P<n>[0-9]{{1,4}}|{_EN_NUM_RE})\s+(?P<unit>days?|weeks?)\s+"
            # "two weeks before it was due" counts back from something else, not from today.
            r"(?:ago|back|before(?!\s+[a-z0-9]))\b",
            _EN_FLAGS,
        ),
        _en_ago,
    ),
    # last Friday, this Monday, on Monday, Friday last week
    (
        re.compile(
            rf"\b(?:(?P<p>last|this\s+past|this|past|next|coming|this\s+coming)\s+)?"
            rf"(?P<wd>{_WD})(?!s\b)(?P<lastweek>,?\s+(?:of\s+)?last\s+week)?\b",
            _EN_FLAGS,
        ),
        _en_weekday,
    ),
    # vague
    (
        re.compile(
            r"\b(?:last\s+(?:week(?:end)?|month|year|summer|winter|spring|autumn|fall)|"
            r"earlier\s+this\s+(?:week|month|year)|this\s+(?:week|month|year)|"
            r"a\s+(?:little\s+|good\s+)?while\s+(?:ago|back)|some\s*time\s+ago|"
            r"a\s+long\s+time\s+ago|long\s+ago|recently|lately|the\s+other\s+day|"
            r"(?:a\s+)?(?:few|couple(?:\s+of)?|several|some|many)\s+"
            r"(?:days|weeks|months|years)\s+(?:ago|back)|"
            r"(?:[0-9]{1,3}|" + _EN_NUM_RE + r"|several|some|many|few)\s+"
            r"(?:months?|years?)\s+(?:ago|back)|(?:days|weeks|months|years)\s+ago|"
            r"(?:at\s+the\s+)?(?:beginning|start|end)\s+of\s+(?:the|this|last)\s+"
            r"(?:month|year))\b",
            _EN_FLAGS,
        ),
        _vague,
    ),
]


# ---------------------------------------------------------------------------------------
# public API


def _as_date(now: datetime.datetime | datetime.date) -> datetime.date:
    return now.date() if isinstance(now, datetime.datetime) else now


def _scan(text: str, now: datetime.datetime) -> list[tuple[DateMatch, bool]]:
    """All matches in order, each with whether it reads as an end point ("到今天为止")."""
    if not isinstance(text, str) or not text:
        return []
    folded = fold(text)
    ctx = _Ctx(text=folded, today=_as_date(now), cjk=has_cjk(folded),
               now=now if isinstance(now, datetime.datetime) else None)
    rules = _COMMON_RULES + (_ZH_RULES if ctx.cjk else []) + _EN_RULES
    candidates: list[tuple[int, int, datetime.date | None, bool]] = []
    for pattern, resolve in rules:
        for m in pattern.finditer(folded):
            if m.end() <= m.start():
                continue
            try:
                result = resolve(m, ctx)
            except (ValueError, OverflowError):
                result = None  # arithmetic off the calendar (year 1 or 9999): not a date
            if result is not None:
                candidates.append((m.start(), m.end(), result[0], result[1]))
    # Longest first, so "上周五" beats "周五" and "去年11月20日" beats "去年"; at equal
    # length a definite date beats a vague one.
    candidates.sort(key=lambda c: (c[0] - c[1], c[3], c[0]))
    taken: list[tuple[int, int, datetime.date | None, bool]] = []
    used = bytearray(len(folded))  # per-character occupancy keeps this linear
    for cand in candidates:
        if not any(used[cand[0] : cand[1]]):
            taken.append(cand)
            used[cand[0] : cand[1]] = b"\x01" * (cand[1] - cand[0])
    taken.sort(key=lambda c: c[0])
    out: list[tuple[DateMatch, bool]] = []
    for start, end, date, vague in taken:
        match = DateMatch(date=date, vague=vague, text=text[start:end], start=start, end=end)
        until = bool(
            _UNTIL_BEFORE.search(folded[max(0, start - 8) : start])
            or _UNTIL_AFTER.match(folded[end : end + 4])
            or _FOUND_AFTER.match(folded[end : end + 16])
        )
        out.append((match, until))
    return out


def find_dates(text: str, now: datetime.datetime) -> list[DateMatch]:
    """Every date expression in `text`, in order of appearance, resolved against `now`.

    Overlapping candidates keep the longest; vague expressions have ``date=None``.
    """
    return [match for match, _ in _scan(text, now)]


def extract_date(text: str, now: datetime.datetime) -> DateMatch | None:
    """The date a complaint message gives for the incident, or None.

    Preference: the first definite date not after today that is not an end point
    ("到今天还没到账" says until when, not when); then such an end point; then the first
    vague expression; then a definite future date (left for the dialogue to question).
    """
    found = _scan(text, now)
    if not found:
        return None
    today = _as_date(now)
    definite = [(m, until) for m, until in found if m.date is not None]
    past = [(m, until) for m, until in definite if m.date is not None and m.date <= today]
    for m, until in past:
        if not until:
            return m
    if past:
        return past[0][0]
    for m, _ in found:
        if m.vague:
            return m
    return definite[0][0] if definite else None
