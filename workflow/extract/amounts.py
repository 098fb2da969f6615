"""The disputed money amount of a complaint.

Customers write sums in many ways ("五千元", "两万", "1.2万", "三千五", "¥1,200.50", "5k",
"2.5w", "460 USD", "HK$300", "三万多") and their messages are full of numbers that are *not*
money: card tails, dates, times, durations, counts, percentages, ages, phone and ID numbers.
The approach, in order:

1. Fold full-width characters (`workflow.text.fold`, length-preserving, so every span is a
   span of the customer's own text) and mask date, clock-time and phone-number shapes.
2. Find numeral runs (Arabic, Chinese or mixed) and read them with
   `workflow.numerals.parse_number`; a run that does not read as one number is split greedily.
3. Look around each number: a currency before or after it, a magnitude suffix (k, w,
   thousand), approximation words (约, 多, 左右, about, over ...), what follows it (a measure
   word such as 天, 笔, 岁, %, "days" means it is not money) and what precedes it (尾号,
   第, 年化, "ending in" mean it is not money).
4. Decide: a currency or money unit makes it money; a magnitude (万, 千, 亿, k, w) makes it
   money unless a measure word follows; a bare number is money only right after a money
   verb or noun (转了, 扣了, 金额, paid, fee of ...) or, in `parse_amount_answer`, when the
   customer is answering "how much?".
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from decimal import Decimal

from workflow.numerals import (
    CN_DIGIT_CHARS,
    CN_NUMERAL_CHARS,
    parse_number,
    to_plain_decimal,
    yuan_fraction,
)
from workflow.text import fold

__all__ = ["AmountMatch", "extract_amount", "find_amounts", "parse_amount_answer"]


@dataclass(frozen=True)
class AmountMatch:
    """One money amount found in a text; `text == original[start:end]`."""

    value: Decimal  # the number, e.g. Decimal("5200")
    currency: str  # ISO 4217: "CNY" unless another currency is named
    approximate: bool  # "五千多", "约2000", "左右", "about 460", "over 300"
    start: int  # span in the input text
    end: int
    text: str  # the matched substring of the input text
    # "2000 yuan each", "每笔两千": the sum of one of several items, not the whole
    per_item: bool = False
    # "I want the 6000 yuan back", "把五百块退给我": the sum the customer wants back
    wanted_back: bool = False


# --- numeral runs -------------------------------------------------------------------------

_MAX_RUN = 40  # longer numeral runs are junk (or digit strings), never one amount
_AR = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_CNRUN = rf"(?:[{CN_NUMERAL_CHARS}]|点(?=[{CN_DIGIT_CHARS}]))+"
# Arabic and Chinese segments strictly alternate so the regex cannot backtrack
# exponentially; a number glued to a further ".5" or ",3" ("2026.11.20", "1.2.3") is a
# date or version and is dropped whole rather than cut ("500,3天" is 500 then 3 days).
_CORE = re.compile(
    rf"(?<![0-9.])(?:{_AR}(?:{_CNRUN}{_AR})*(?:{_CNRUN})?|{_CNRUN}(?:{_AR}{_CNRUN})*(?:{_AR})?)"
    r"(?![0-9]|\.[0-9]|,[0-9]{3}(?![0-9]))"
)
_ARABIC_CHARS = frozenset("0123456789.,")
_MAGNITUDE_CHARS = frozenset("万亿千萬億仟")
# "两三千", "四五万": two consecutive digits then units, a range; we take the lower bound.
_RANGE = re.compile(r"([一二两三四五六七八九])([二三四五六七八九])([十百千万亿]+)")
_RANGE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}

# --- masks: shapes that contain digits but are never money ------------------------------

_MASKS = re.compile(
    r"[0-9]{4}([-/.])[0-9]{1,2}\1[0-9]{1,2}(?![0-9])"  # 2026-11-20, 2026.11.20
    r"|[0-9]{4}[-/][0-9]{1,2}(?![0-9])"  # 2026-11
    r"|[0-9]{4}年[0-9]{1,2}月(?:[0-9]{1,2}[日号])?"  # 2026年11月20日
    r"|(?<![0-9])[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?(?![0-9])"  # 11/20, 11/20/2026
    r"|(?<![0-9])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?![0-9])"  # 10:30
    r"|\+[0-9][0-9 \-]{5,}[0-9]"  # +44 7700 900123
)
_DIGIT_GROUPS = re.compile(r"(?<![0-9])[0-9]+(?:[ \-][0-9]+)+(?![0-9])")  # 138 0013 8000

# --- currencies ---------------------------------------------------------------------------

# Named group = ISO code; `lastgroup` tells which matched. Longer spellings come first.
_PREFIX_CUR = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?P<HKD>HK\$|HKD|港币|港元)"
    r"|(?P<MOP>MOP\$|MOP|澳门元|澳门币|葡币)"
    r"|(?P<TWD>NT\$|NTD|TWD|新台币|台币)"
    r"|(?P<AUD>AU\$|A\$|AUD|澳元|澳币)"
    r"|(?P<CAD>CA\$|C\$|CAD|加元|加币)"
    r"|(?P<SGD>SG\$|S\$|SGD|新加坡元|新币)"
    r"|(?P<JPY>JP¥|JPY|日元|日币)"
    r"|(?P<USD>US\$|USD|美元|美金|\$)"
    r"|(?P<CNY>RMB|CNY|人民币|¥)"
    r"|(?P<EUR>EUR|欧元|€)"
    r"|(?P<GBP>GBP|英镑|£)"
    r"|(?P<CHF>CHF|瑞士法郎|瑞郎)"
    r"|(?P<KRW>KRW|韩元|韩币|₩)"
    r"|(?P<THB>THB|泰铢|฿)"
    r")\s?$",
    re.IGNORECASE,
)
_SUFFIX_WORD_END = r"(?![A-Za-z])"
_SUFFIX_CUR = (
    r"(?P<cur>\s?(?:"
    r"(?P<CNY>块钱|块|元(?!旦)|圆|人民币|(?:RMB|CNY|yuan|kuai|renminbi)" + _SUFFIX_WORD_END + ")"
    r"|(?P<HKD>港币|港元|港纸|(?:HKD|HK\s?dollars?|Hong\s+Kong\s+dollars?)" + _SUFFIX_WORD_END + ")"
    r"|(?P<TWD>新台币|台币|(?:TWD|NTD|(?:New\s+)?Taiwan(?:ese)?\s+dollars?)"
    + _SUFFIX_WORD_END
    + r"|NT\$)"
    r"|(?P<SGD>新加坡元|新币|(?:SGD|Singapore\s+dollars?)" + _SUFFIX_WORD_END + ")"
    r"|(?P<AUD>澳元|澳币|(?:AUD|Australian\s+dollars?)" + _SUFFIX_WORD_END + ")"
    r"|(?P<CAD>加元|加币|(?:CAD|Canadian\s+dollars?)" + _SUFFIX_WORD_END + ")"
    r"|(?P<MOP>澳门元|澳门币|葡币|(?:MOP|(?:Maca[uo]\s+)?patacas?)" + _SUFFIX_WORD_END + r"|MOP\$)"
    r"|(?P<USD>美元|美金|(?:USD|US\s?dollars?|dollars?|bucks)" + _SUFFIX_WORD_END + r"|\$)"
    r"|(?P<EUR>欧元|(?:EUR|euros?)" + _SUFFIX_WORD_END + "|€)"
    r"|(?P<GBP>英镑|(?:GBP|pounds?(?:\s+sterling)?|quid)" + _SUFFIX_WORD_END + "|£)"
    r"|(?P<JPY>日元|日币|円|(?:JPY|(?:Japanese\s+)?yen)" + _SUFFIX_WORD_END + ")"
    r"|(?P<KRW>韩元|韩币|(?:KRW|(?:South\s+)?Korean\s+won|won)" + _SUFFIX_WORD_END + "|₩)"
    r"|(?P<CHF>瑞士法郎|瑞郎|(?:CHF|Swiss\s+francs?)" + _SUFFIX_WORD_END + ")"
    r"|(?P<THB>泰铢|泰币|(?:THB|(?:Thai\s+)?baht)" + _SUFFIX_WORD_END + "|฿)"
    r"))"
)

# --- what sits right after the number -----------------------------------------------------

_MAG_WORDS = {"k": 1000, "w": 10000, "thousand": 1000, "grand": 1000, "million": 10**6,
              "mn": 10**6, "billion": 10**9, "bn": 10**9}  # fmt: skip
_SUFFIX = re.compile(
    # k / w (万, as typed in chat) glued to the number; spelled magnitudes after a space
    r"(?P<mag>[kKwW](?![A-Za-z])|\s?(?:thousand|grand|million|mn|billion|bn)(?![A-Za-z]))?"
    # 多/余/来/几/把 between number and unit mean "a little over": 五千多块, 十几万, 万把块
    r"(?:(?P<approx1>多(?!少)|余|来(?=[块元万千])|几(?=[万千亿百块元]|[^\u3400-\u9fff]|$)"
    r"|把(?=[块元]))(?P<mag2>[万亿千])?)?"
    + "(?:"
    + _SUFFIX_CUR
    + ")?"
    + r"(?P<approx2>\s?(?:左右|上下|出头|开外|以上|多点|or\s+so|or\s+more)(?![A-Za-z])"
    r"|-?ish(?![A-Za-z])|\+(?![0-9]))?",
    re.IGNORECASE,
)
# A measure word, time unit or percent sign after a bare number: not money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:[%‰]"
    r"|火急"  # 十万火急 is "extremely urgent"
    r"|[个次趟笔张份遍位人家条期倍成折度岁年月日号天周点时分秒钟刻楼层户名代级星页字口台部只件辆套"
    r"间下些回项批股手届轮声句行样种类根片本首封段节场阵顿眼步米斤克吨升里寸尺亩粒颗座所栋幢排列"
    r"组对双副班架艘集季招门科题道款码站路线栏格档环幅支枝匹头尾棵朵串滴瓶杯碗盒包箱袋车船票单礼工世]"
    r"|(?:percent|per\s?cent|pct|bps?|basis\s+points?|days?|hours?|hrs?|minutes?|mins?"
    r"|seconds?|secs?|weeks?|months?|years?|yrs?|times|am|pm|a\.m|p\.m|o'?clock|digits?"
    r"|th|st|nd|rd|km|kms|miles?|people|persons?|steps?|pages?|forms?|calls?|charges?"
    r"|transactions?|cards?|items?|accounts?|branches?|visits?|emails?|messages?|attempts?"
    r"|tries|stars?|points?|pieces?|copies|signatures?|x)(?![A-Za-z]))",
    re.IGNORECASE,
)
# Fees named right after a bare number are money even though 手 and 年 are measure words.
_MONEY_NOUN_AFTER = re.compile(
    r"手续费|违约金|利息|本金|保证金|押金|年费|服务费|管理费|会员费|罚息|滞纳金|(?:的)?(?:手续费|费用)"
)
_PERCENT_BEFORE = re.compile(r"(?:百分之|千分之|万分之)$")
# A bare Chinese numeral is a word fragment ("一直", "三遍") unless what follows is one of
# these (or is not Chinese at all): "扣了五百手续费", "转了八百到他卡上".
_BARE_CN_FOLLOWERS = re.compile(
    r"[^\u3400-\u9fff]|$|[到给在的了就才都还也又被呢啊吧呀吗嘛哦啦我他她进出去过是整]"
    r"|手续费|违约金|利息|本金|保证金|押金|年费|服务费|管理费|会员费|罚息|滞纳金"
)

# --- fractions of a yuan: 角 (毛) and 分 -------------------------------------------------

_DIGIT1 = r"[0-9零〇一二两三四五六七八九]"
# After 块/元/圆 a lone digit is the 角 digit, optionally named (毛/角) and followed by a 分
# digit: "八十六块三" = 86.3, "十二块五毛" = 12.5, "三块五毛二" = 3.52, "两块零五分" = 2.05.
_YUAN_TAIL = re.compile(
    rf"(?:零(?P<fen0>{_DIGIT1})分?"
    rf"|(?P<jiao>{_DIGIT1})(?:[毛角](?:(?P<fen>{_DIGIT1})分?)?)?)"
    r"(?P<qian>钱)?(?![0-9.,])"
)
# A sum below one yuan: "三毛" = 0.3, "五角钱" = 0.5, "三毛五" = 0.35, "五分钱" = 0.05.
_SUBUNIT = re.compile(rf"(?:[毛角](?:(?P<fen>{_DIGIT1})分?)?|(?=分钱)分)(?P<qian>钱)?(?![0-9.,])")
# What may follow a 角/分 tail so that its digit is not the start of another word ("十块一次",
# "扣了10元一直没退", "五角大楼", "一毛不拔").
_TAIL_FOLLOW = re.compile(
    r"[^\u3400-\u9fff0-9]|$|[到给在的了就才都还也又被呢啊吧呀吗嘛哦啦我他她进出去过是整]"
    r"|左右|上下|多点|手续费|违约金|利息|本金|保证金|押金|年费|服务费|管理费|会员费|罚息|滞纳金"
)
_APPROX_AFTER_TAIL = re.compile(r"\s?(?:左右|上下|多点)")


# --- what sits right before the number ----------------------------------------------------

_APPROX_BEFORE = re.compile(
    r"(?:约合|大约|大概|大致|约莫|约|差不多|将近|接近|近|超过|逾|至少|起码|不到|不足|不止|足有"
    r"|估计|可能|(?<![A-Za-z])(?:about|around|approximately|approx\.?|roughly|nearly|almost"
    r"|over|more\s+than|less\s+than|under|at\s+least|close\s+to|upwards\s+of|some|circa|ca\.)"
    r"|~|≈)\s?$",
    re.IGNORECASE,
)
# Card tails, ordinals, IDs, rates, weekdays: a number after these is not money.
_NOT_MONEY_BEFORE = re.compile(
    r"(?:第|尾号|尾数|末尾|后四位|后4位|末四位|末4位|后六位|后6位|卡号|账号|帐号|编号|单号|订单号"
    r"|流水号|工号|身份证号?|证件号|手机号码|手机号|手机|电话号码|电话|号码|验证码|密码|邮编|车牌号?"
    r"|房号|星期|礼拜|周|年化|利率|收益率|费率|初"
    r"|(?<![A-Za-z])(?:ending(?:\s+(?:in|with))?|last\s+(?:four|4|six|6)(?:\s+digits?)?"
    r"|card\s+(?:no\.?|number)|account\s+(?:no\.?|number)|acct\.?(?:\s+no\.?)?|no\.|number"
    r"|id|ref(?:erence)?|order|rate(?:\s+of)?|aged?|room|flat|apt|version|v)"
    r"|T\+|\+|#)\s*:?\s*(?:是|为)?\s*$",
    re.IGNORECASE,
)
# Money verbs and nouns after which a bare number ("转了8000", "金额:2000") is a sum.
_MONEY_BEFORE = re.compile(
    r"(?:(?:转账|转款|转出|转走|转给|转入|转|汇款|汇出|汇|打款|打|取款|取现|提现|取|提|扣款|扣费"
    r"|扣除|划扣|划走|划|扣|盗刷|刷|收取|收费|收|付款|支付|付|还款|还|存款|存入|存|充值|充|缴费"
    r"|缴纳|缴|交|损失|亏损|亏|赔|少|多扣|多收|退款|退还|退回|退|返还|返|赔偿|金额|共计|合计|总计"
    r"|一共|总共|余额|欠款|欠|借|贷款|贷|本金|利息|手续费|违约金|年费|罚息|滞纳金|费用|保费|月供"
    r"|首付|额度|花费|花|消费|买|投资|投入|投|骗走|骗|价值|价格|工资|理赔|要回|追回|拿走)"
    r"(?:了|过|走|掉|出|给|回|到)?了?(?:我们|他们|我|他|她|您|人家|老人|我妈|我爸)?的?"
    r"(?:一共|总共|共|合计|大概|大约|约|差不多|将近|足足|整整|高达|多达|才|只|就|有|竟然|居然"
    r"|又|再|还|了|都|也|总|足有){0,3}(?:人民币)?\s*[:是为有]?\s*"
    r"|(?<![A-Za-z])(?:charged|charges?|paid|pay|paying|lost|lose|losing|transferred|transfer"
    r"|transferring|withdrew|withdraw|withdrawn|withdrawal|withdrawing|deducted|deduct|debited"
    r"|debit|took|taken|stole|stolen|refund|refunded|fees?|fine|penalty|costs?|spent|spend|sent"
    r"|send|deposited|deposit|owed?|owes|amounts?|amounting|total|totaling|totalling|totalled"
    r"|totaled|sum|balance|worth|missing|scammed|billed|bill|price|premium|repaid|repay"
    r"|repayment|interest)"
    r"(?:\s+(?:me|us|him|her|them|my|our|his|their|of|is|was|were|to|in|a|an|the|about|around"
    r"|approximately|roughly|nearly|almost|over|some|just|only|exactly|another|extra|additional"
    r"|out|back|off|for|be|been|being|up)){0,4}\s*[:=]?\s*)$",
    re.IGNORECASE,
)

# --- choosing the disputed sum ------------------------------------------------------------

_DISPUTE_CUE = re.compile(
    r"亏|损失|扣|刷|骗|诈|转了|转账|转走|转给|收了|收取|多收|手续费|违约金|罚息|滞纳金|年费|费用|退|赔"
    r"|丢|没吐|吞|少了|冒充|交了"
    r"|(?<![A-Za-z])(?:fees?|charged?|charges|lost|loss|refund\w*|stolen|stole|scam\w*|fraud\w*"
    r"|deducted|debited|unauthori[sz]ed|never\s+made|missing|penalty|fine|gone)(?![A-Za-z])",
    re.IGNORECASE,
)
# A sum of one of several items ("three withdrawals of 2000 yuan each", "每笔两千").
_PER_ITEM_AFTER = re.compile(
    r"\s*(?:each|apiece|a\s+piece|per\s+(?:transaction|withdrawal|charge|payment|purchase|"
    r"transfer|debit|item|time|month|day|week|year)|a\s+time|each\s+time|every\s+time|"
    r"a\s+month|a\s+day|a\s+week|一笔|每笔|一次|每次)(?![A-Za-z])",
    re.IGNORECASE,
)
_PER_ITEM_BEFORE = re.compile(
    r"(?:每笔|每一笔|每次|每一次|每月|每个月|各|分别|单笔|"
    r"(?<![A-Za-z])(?:each|every)\s+(?:one|transaction|withdrawal|charge|payment|purchase|"
    r"transfer|debit|time)(?:\s+(?:of|was|is|for|cost|at))?|(?<![A-Za-z])per\s+"
    r"(?:transaction|withdrawal|charge|payment|purchase|transfer|debit|time))"
    r"\s*(?:是|为|扣了?|刷了?|取了?|转了?|都是)?\s*$",
    re.IGNORECASE,
)
# The customer asks for the sum back: "I want the 6000 yuan back", "refund the 500 yuan",
# "追回五千", "把少给的五百块退给我" (the disputed sum, though other amounts come up around it).
# A cue right before the amount, or "back" / 退给我 right after it (with a want before, in English).
_BACK_BEFORE = re.compile(
    r"(?:退还|退回|追回|要回|拿回|返还|退款|"
    r"(?<![A-Za-z])(?:refund(?:ed)?|reimburs\w*|give\s+(?:me\s+)?back|pay\s+(?:me\s+)?back|"
    r"return|recover|get\s+back|want\s+back)(?![A-Za-z]))[^.!?;\n]{0,25}$",
    re.IGNORECASE,
)
_BACK_AFTER = re.compile(r"^[^.!?;\n]{0,20}?(?:退给我|退还给我|退回给我|退回来|还给我|还我|退我)")
_BACK_AFTER_EN = re.compile(r"^[^.!?;\n]{0,20}?(?<![A-Za-z])back(?![A-Za-z])", re.IGNORECASE)
_WANT = re.compile(r"(?<![A-Za-z])(?:want|need|get|like|give|have)(?![A-Za-z])", re.IGNORECASE)
# A bare number followed by what happened to it: "6000 gone", "2000 missing".
_LOSS_AFTER = re.compile(
    r"\s*(?:(?:is|are|was|were|has\s+been|have\s+been|had\s+been|just|all)\s+)?"
    r"(?:gone|missing|vanished|disappeared|stolen|taken|withdrawn|deducted|debited)(?![A-Za-z])"
    r"|\s*(?:没了|不见了)",
    re.IGNORECASE,
)
_SENTENCE_COMMA = re.compile(r"(?<![０-９])，|，(?![０-９]{3}(?![０-９]))")
_CLAUSE_BREAK = re.compile(r"[。！？；!?;\n、]|[,.](?=\s|$)")
_CUE_LEFT, _CUE_RIGHT = 16, 10


@dataclass(frozen=True)
class _Candidate:
    match: AmountMatch
    has_cue: bool  # a dispute or loss cue in its clause, or the customer wants it back


def find_amounts(text: str) -> list[AmountMatch]:
    """Every money amount in a free-text message, in text order.

    A bare number without unit counts only right after a money verb or noun (转了8000,
    取款2000, paid 300); card tails, dates, times, durations, counts, percentages, ages,
    years and phone or ID numbers are skipped. Never raises.
    """
    return [c.match for c in _candidates(text, lenient=False)]


def extract_amount(text: str) -> AmountMatch | None:
    """The disputed sum of a free-text complaint, or ``None``.

    Of several amounts, one with a dispute or loss cue in its clause (亏了, 扣了, 盗刷, 骗,
    手续费, charged, lost, refund ...) or that the customer wants back wins; among those, a
    total over the sum of one of several items ("2000 yuan each"); then the largest.
    """
    return _pick(_candidates(text, lenient=False))


def parse_amount_answer(text: str) -> AmountMatch | None:
    """The customer's answer to "how much?": as `extract_amount`, but a bare number counts.

    "8000", "两万", "3万", "5200元", "460 USD", "about 2k" all parse; "三笔", "不记得了"
    and phone numbers do not.
    """
    return _pick(_candidates(text, lenient=True))


def _pick(candidates: list[_Candidate]) -> AmountMatch | None:
    if not candidates:
        return None
    # max() keeps the first of equal keys, so ties go to the earlier amount.
    best = max(candidates, key=lambda c: (c.has_cue, not c.match.per_item, c.match.value))
    return best.match


_HOTLINE = re.compile(r"(?:123\d\d|95\d{3}|96\d{3}|400\d{7}|800\d{7})")


def _candidates(text: str, *, lenient: bool) -> list[_Candidate]:
    if not isinstance(text, str) or not text:
        return []
    # The full-width comma is a Chinese sentence comma ("我取了500，300是手续费" is two
    # numbers), except inside a number typed wholly in full-width digits ("３，５００").
    # Swap the sentence commas for 、 (same length) before folding.
    work = fold(_SENTENCE_COMMA.sub("\u3001", text))
    blocked = _blocked(work)
    out: list[_Candidate] = []
    floor = 0  # no amount may reach back into the previous one
    for run in _CORE.finditer(work):
        if run.start() < floor or run.end() - run.start() > _MAX_RUN:
            continue
        if _overlaps(blocked, run.start(), run.end()):
            continue
        for start, end, value, approx in _segments(work, run.start(), run.end()):
            if start < floor:
                continue
            fragment = (start, end) != run.span()
            cand = _judge(text, work, start, end, value, approx, lenient, floor, fragment)
            if cand is not None and not lenient and _HOTLINE.fullmatch(cand.match.text.strip()):
                # "我就打12378": a regulator's or bank's short hotline, not a sum.
                continue
            if cand is not None:
                out.append(cand)
                floor = cand.match.end
    return out


def _blocked(work: str) -> list[tuple[int, int]]:
    """Spans of dates, clock times and phone-like digit groups: sorted, disjoint."""
    spans = [m.span() for m in _MASKS.finditer(work)]
    for m in _DIGIT_GROUPS.finditer(work):
        if sum(c.isdigit() for c in m.group()) >= 7:
            spans.append(m.span())
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    # The spans are disjoint and sorted, so only the last one starting before `end` can
    # reach back to `start`: a binary search instead of a scan per numeral run.
    i = bisect.bisect_left(spans, (end, -1))
    return i > 0 and spans[i - 1][1] > start


def _segments(work: str, start: int, end: int) -> list[tuple[int, int, Decimal, bool]]:
    """Read a numeral run as one number, a range ("两三千"), or greedily as several."""
    run = work[start:end]
    value = parse_number(run)
    if value is not None:
        return [(start, end, value, False)]
    rng = _RANGE.fullmatch(run)
    if rng and _RANGE_DIGITS.get(rng[1], -9) + 1 == _RANGE_DIGITS.get(rng[2]):
        low = parse_number(rng[1] + rng[3])
        if low is not None:
            return [(start, end, low, True)]
    out: list[tuple[int, int, Decimal, bool]] = []
    i, n = 0, len(run)
    while i < n:
        for j in range(n, i, -1):
            # never cut inside an Arabic number ("500一" -> "500", not "50")
            if j < n and run[j - 1] in _ARABIC_CHARS and run[j] in _ARABIC_CHARS:
                continue
            value = parse_number(run[i:j])
            if value is not None:
                out.append((start + i, start + j, value, False))
                i = j
                break
        else:
            i += 1
            while i < n and run[i - 1] in _ARABIC_CHARS and run[i] in _ARABIC_CHARS:
                i += 1  # skip the rest of an unreadable Arabic token too
    return out


def _judge(
    text: str,
    work: str,
    start: int,
    end: int,
    value: Decimal,
    approximate: bool,
    lenient: bool,
    floor: int,
    fragment: bool,
) -> _Candidate | None:
    """Decide whether the number at work[start:end] is money; build the match if so.

    `fragment` says the number is a piece of a longer numeral run that did not read as one
    number ("万一" -> "一"); a bare Chinese fragment is then never trusted.
    """
    core = work[start:end]
    suffix = _SUFFIX.match(work, end)
    if suffix is None:  # cannot happen (every part is optional); keeps the type checker calm
        return None
    currency: str | None = _suffix_currency(suffix) if suffix.group("cur") else None
    span_end = suffix.end()
    # where the number word ends (after k, 多, 几万 ...), before any currency or 左右
    tail_end = max([end] + [suffix.end(g) for g in ("mag", "approx1", "mag2") if suffix.group(g)])

    # currency symbol or code before the number: ¥1200, USD 460, HK$300
    span_start = start
    prefix = _PREFIX_CUR.search(work, max(floor, start - 8), start)
    if prefix is not None:
        currency = prefix.lastgroup or currency
        span_start = prefix.start()
    approx_before = _APPROX_BEFORE.search(work, max(floor, span_start - 16), span_start)
    if approx_before is not None:
        span_start = approx_before.start()
    approximate = approximate or bool(
        approx_before or suffix.group("approx1") or suffix.group("approx2")
    )

    has_magnitude = bool(
        _MAGNITUDE_CHARS.intersection(core) or suffix.group("mag") or suffix.group("mag2")
    )
    if _PERCENT_BEFORE.search(work, max(0, start - 3), start):
        return None
    sub = None
    if currency is None and not has_magnitude and tail_end == end:
        sub = _sub_yuan(work, core, value, end)
    if sub is not None:
        # "三毛", "五角钱": the digit counts tenths (or hundredths) of a yuan
        value, span_end = sub[0], sub[1]
        explicit = sub[2]
        if _NOT_MONEY_BEFORE.search(work, max(0, span_start - 24), span_start):
            return None
        if not explicit and not lenient:
            if not _MONEY_BEFORE.search(work, max(0, span_start - 40), span_start):
                return None
        currency = "CNY"
    elif currency is None:
        if fragment and not has_magnitude and not core[0].isascii():
            return None
        if not _plausible_bare(work, core, start, tail_end, has_magnitude):
            return None
        if _NOT_MONEY_BEFORE.search(work, max(0, span_start - 24), span_start):
            return None
        if not has_magnitude and not lenient:
            if not (_MONEY_BEFORE.search(work, max(0, span_start - 40), span_start)
                    or _LOSS_AFTER.match(work, tail_end)):
                return None
        currency = "CNY"  # a sum named without a currency is in yuan
    else:
        tail = None
        if suffix.group("CNY") and not (has_magnitude or suffix.group("approx1")):
            tail = _yuan_tail(work, suffix, value, span_end)
        if tail is not None:
            value, span_end = tail
            if _APPROX_AFTER_TAIL.match(work, span_end):
                approximate = True
                span_end = _APPROX_AFTER_TAIL.match(work, span_end).end()  # type: ignore[union-attr]
        elif suffix.group("CNY") and core == "一" and suffix.group("cur").strip() == "块":
            if not work.startswith("钱", span_end):
                return None  # 一块 is "together" ("一块去网点"), unless 一块钱 or 一块五

    if sub is None:
        scaled = _scale(value, suffix)
        if scaled is None or scaled <= 0:
            return None
        value = scaled
    back = _wanted_back(work, span_start, span_end)
    match = AmountMatch(
        value=value,
        currency=currency,
        approximate=approximate,
        start=span_start,
        end=span_end,
        text=text[span_start:span_end],
        per_item=bool(
            _PER_ITEM_AFTER.match(work, span_end)
            or _PER_ITEM_BEFORE.search(work, max(0, span_start - 24), span_start)
        ),
        wanted_back=back,
    )
    return _Candidate(match, back or _has_cue(work, span_start, span_end))


def _yuan_tail(
    work: str, suffix: re.Match[str], value: Decimal, at: int
) -> tuple[Decimal, int] | None:
    """(value with its 角/分, new end) for "八十六块三", "十二块五毛", "两块零五分"; else None."""
    if suffix.group("cur").strip() not in ("块", "元", "圆") or suffix.group("approx2"):
        return None
    if value != value.to_integral_value():
        return None  # "3.5元3": not a spoken yuan-jiao sum
    m = _YUAN_TAIL.match(work, at)
    if m is None or not _TAIL_FOLLOW.match(work, m.end()):
        return None
    frac = yuan_fraction(m.group("jiao"), m.group("fen") or m.group("fen0"))
    if frac is None:
        return None
    return to_plain_decimal(value + frac), m.end()


def _sub_yuan(work: str, core: str, value: Decimal, at: int) -> tuple[Decimal, int, bool] | None:
    """(value, end, named with 钱) for a sum below one yuan: "三毛", "五角钱", "五分钱"."""
    if len(core) != 1 or not 1 <= value <= 9:
        return None
    m = _SUBUNIT.match(work, at)
    if m is None or not _TAIL_FOLLOW.match(work, m.end()):
        return None
    if work[at] == "分":
        frac = yuan_fraction(None, core)
    else:
        frac = yuan_fraction(core, m.group("fen"))
    if frac is None:
        return None
    return frac, m.end(), bool(m.group("qian"))


def _suffix_currency(suffix: re.Match[str]) -> str:
    for code in ("CNY", "HKD", "TWD", "SGD", "AUD", "CAD", "MOP", "USD", "EUR", "GBP", "JPY",
                 "KRW", "CHF", "THB"):  # fmt: skip
        if suffix.group(code):
            return code
    return "CNY"


def _plausible_bare(work: str, core: str, start: int, tail_end: int, magnitude: bool) -> bool:
    """Shape checks for a number with no currency attached."""
    if _NOT_MONEY_AFTER.match(work, tail_end) and not _MONEY_NOUN_AFTER.match(work, tail_end):
        return False  # 五天, 三笔, 78岁, 4.5%, 10点, "5 days"
    arabic = core[0].isascii()
    if arabic:
        before = work[start - 1] if start else " "
        if (before.isascii() and before.isalpha()) or before in "+#@_/\\":
            return False  # T+2, A1234, #5
        if tail_end < len(work) and work[tail_end].isascii() and work[tail_end].isalpha():
            return False  # 3rd, 4G, 5km
        digits = core.split(".")[0]
        if "," not in digits and len(digits) >= 7 and not magnitude:
            return False  # phone, card or ID number
        if len(digits) > 1 and digits[0] == "0":
            return False  # "0012": a code, not a sum
    elif not magnitude and (core == "一" or not _BARE_CN_FOLLOWERS.match(work, tail_end)):
        return False  # "一直", "三遍", "一下": the numeral is part of a word
    return True


def _scale(value: Decimal, suffix: re.Match[str]) -> Decimal | None:
    try:
        mag = suffix.group("mag")
        if mag:
            value *= _MAG_WORDS[mag.strip().lower()]
        mag2 = suffix.group("mag2")
        if mag2:
            value *= {"万": 10**4, "亿": 10**8, "千": 1000}[mag2]
        return to_plain_decimal(value)
    except (ArithmeticError, KeyError, ValueError):
        return None


def _wanted_back(work: str, start: int, end: int) -> bool:
    """Is the amount the one the customer asks to have back ("I want the 500 yuan back")?"""
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(work, 0, start)]
    left = work[breaks[-1] if breaks else 0 : start]
    cut = _CLAUSE_BREAK.search(work, end)
    right = work[end : cut.start() if cut else len(work)]
    if _BACK_BEFORE.search(left) or _BACK_AFTER.search(right):
        return True
    return bool(_BACK_AFTER_EN.search(right) and _WANT.search(left))


def _has_cue(work: str, start: int, end: int) -> bool:
    """A dispute or loss cue in the same clause, shortly before or after the amount."""
    left = work[max(0, start - _CUE_LEFT) : start]
    breaks = list(_CLAUSE_BREAK.finditer(left))
    if breaks:
        left = left[breaks[-1].end() :]
    right = work[end : end + _CUE_RIGHT]
    cut = _CLAUSE_BREAK.search(right)
    if cut:
        right = right[: cut.start()]
    return bool(_DISPUTE_CUE.search(left) or _DISPUTE_CUE.search(right))
