"""Tests for workflow.numerals: place-value numerals, mixed forms and spoken digit strings."""

from __future__ import annotations

from decimal import Decimal

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.numerals import parse_number, spoken_digits, to_plain_decimal, yuan_fraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Arabic, with thousands separators and decimals
        ("2000", "2000"),
        ("1,200.50", "1200.50"),
        ("1,200,300", "1200300"),
        ("0.5", "0.5"),
        ("  88 ", "88"),
        ("１２００", "1200"),  # full-width digits
        # Chinese place-value numerals
        ("十", "10"),
        ("二十五", "25"),
        ("十五万", "150000"),
        ("两万", "20000"),
        ("五万", "50000"),
        ("两千五百", "2500"),
        ("一百零一", "101"),
        ("一千零五", "1005"),
        ("一千零五十", "1050"),
        ("一万零五百", "10500"),
        ("三千零五", "3005"),
        ("一亿二千万", "120000000"),
        ("一万亿", "1000000000000"),
        ("零", "0"),
        ("两", "2"),
        ("壹万贰仟", "12000"),  # financial (capital) numerals
        # the colloquial shortened tail
        ("三千五", "3500"),
        ("一万二", "12000"),
        ("一万二千五", "12500"),
        ("五万五", "55000"),
        ("一百一", "110"),
        ("三十五万五", "355000"),
        # mixed Arabic and Chinese units
        ("3万", "30000"),
        ("1.2万", "12000"),
        ("1.5万", "15000"),
        ("0.5万", "5000"),
        ("3万5千", "35000"),
        ("1万2", "12000"),
        ("3万500", "30500"),
        ("1万两千", "12000"),
        # decimals with 点
        ("三点五", "3.5"),
        ("十二点五", "12.5"),
        ("三点五万", "35000"),
        ("一千二百三十四点五", "1234.5"),
    ],
)
def test_parse_number_reads(text: str, expected: str) -> None:
    assert parse_number(text) == Decimal(expected)


def test_parse_number_drops_a_spurious_fraction() -> None:
    # "1.2万" is 12000, not 12000.0: callers compare and print it
    assert str(parse_number("1.2万")) == "12000"
    assert str(parse_number("1,200.50")) == "1200.50"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "五六",  # a range ("five or six"), not 56
        "一二三",  # a digit string
        "二〇二五",  # a year read digit by digit
        "零五",
        "一百零",
        "万",
        "千万",  # "by all means"
        "万一",  # "in case"
        "几千",
        "三万多",  # approximation is the extractor's business
        "1.5k",  # k is handled by the amount extractor
        "1,20",
        "1,2345",
        "2026.11.20",
        "10点五",  # a clock time
        "一万二点五",  # ambiguous
        "3万50000",
        "3万0.5",
        "三百五千",  # units out of order
        "一万一万",
        "一亿一亿",
        "-5",
        "1e5",
        "百分之五",
        "幺三八",  # spoken digits are not a quantity
        "abc",
        "1" * 100,  # too long to be one number a customer typed
    ],
)
def test_parse_number_rejects(text: str) -> None:
    assert parse_number(text) is None


def test_parse_number_rejects_non_strings() -> None:
    assert parse_number(None) is None  # type: ignore[arg-type]
    assert parse_number(1200) is None  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_parse_number_reads_back_cn2an(n: int) -> None:
    """cn2an is an independent oracle: whatever it writes in Chinese, we read back."""
    assert parse_number(cn2an.an2cn(n)) == n
    assert parse_number(cn2an.an2cn(n, "up")) == n
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_number_never_raises(text: str) -> None:
    result = parse_number(text)
    assert result is None or isinstance(result, Decimal)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="零〇一二两三四五六七八九十百千万亿点0123456789.,", max_size=30))
def test_parse_number_never_raises_on_numeral_soup(text: str) -> None:
    result = parse_number(text)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幺三八零零", "13800"),
        ("幺三九一二三四五六七八", "13912345678"),
        ("一三八", "138"),
        ("两零", "20"),
        ("洞拐", "07"),  # radio style: 洞 = 0, 拐 = 7
        ("九勾", "99"),
        ("〇", "0"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("幺38零零", "13800"),  # mixed
        ("１３８", "138"),  # full-width
    ],
)
def test_spoken_digits(text: str, expected: str) -> None:
    assert spoken_digits(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "一百", "十", "幺三八x", "三万", "1.5", "电话"])
def test_spoken_digits_rejects(text: str) -> None:
    assert spoken_digits(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_spoken_digits_never_raises(text: str) -> None:
    result = spoken_digits(text)
    assert result is None or result.isdigit()


def test_to_plain_decimal() -> None:
    assert str(to_plain_decimal(Decimal("12000.0"))) == "12000"
    assert str(to_plain_decimal(Decimal("1200.50"))) == "1200.50"
    huge = Decimal("1" * 60)
    assert to_plain_decimal(huge) == huge  # beyond the context precision: left alone


@pytest.mark.parametrize(
    ("jiao", "fen", "value"),
    [
        ("五", None, "0.5"),
        ("3", None, "0.3"),
        (None, "五", "0.05"),
        ("二", "8", "0.28"),
        ("零", "两", "0.02"),
    ],
)
def test_yuan_fraction(jiao: str | None, fen: str | None, value: str) -> None:
    assert yuan_fraction(jiao, fen) == Decimal(value)


@pytest.mark.parametrize(("jiao", "fen"), [(None, None), ("十", None), ("12", None), ("a", None)])
def test_yuan_fraction_rejects(jiao: str | None, fen: str | None) -> None:
    assert yuan_fraction(jiao, fen) is None


def test_a_spoken_country_code_becomes_a_plus() -> None:
    from workflow.numerals import read_out_numbers

    assert read_out_numbers("it's plus one, six oh four, five five five, oh one eight two") \
        == "it's +1 604 555 0182"
    assert read_out_numbers("Plus one six zero four five five five zero one eight two?") \
        == "+16045550182?"
    assert read_out_numbers("two plus two is four") == "two plus two is four"
    assert read_out_numbers("plus 20 dollars") == "plus 20 dollars"
