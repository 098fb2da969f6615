"""Unit tests for workflow.extract.dates: relative and absolute dates, zh and en."""

from __future__ import annotations

import datetime
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.extract.dates import DateMatch, extract_date, find_dates

CST = datetime.timezone(datetime.timedelta(hours=8))


def at(year: int, month: int, day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=CST)


NOW = at(2026, 11, 28)  # a Saturday; the dev set's clock
D = datetime.date


def resolved(text: str, now: datetime.datetime = NOW) -> D | None:
    match = extract_date(text, now)
    assert match is not None, f"no date found in {text!r}"
    assert not match.vague, f"{text!r} came back vague: {match}"
    return match.date


# --- Chinese relative days ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天", D(2026, 11, 28)),
        ("今日", D(2026, 11, 28)),
        ("今早", D(2026, 11, 28)),
        ("今天上午", D(2026, 11, 28)),
        ("今天早上发现的", D(2026, 11, 28)),
        ("就今天", D(2026, 11, 28)),
        ("今天上午十点", D(2026, 11, 28)),
        ("昨天", D(2026, 11, 27)),
        ("昨日", D(2026, 11, 27)),
        ("昨晚", D(2026, 11, 27)),
        ("昨天下午", D(2026, 11, 27)),
        ("昨儿", D(2026, 11, 27)),
        ("昨天晚上8点", D(2026, 11, 27)),
        ("前天", D(2026, 11, 26)),
        ("前天上午", D(2026, 11, 26)),
        ("前晚", D(2026, 11, 26)),
        ("大前天", D(2026, 11, 25)),
        ("三天前", D(2026, 11, 25)),
        ("两天前", D(2026, 11, 26)),
        ("5天前", D(2026, 11, 23)),
        ("十天以前", D(2026, 11, 18)),
        ("两周前", D(2026, 11, 14)),
    ],
)
def test_zh_relative_days(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_zh_relative_days_across_year_and_month_ends() -> None:
    assert resolved("昨天", at(2027, 1, 1)) == D(2026, 12, 31)
    assert resolved("前天", at(2027, 1, 1)) == D(2026, 12, 30)
    assert resolved("前天", at(2026, 3, 1)) == D(2026, 2, 27)
    assert resolved("大前天", at(2024, 3, 1)) == D(2024, 2, 27)  # leap year
    assert resolved("昨天", at(2024, 3, 1)) == D(2024, 2, 29)


def test_uses_the_clock_local_date_not_utc() -> None:
    late_evening_new_york = datetime.datetime(
        2026, 11, 28, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    assert resolved("今天", late_evening_new_york) == D(2026, 11, 28)
    early_morning_beijing = datetime.datetime(2026, 11, 29, 0, 30, tzinfo=CST)
    assert resolved("昨天", early_morning_beijing) == D(2026, 11, 28)


# --- weeks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上周五", D(2026, 11, 20)),
        ("上星期三", D(2026, 11, 18)),
        ("上礼拜二", D(2026, 11, 17)),
        ("上个星期一", D(2026, 11, 16)),
        ("上周日", D(2026, 11, 22)),
        ("上周天", D(2026, 11, 22)),
        ("这周一", D(2026, 11, 23)),
        ("本周三", D(2026, 11, 25)),
        ("周一", D(2026, 11, 23)),
        ("星期一", D(2026, 11, 23)),
        ("礼拜一", D(2026, 11, 23)),
        ("周六", D(2026, 11, 28)),  # today
        ("周日", D(2026, 11, 22)),  # this week's Sunday is tomorrow: the latest past one
        ("上上周五", D(2026, 11, 13)),
        ("在网上周一申请的", D(2026, 11, 23)),  # 网上 + 周一, not 上周一
        ("查一下周一的记录", D(2026, 11, 23)),  # 一下 + 周一, not 下周一
        ("线上上周五申请的", D(2026, 11, 20)),
    ],
)
def test_zh_weekdays(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_weekdays_on_a_monday_and_across_year_end() -> None:
    monday = at(2026, 11, 30)
    assert resolved("上周五", monday) == D(2026, 11, 27)
    assert resolved("上周日", monday) == D(2026, 11, 29)
    assert resolved("周日", monday) == D(2026, 11, 29)
    assert resolved("周一", monday) == D(2026, 11, 30)
    assert resolved("这周三", monday) == D(2026, 11, 25)
    new_year = at(2027, 1, 1)  # a Friday
    assert resolved("上周五", new_year) == D(2026, 12, 25)
    assert resolved("这周一", new_year) == D(2026, 12, 28)
    assert resolved("周一", at(2026, 3, 1)) == D(2026, 2, 23)
    assert resolved("上周日", at(2026, 3, 1)) == D(2026, 2, 22)


def test_next_week_is_returned_as_found() -> None:
    assert find_dates("下周一", NOW)[0].date == D(2026, 11, 30)


# --- month/day and full dates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11月20号", D(2026, 11, 20)),
        ("11月20日", D(2026, 11, 20)),
        ("十一月二十号", D(2026, 11, 20)),
        ("十一月二十日到期", D(2026, 11, 20)),
        ("１１月２０日", D(2026, 11, 20)),
        ("11月3日", D(2026, 11, 3)),
        ("10月15日", D(2026, 10, 15)),
        ("11月20号到期的", D(2026, 11, 20)),
        ("10月20号出的险", D(2026, 10, 20)),
        ("11.20那天转的账", D(2026, 11, 20)),
        ("11-20转的账", D(2026, 11, 20)),
        ("12月1号", D(2025, 12, 1)),  # no year: the most recent one not after today
        ("2026年11月20日", D(2026, 11, 20)),
        ("二〇二六年十一月二十日", D(2026, 11, 20)),
        ("去年11月20号", D(2025, 11, 20)),
        ("2026-11-20", D(2026, 11, 20)),
        ("2026/11/20", D(2026, 11, 20)),
        ("２０２６－１１－２０", D(2026, 11, 20)),
        ("我在20261120办理的", D(2026, 11, 20)),
        ("这个月1号", D(2026, 11, 1)),
        ("这个月1号扣款的时候发现的", D(2026, 11, 1)),
        ("本月1号", D(2026, 11, 1)),
        ("上个月15号", D(2026, 10, 15)),
        ("上月3号", D(2026, 10, 3)),
        ("1号", D(2026, 11, 1)),
        ("15号那天", D(2026, 11, 15)),
        ("30号", D(2026, 10, 30)),  # after today: last month's
        ("十五号", D(2026, 11, 15)),
        ("双十一那天买的", D(2026, 11, 11)),
        ("元旦", D(2026, 1, 1)),
        ("上周一到周三一直打不通", D(2026, 11, 16)),
    ],
)
def test_zh_calendar_dates(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_month_day_without_year_looks_back_across_year_end() -> None:
    assert resolved("12月30日", at(2027, 1, 2)) == D(2026, 12, 30)
    assert resolved("1月1号", at(2027, 1, 2)) == D(2027, 1, 1)
    assert resolved("上个月15号", at(2027, 1, 2)) == D(2026, 12, 15)
    assert resolved("上个月15号", at(2026, 3, 1)) == D(2026, 2, 15)
    assert resolved("31号", at(2026, 3, 1)) == D(2026, 1, 31)  # February has no 31st
    assert resolved("2月29日", at(2027, 1, 2)) == D(2024, 2, 29)


def test_explicit_future_date_is_returned_as_found() -> None:
    assert resolved("2030年1月1日") == D(2030, 1, 1)


# --- vague ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "上个月",
        "上月",
        "前段时间",
        "前几天",
        "最近",
        "去年",
        "年初",
        "很久以前",
        "之前",
        "上周",
        "国庆期间",
        "十几天前",
        "一两天前",
        "几天前",
        "三个月前",
        "last week",
        "last month",
        "a while ago",
        "recently",
        "a few days ago",
        "earlier this month",
    ],
)
def test_vague(text: str) -> None:
    match = extract_date(text, NOW)
    assert match is not None
    assert match.vague is True
    assert match.date is None
    assert match.text == text


def test_vague_words_in_context() -> None:
    match = extract_date("去年买的你们的理财产品，说好年化4.5%，结果到期只有1.2%", NOW)
    assert match is not None and match.vague and match.text == "去年"
    assert extract_date("最近的网点在哪", NOW) is None  # "nearest", not "recently"
    assert extract_date("还款之前没人通知我", NOW) is None  # "before repaying"


# --- negatives -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1.2万",
        "取款2000元",
        "年化4.5%",
        "收益1.2%",
        "转了1.5万",
        "手机13912345678",
        "电话 138-0013-8000",
        "说好T+2的",
        "基金赎回申请提交五天了钱还没到账",
        "排了两个小时队",
        "拖了一个多月了",
        "等了3天",
        "1-2天到账",
        "下午3.30去的",
        "利率3.85",
        "每周一都要去",
        "周一到周五营业",
        "去3号窗口办理",
        "坐1号线过去",
        "订单号20261120",
        "余额还有11.20",
        "100000天前",
        "身份证号码110101199003071234",
        "一周内回复",
        "3个工作日",
        "我爸今年七十八了",
        "十年期的分红险",
        "I waited 3 days",
        "the fee was 4.5%",
        "I paid $1,200 on the card",
        "open every Monday",
        "Monday to Friday only",
        "",
    ],
)
def test_not_dates(text: str) -> None:
    assert find_dates(text, NOW) == []
    assert extract_date(text, NOW) is None


# --- English ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", D(2026, 11, 28)),
        ("this morning", D(2026, 11, 28)),
        ("yesterday", D(2026, 11, 27)),
        ("Yesterday afternoon", D(2026, 11, 27)),
        ("last night", D(2026, 11, 27)),
        ("the day before yesterday", D(2026, 11, 26)),
        ("3 days ago", D(2026, 11, 25)),
        ("two days ago", D(2026, 11, 26)),
        ("a week ago", D(2026, 11, 21)),
        ("on Monday", D(2026, 11, 23)),
        ("Monday", D(2026, 11, 23)),
        ("this Monday", D(2026, 11, 23)),
        ("on Sunday", D(2026, 11, 22)),
        ("last Monday", D(2026, 11, 16)),
        ("last Friday", D(2026, 11, 20)),
        ("Friday last week", D(2026, 11, 20)),
        ("November 10", D(2026, 11, 10)),
        ("Nov 10", D(2026, 11, 10)),
        ("Nov. 10th", D(2026, 11, 10)),
        ("10 November", D(2026, 11, 10)),
        ("10th of November", D(2026, 11, 10)),
        ("on the 10th of November", D(2026, 11, 10)),
        ("December 30", D(2025, 12, 30)),
        ("November 10, 2026", D(2026, 11, 10)),
        ("2026-11-10", D(2026, 11, 10)),
        ("25/11/2026", D(2026, 11, 25)),
        ("11/25/2026", D(2026, 11, 25)),
        ("on the 3rd", D(2026, 11, 3)),
    ],
)
def test_english(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_english_future_weekdays() -> None:
    assert find_dates("next Friday", NOW)[0].date == D(2026, 12, 4)
    assert find_dates("this coming Saturday", NOW)[0].date == D(2026, 12, 5)


def test_english_last_friday_on_a_monday() -> None:
    assert resolved("last Friday", at(2026, 11, 30)) == D(2026, 11, 27)
    assert resolved("yesterday", at(2027, 1, 1)) == D(2026, 12, 31)


def test_ambiguous_slash_date_is_skipped() -> None:
    assert find_dates("10/11/2026", NOW) == []


def test_english_in_a_sentence() -> None:
    text = "Someone used my credit card online yesterday, about 460 USD in total."
    match = extract_date(text, NOW)
    assert match == DateMatch(D(2026, 11, 27), False, "yesterday", 35, 44)


# --- find_dates / extract_date --------------------------------------------------------------


def test_find_dates_in_order_with_spans() -> None:
    text = "上个月开始的，昨天又扣了一次，11月20号也扣过"
    found = find_dates(text, NOW)
    assert [m.text for m in found] == ["上个月", "昨天", "11月20号"]
    for m in found:
        assert text[m.start : m.end] == m.text


def test_spans_refer_to_the_original_full_width_text() -> None:
    text = "我在１１月２０日取的钱"
    (match,) = find_dates(text, NOW)
    assert match.text == "１１月２０日"
    assert (match.start, match.end) == (2, 8)


def test_longest_expression_wins() -> None:
    assert [m.text for m in find_dates("上周五", NOW)] == ["上周五"]
    assert [m.text for m in find_dates("大前天", NOW)] == ["大前天"]
    assert [m.text for m in find_dates("上个月15号", NOW)] == ["上个月15号"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("去年买的理财，11月20号到期的", D(2026, 11, 20)),
        ("上个月开始的，昨天又扣了一次", D(2026, 11, 27)),
        ("到今天还没到账，上周五转的", D(2026, 11, 20)),  # 今天 is an end point here
        ("明天就要还款了，前天才收到账单", D(2026, 11, 26)),  # the past one
        ("下周一要还款", D(2026, 11, 30)),  # only a future date: returned for the dialogue
    ],
)
def test_extract_date_prefers_when_it_happened(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_extract_date_prefers_vague_over_future() -> None:
    match = extract_date("明天要还款，上个月就扣了", NOW)
    assert match is not None and match.vague and match.text == "上个月"


def test_extract_date_none() -> None:
    assert extract_date("我要投诉！", NOW) is None


def test_times_do_not_shift_the_date() -> None:
    assert resolved("今天晚上11点") == D(2026, 11, 28)
    assert resolved("昨天凌晨两点") == D(2026, 11, 27)


# --- properties ------------------------------------------------------------------------

_DATEISH = list(
    "0123456789０１２３.-/:%+ 年月日号周星期礼拜上下这本个前昨今明后天大晚早"
    "几多两一二三四五六七八九十之以最近去初底ago days weeks last this on Mon Nov the of th"
)
_NOWS = st.datetimes(
    min_value=datetime.datetime(1, 1, 1),
    max_value=datetime.datetime(9999, 12, 31),
    timezones=st.sampled_from([CST, datetime.UTC]),
)


def _check(text: str, now: datetime.datetime) -> None:
    found = find_dates(text, now)
    for m in found:
        assert text[m.start : m.end] == m.text
        assert m.vague == (m.date is None)
    assert [m.start for m in found] == sorted(m.start for m in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    best = extract_date(text, now)
    assert best is None or best in found


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4000), _NOWS)
def test_never_raises_on_arbitrary_text(text: str, now: datetime.datetime) -> None:
    _check(text, now)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_DATEISH), max_size=400).map("".join), _NOWS)
def test_never_raises_on_date_like_text(text: str, now: datetime.datetime) -> None:
    _check(text, now)


def test_long_repetitive_input() -> None:
    text = "周一" * 2000
    found = find_dates(text, NOW)
    assert len(found) == 2000
    assert all(m.date == D(2026, 11, 23) for m in found)
    assert find_dates("1.1." * 1000, NOW) == []


# --- English spoken dates: ordinal words, "the 20th of this month" -------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("October the fifth", D(2026, 10, 5)),
        ("June second", D(2026, 6, 2)),
        ("it was August twenty-first", D(2026, 8, 21)),
        ("on the twelfth of October", D(2026, 10, 12)),
        ("the 7th of October", D(2026, 10, 7)),
        ("the thirty-first of December", D(2025, 12, 31)),  # not yet this year: last year's
        ("on the twelfth I called", D(2026, 11, 12)),
        ("on the twenty second", D(2026, 11, 22)),
        ("on the 20-second", D(2026, 11, 22)),  # "twenty" already read out as digits
        ("the eighteenth of this month", D(2026, 11, 18)),
        ("on the 2nd of this month", D(2026, 11, 2)),
        ("the fifth of last month", D(2026, 10, 5)),
    ],
)
def test_english_spoken_dates(text: str, expected: D) -> None:
    assert resolved(text) == expected


def test_english_spoken_day_after_today_is_last_months() -> None:
    # "on the thirtieth" said on the 28th: the 30th of the previous month.
    assert resolved("on the thirtieth") == D(2026, 10, 30)
    # Named with its month, a day still ahead is returned as found (the dialogue refuses it).
    assert find_dates("the thirtieth of this month", NOW)[0].date == D(2026, 11, 30)


@pytest.mark.parametrize(
    "text",
    [
        "my office is on the second floor",
        "it failed on the third attempt",
        "I paid two weeks before the deadline",
        "first of all, I want a refund",
        "the second may not arrive either",  # "may" the verb
        "the fee is charged on the fifth of every month",  # a schedule
    ],
)
def test_english_ordinals_that_are_not_dates(text: str) -> None:
    assert find_dates(text, NOW) == []


_LATE = datetime.datetime(2026, 11, 25, 22, 10, tzinfo=datetime.timezone(
    datetime.timedelta(hours=8)))
_JUST_AFTER_MIDNIGHT = _LATE.replace(hour=0, minute=30)


@pytest.mark.parametrize(("text", "late", "early"), [
    ("It happened about an hour ago", "2026-11-25", "2026-11-24"),
    ("two hours ago someone emptied my account", "2026-11-25", "2026-11-24"),
    ("half an hour ago", "2026-11-25", "2026-11-25"),
    ("20 minutes ago", "2026-11-25", "2026-11-25"),
    ("大概一个小时前卡被盗刷了", "2026-11-25", "2026-11-24"),
    ("半小时前", "2026-11-25", "2026-11-25"),
    ("三十分钟之前", "2026-11-25", "2026-11-25"),
])
def test_hours_and_minutes_ago_count_back_from_the_clock(text, late, early):
    assert extract_date(text, _LATE).date.isoformat() == late
    assert extract_date(text, _JUST_AFTER_MIDNIGHT).date.isoformat() == early


@pytest.mark.parametrize(("text", "expected"), [
    ("昨天发现前天被扣了两笔年费", D(2026, 11, 26)),
    ("今天才发现上周五转错账了", D(2026, 11, 20)),
    ("Yesterday I noticed two charges from Monday", D(2026, 11, 23)),
    # Only the discovery is dated: it is the best there is.
    ("昨天发现卡被盗刷了", D(2026, 11, 27)),
])
def test_when_the_customer_found_out_gives_way_to_when_it_happened(text, expected) -> None:
    assert resolved(text) == expected
