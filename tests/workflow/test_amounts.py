"""Tests for workflow.extract.amounts: money amounts in complaint messages and answers."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.extract.amounts import (
    AmountMatch,
    extract_amount,
    find_amounts,
    parse_amount_answer,
)


def _one(text: str) -> AmountMatch:
    found = find_amounts(text)
    assert len(found) == 1, found
    return found[0]


# --- single amounts: value, currency, approximate, matched text ---------------------------


@pytest.mark.parametrize(
    ("text", "value", "currency", "approximate", "matched"),
    [
        # Chinese numerals and units
        ("五千元", "5000", "CNY", False, "五千元"),
        ("两万", "20000", "CNY", False, "两万"),
        ("五万块", "50000", "CNY", False, "五万块"),
        ("三千五", "3500", "CNY", False, "三千五"),
        ("一万二", "12000", "CNY", False, "一万二"),
        ("两千五百块", "2500", "CNY", False, "两千五百块"),
        ("一千二百三十四点五元", "1234.5", "CNY", False, "一千二百三十四点五元"),
        ("三点五万", "35000", "CNY", False, "三点五万"),
        ("一块钱", "1", "CNY", False, "一块钱"),
        # Arabic with Chinese units and chat shorthand
        ("1.2万", "12000", "CNY", False, "1.2万"),
        ("1.5万", "15000", "CNY", False, "1.5万"),
        ("3万5千", "35000", "CNY", False, "3万5千"),
        ("5k", "5000", "CNY", False, "5k"),
        ("5K", "5000", "CNY", False, "5K"),
        ("2.5w", "25000", "CNY", False, "2.5w"),
        ("200块", "200", "CNY", False, "200块"),
        ("25块", "25", "CNY", False, "25块"),
        ("1800元", "1800", "CNY", False, "1800元"),
        ("5000 元", "5000", "CNY", False, "5000 元"),
        # symbols and codes
        ("¥1,200.50", "1200.50", "CNY", False, "¥1,200.50"),
        ("￥1200", "1200", "CNY", False, "￥1200"),
        ("人民币5000元", "5000", "CNY", False, "人民币5000元"),
        ("3500 RMB", "3500", "CNY", False, "3500 RMB"),
        ("3,500 yuan", "3500", "CNY", False, "3,500 yuan"),
        ("460 USD", "460", "USD", False, "460 USD"),
        ("USD 460", "460", "USD", False, "USD 460"),
        ("$460", "460", "USD", False, "$460"),
        ("100 dollars", "100", "USD", False, "100 dollars"),
        ("300美元", "300", "USD", False, "300美元"),
        ("HK$300", "300", "HKD", False, "HK$300"),
        ("500港币", "500", "HKD", False, "500港币"),
        ("€50", "50", "EUR", False, "€50"),
        ("50 euros", "50", "EUR", False, "50 euros"),
        ("£20", "20", "GBP", False, "£20"),
        ("20 pounds", "20", "GBP", False, "20 pounds"),
        ("1000日元", "1000", "JPY", False, "1000日元"),
        # approximate amounts
        ("三万多", "30000", "CNY", True, "三万多"),
        ("五千多块", "5000", "CNY", True, "五千多块"),
        ("1000多元", "1000", "CNY", True, "1000多元"),
        ("约2000元", "2000", "CNY", True, "约2000元"),
        ("5000元左右", "5000", "CNY", True, "5000元左右"),
        ("大概三万", "30000", "CNY", True, "大概三万"),
        ("差不多一万出头", "10000", "CNY", True, "差不多一万出头"),
        ("十几万", "100000", "CNY", True, "十几万"),
        ("三千多万", "30000000", "CNY", True, "三千多万"),
        ("两三千块", "2000", "CNY", True, "两三千块"),  # a range: its lower bound
        ("about 460 USD", "460", "USD", True, "about 460 USD"),
        ("around $300", "300", "USD", True, "around $300"),
        ("over £20", "20", "GBP", True, "over £20"),
    ],
)
def test_single_amount(
    text: str, value: str, currency: str, approximate: bool, matched: str
) -> None:
    m = _one(text)
    assert (m.value, m.currency, m.approximate, m.text) == (
        Decimal(value),
        currency,
        approximate,
        matched,
    )
    assert text[m.start : m.end] == m.text


@pytest.mark.parametrize(
    ("text", "value", "matched"),
    [
        ("１２００元", "1200", "１２００元"),
        ("￥１，２００．５０", "1200.50", "￥１，２００．５０"),
        ("损失约￥３，５００", "3500", "约￥３，５００"),
        ("转了８０００到安全账户", "8000", "８０００"),
        ("ＵＳＤ　４６０", "460", "ＵＳＤ　４６０"),
    ],
)
def test_full_width_text_keeps_original_spans(text: str, value: str, matched: str) -> None:
    m = _one(text)
    assert m.value == Decimal(value)
    assert m.text == matched == text[m.start : m.end]


# --- bare numbers: only after money verbs and nouns ---------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("有人冒充客服，我按他说的转了8000到安全账户", "8000"),
        ("ATM取款2000元，钱没吐出来", "2000"),
        ("11月20号下午3点在ATM取了2000，没出钞", "2000"),
        ("手续费收了我25块", "25"),
        ("提前还款违约金收了我1800", "1800"),
        ("被扣了五百手续费", "500"),
        ("金额：2000", "2000"),
        ("一共扣了3000", "3000"),
        ("我取了500，3天后才到账", "500"),
        ("I was charged 300 for nothing", "300"),
        ("they charged me 45", "45"),
        ("a fee of 45 was taken", "45"),
        ("I lost 5,000 to a scammer", "5000"),
        ("消费了1.5k", "1500"),
        ("lost 2 grand", "2000"),
    ],
)
def test_bare_number_after_money_word(text: str, value: str) -> None:
    assert [m.value for m in find_amounts(text)] == [Decimal(value)]


@pytest.mark.parametrize(
    "text",
    [
        "我等了8000",  # no money word before it
        "客服说是2000",
        "你好 5200",
        "七十八了",
    ],
)
def test_bare_number_without_money_word_is_not_an_amount(text: str) -> None:
    assert find_amounts(text) == []


# --- numbers that are not money ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # card tails
        "尾号1234",
        "我尾号1234的卡",
        "my card ending 5678",
        "card ending in 5678",
        "卡号后四位5678",
        "卡号后四位是5678",
        # dates and times
        "11月20号",
        "2026-11-20",
        "2026.11.20",
        "2026年11月20日",
        "11/20",
        "10点",
        "10:30",
        "下午3点",
        "T+2",
        "说好T+2的",
        "五天",
        "两个小时",
        "一周",
        "一个多月",
        "周五",
        "第二次投诉",
        # counts
        "三趟",
        "三笔",
        "三遍",
        "五六张表",
        "二十几个字",
        "打了三次电话",
        "3 days",
        "five times",
        # percentages and rates
        "4.5%",
        "年化1.2%",
        "扣了5%",
        "百分之五",
        "利率4.35%",
        # ages and years
        "七十八了",
        "78岁",
        "去年",
        "2025年",
        "十年期的分红险",
        # phone, ID and card numbers
        "13912345678",
        "手机13912345678",
        "手机号 138 0013 8000",
        "+44 7700 900123",
        "6222021234567890123",
        "身份证11010519491231002X",
        "转了13912345678",  # seven or more bare digits are an ID, not a sum
        # word fragments that contain numerals
        "一直打不通",
        "我们一块去网点",
        "千万别",
        "万一出事",
        "转账页面做得简单一点",
        "十万火急",
        "3rd",
        "4G信号",
    ],
)
def test_not_an_amount(text: str) -> None:
    assert find_amounts(text) == []
    assert extract_amount(text) is None


# --- several numbers in one message ---------------------------------------------------------


def test_find_amounts_in_text_order() -> None:
    text = "转了8000到安全账户，后来又被扣了20块手续费，卡里还剩1.2万"
    assert [(m.value, m.text) for m in find_amounts(text)] == [
        (Decimal("8000"), "8000"),
        (Decimal("20"), "20块"),
        (Decimal("12000"), "1.2万"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("去年买的理财产品，说好年化4.5%，结果到期只有1.2%，亏了我两万块", "20000"),
        ("我的银行卡丢了，怎么挂失？里面还有三万多", "30000"),
        ("我爸今年七十八了，推销了一份十年期的分红险，交了五万块", "50000"),
        ("我的信用卡昨晚被人在境外刷了三笔，一共五千多块", "5000"),
        ("跨行转账 手续费收了我25块，我叫黄磊 电话13522223333", "25"),
        ("我是张伟，手机13912345678。昨天在ATM取款2000元，钱没吐出来但是卡里扣了", "2000"),
        ("尾号1234的卡被盗刷了5000元", "5000"),
        ("卡号6222021234567890，被扣了300元年费", "300"),
        ("我今年78岁了，被骗了5万块", "50000"),
        # a dispute cue beats a larger sum without one
        ("扣了我25块手续费，卡里还有3万", "25"),
        ("理财本金10万，亏了2万", "20000"),
        ("我存了10万，被扣了200手续费", "200"),
        ("贷款20万，利率4.35%，违约金3000元", "3000"),
        # several with cues: the largest
        ("转了8000到安全账户，后来又被扣了20块手续费", "8000"),
        ("被骗了5万，对方说交2000保证金就能退", "50000"),
        # no cue at all: the largest
        ("额度从5万降到了1万", "50000"),
        # English
        ("Someone charged $1,250.75 to my card ending 4321 on 11/20", "1250.75"),
        ("The early repayment fee on my car loan is 3,500 yuan, never mentioned.", "3500"),
        ("three charges I never made, about 460 USD in total. Call +44 7700 900123.", "460"),
    ],
)
def test_extract_amount_picks_the_disputed_sum(text: str, value: str) -> None:
    m = extract_amount(text)
    assert m is not None
    assert m.value == Decimal(value)
    assert text[m.start : m.end] == m.text


def test_extract_amount_currency_and_approximation() -> None:
    m = extract_amount("three charges I never made, about 460 USD in total")
    assert m is not None
    assert (m.value, m.currency, m.approximate) == (Decimal("460"), "USD", True)
    m = extract_amount("I was charged a fee of 300 HKD, and my balance is 20,000")
    assert m is not None
    assert (m.value, m.currency) == (Decimal("300"), "HKD")


@pytest.mark.parametrize(
    "text",
    [
        "你们柜员态度太差了，我在营业厅排了两个小时队",
        "想销户，跑了三趟网点，每次都说缺材料",
        "第二次投诉了！上次说好一周内回复，到现在都没人联系我",
        "基金赎回申请提交五天了钱还没到账，说好T+2的",
        "车险理赔拖了一个多月了，材料交了三遍",
        "开个户要填五六张表，签二十几个字，太麻烦了",
        "客服电话一直打不通，打了一上午都是忙音",
        "I called the hotline five times and nobody picked up",
        "Just a suggestion: your app should let me download statements as PDF.",
        "",
    ],
)
def test_extract_amount_none(text: str) -> None:
    assert extract_amount(text) is None


# --- answers to "how much?" -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "currency", "approximate"),
    [
        ("8000", "8000", "CNY", False),
        ("两万", "20000", "CNY", False),
        ("3万", "30000", "CNY", False),
        ("5200元", "5200", "CNY", False),
        ("460 USD", "460", "USD", False),
        ("about 2k", "2000", "CNY", True),
        ("一万二", "12000", "CNY", False),
        ("1.5万", "15000", "CNY", False),
        ("五千多", "5000", "CNY", True),
        ("八百", "800", "CNY", False),
        ("8000左右", "8000", "CNY", True),
        ("5000+", "5000", "CNY", True),
        ("差不多1万吧", "10000", "CNY", True),
        ("１２００", "1200", "CNY", False),
        ("一共三笔，5200", "5200", "CNY", False),
        ("11月20号扣的，2000", "2000", "CNY", False),
        ("本金5万，亏了8000", "8000", "CNY", False),
    ],
)
def test_parse_amount_answer(text: str, value: str, currency: str, approximate: bool) -> None:
    m = parse_amount_answer(text)
    assert m is not None
    assert (m.value, m.currency, m.approximate) == (Decimal(value), currency, approximate)
    assert text[m.start : m.end] == m.text


@pytest.mark.parametrize(
    "text",
    [
        "不记得了",
        "没有",
        "几千吧",
        "0",
        "三笔",
        "就一次",
        "13800138000",
        "138 0013 8000",
        "一直没到账",
        "4.5%",
        "78岁",
        "",
    ],
)
def test_parse_amount_answer_none(text: str) -> None:
    assert parse_amount_answer(text) is None


# --- robustness -----------------------------------------------------------------------------


# Pieces that exercise every branch: digits (half and full width), separators, numerals,
# units, currencies and cue words, glued together at random.
_NUMERIC_SOUP = st.lists(
    st.sampled_from(
        list("0123456789０１２３.,，。 %$¥￥€£+-/:")
        + list("零一二两三四五六七八九十百千万亿点多余几来块元钱约左右天号岁笔个")
        + ["USD", "HK$", "k", "w", "about ", "转了", "扣了", "尾号", "年化", "\n", "\u3000"]
    ),
    max_size=120,
).map("".join)


def _check(text: str) -> None:
    for found in (find_amounts(text), [extract_amount(text)], [parse_amount_answer(text)]):
        for m in found:
            if m is None:
                continue
            assert isinstance(m, AmountMatch)
            assert text[m.start : m.end] == m.text
            assert m.start < m.end
            assert m.value > 0
            assert len(m.currency) == 3 and m.currency.isupper()
    spans = [(m.start, m.end) for m in find_amounts(text)]
    assert spans == sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=4000))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None)
@given(_NUMERIC_SOUP)
def test_never_raises_on_numeral_heavy_text(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    "text",
    [
        "一" * 4000,
        "1" * 4000,
        "1," * 2000,
        "1." * 2000,
        "万" * 4000,
        "转了5" * 1300,
        "三千五" * 1300,
    ],
)
def test_pathological_input_is_fast_and_safe(text: str) -> None:
    _check(text)


def test_non_string_input() -> None:
    assert find_amounts(None) == []  # type: ignore[arg-type]
    assert extract_amount(None) is None  # type: ignore[arg-type]
    assert parse_amount_answer(12) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["再不处理我就打12378", "我要打12363投诉", "打了95588没人接"])
def test_short_hotline_numbers_are_not_amounts(text: str) -> None:
    assert find_amounts(text) == []


def test_a_sum_beside_a_hotline_number_is_still_found() -> None:
    assert extract_amount("你们再不退钱我就打12378，扣了我300").value == Decimal("300")


# --- yuan with 角/分, and sums below one yuan ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "matched"),
    [
        ("这个月莫名扣了我六十二块四", "62.4", "六十二块四"),
        ("手续费收了七块五毛", "7.5", "七块五毛"),
        ("多扣了4块8", "4.8", "4块8"),
        ("年费收了十九元九角", "19.9", "十九元九角"),
        ("扣了三块六毛五", "3.65", "三块六毛五"),
        ("扣了五块零八分", "5.08", "五块零八分"),
        ("少返了一块五", "1.5", "一块五"),
        ("又扣了九毛", "0.9", "九毛"),
        ("多收了我六角钱", "0.6", "六角钱"),
        ("每笔多扣两分钱", "0.02", "两分钱"),
        ("扣了二十块三左右", "20.3", "二十块三左右"),
    ],
)
def test_yuan_with_jiao_and_fen(text: str, value: str, matched: str) -> None:
    m = extract_amount(text)
    assert m is not None
    assert (m.value, m.currency, m.text) == (Decimal(value), "CNY", matched)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("每月扣10元一直没停", "10"),  # 一直: not a 角 digit
        ("转了500元3天才到账", "500"),
        ("收了十块一次", "10"),
        ("扣了两千元五年了", "2000"),
    ],
)
def test_digit_after_yuan_that_is_not_jiao(text: str, value: str) -> None:
    m = extract_amount(text)
    assert m is not None and m.value == Decimal(value)


@pytest.mark.parametrize(
    "text", ["五角大楼", "一毛不拔", "三角形的图标", "我们一块去网点", "五分钟后再说"]
)
def test_jiao_words_that_are_not_money(text: str) -> None:
    assert find_amounts(text) == []


# --- currencies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("在澳门被扣了250 patacas", "250", "MOP"),
        ("取了800澳门元", "800", "MOP"),
        ("刷了1200葡币", "1200", "MOP"),
        ("MOP$ 90", "90", "MOP"),
        ("扣了3000新台币", "3000", "TWD"),
        ("NT$1,500", "1500", "TWD"),
        ("650 TWD", "650", "TWD"),
        ("刷了5万韩元", "50000", "KRW"),
        ("KRW 12000", "12000", "KRW"),
        ("12,000 won", "12000", "KRW"),
        ("扣了900泰铢", "900", "THB"),
        ("THB 450", "450", "THB"),
        ("450 baht", "450", "THB"),
        ("转了60新加坡元", "60", "SGD"),
        ("SGD 75", "75", "SGD"),
        ("交了300澳元", "300", "AUD"),
        ("AUD 120", "120", "AUD"),
        ("扣了40加元", "40", "CAD"),
        ("CAD 55", "55", "CAD"),
        ("收了20瑞郎", "20", "CHF"),
        ("CHF 35", "35", "CHF"),
        ("80 Swiss francs", "80", "CHF"),
        ("刷了8000日元", "8000", "JPY"),
        ("JPY 3000", "3000", "JPY"),
        ("扣了500円", "500", "JPY"),
    ],
)
def test_more_currencies(text: str, value: str, currency: str) -> None:
    m = parse_amount_answer(text)
    assert m is not None
    assert (m.value, m.currency) == (Decimal(value), currency)
    assert text[m.start : m.end] == m.text


# --- per-item sums, totals and the sum wanted back ------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("four withdrawals of 1500 yuan each, 6000 yuan in all were taken", "6000"),
        ("two charges of 300 yuan apiece; 600 gone from my account", "600"),
        ("每笔一千五，一共被取走了六千", "6000"),
        ("刷了三笔，每笔两百，总共损失六百块", "600"),
        # The sum the customer wants back is the disputed one, beside a balance or a price.
        ("My balance was 9000 yuan and I want the 450 yuan back", "450"),
        ("卡里还有两万，把多扣的三百块退给我", "300"),
    ],
)
def test_the_total_and_the_sum_wanted_back_win(text: str, value: str) -> None:
    m = extract_amount(text)
    assert m is not None and m.value == Decimal(value), m


def test_per_item_and_wanted_back_are_marked() -> None:
    each = extract_amount("three payments of 200 yuan each")
    assert each is not None and each.per_item and each.value == Decimal("200")
    back = extract_amount("Refund the 80 yuan please")
    assert back is not None and back.wanted_back and not back.per_item
    assert not _one("I was charged 80 yuan").per_item


def test_a_bare_number_with_its_loss_is_money() -> None:
    assert _one("Six thousand gone, just like that".replace("Six thousand", "6000")).value == 6000
    assert find_amounts("I waited 3 days, gone") == []
