"""Phone extraction: formats, full-width digits, numbers that are not phones, cue preference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.extract.phones import PhoneMatch, extract_phone, find_phones


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("13912345678", "+8613912345678"),
        ("139-8765-4321", "+8613987654321"),
        ("138 0013 8000", "+8613800138000"),
        ("手机号 138 0013 8000", "+8613800138000"),
        ("１３９１１１１２２２２", "+8613911112222"),
        ("+86 135 0000 1234", "+8613500001234"),
        ("+86-139-1234-5678", "+8613912345678"),
        ("０086 139 1234 5678", "+8613912345678"),
        ("0086 139 1234 5678", "+8613912345678"),
        ("My number is +44 7700 900123.", "+447700900123"),
        ("010-12345678", "+861012345678"),
        ("021 6123 4567", "+862161234567"),
        ("(010) 12345678", "+861012345678"),
        ("my mobile is 139 2222 3333", "+8613922223333"),
        ("我是张伟，手机13912345678。昨天取款2000元", "+8613912345678"),
        ("电话：１３９－８７６５－４３２１", "+8613987654321"),
        # A full-width comma after the phone is no thousands separator.
        ("手机13800138000，12月1日在南山支行办理存款", "+8613800138000"),
    ],
)
def test_formats(text: str, e164: str) -> None:
    match = extract_phone(text)
    assert match is not None
    assert match.e164 == e164
    assert text[match.start : match.end] == match.text


def test_uk_drama_range_is_possible_with_explicit_country_code() -> None:
    # phonenumbers calls +44 7700 900xxx invalid; an explicit + country code is enough.
    [match] = find_phones("call me on +44 7700 900123 please")
    assert match.e164 == "+447700900123"
    assert match.text == "+44 7700 900123"


@pytest.mark.parametrize(
    "text",
    [
        "6222021234567890123",  # bank card
        "卡号 6222 0212 3456 7890",  # grouped bank card
        "身份证110101199003071233",  # ID card
        "订单号13912345678",  # order number that looks like a mobile
        "交易流水 202611281234567",
        "取款2000元",
        "13912345678元",
        "¥13912345678",
        "20261128",
        "2026-11-28",
        "TS20261128-0042",
        "139123456789",  # mobile digits inside a longer run
        "913912345678",
        "1391234567",
        "12345678",
        "95588",
        "+86 12345678",
        "",
    ],
)
def test_not_phones(text: str) -> None:
    assert find_phones(text) == []
    assert extract_phone(text) is None


def test_card_phone_and_amount_in_one_message() -> None:
    text = "卡号6222021234567890123 手机 139-8765-4321 取款2000元 身份证110101199003071233"
    phones = find_phones(text)
    assert [p.e164 for p in phones] == ["+8613987654321"]
    assert phones[0].text == "139-8765-4321"


def test_grouped_card_followed_by_phone() -> None:
    text = "我的卡 6222 0212 3456 7890 13912345678"
    assert [p.e164 for p in find_phones(text)] == ["+8613912345678"]


def test_phone_next_to_amount_and_date() -> None:
    assert [p.e164 for p in find_phones("13912345678 2000元")] == ["+8613912345678"]
    assert [p.e164 for p in find_phones("2026-11-28 13912345678")] == ["+8613912345678"]


def test_several_phones_in_order() -> None:
    text = "座机010-12345678，手机13912345678"
    assert [p.e164 for p in find_phones(text)] == ["+861012345678", "+8613912345678"]


def test_prefers_cued_number_over_scammer() -> None:
    text = "有人冒充客服用 021-61234567 给我打电话，骗我转账。我的电话是13912345678"
    match = extract_phone(text)
    assert match is not None and match.e164 == "+8613912345678"


def test_only_scammer_number_is_not_the_customer() -> None:
    assert extract_phone("冒充客服用 021-61234567 给我打电话") is None


def test_hotline_is_not_the_customer() -> None:
    assert extract_phone("客服电话4008205555一直打不通") is None


def test_cue_after_other_number() -> None:
    text = "I was called from 021 6123 4567 by a scammer. Call me on 13811112222."
    match = extract_phone(text)
    assert match is not None and match.e164 == "+8613811112222"


def test_correction_prefers_the_new_number() -> None:
    text = "电话写错了，不是13812345678，是13912345678"
    match = extract_phone(text)
    assert match is not None and match.e164 == "+8613912345678"


def test_first_number_wins_a_tie() -> None:
    match = extract_phone("13912345678 or 13812345678")
    assert match == PhoneMatch("+8613912345678", "13912345678", 0, 11)


def test_default_region() -> None:
    [match] = find_phones("020 7946 0958", default_region="GB")
    assert match.e164 == "+442079460958"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4000))
def test_never_raises_and_spans_hold(text: str) -> None:
    for match in find_phones(text):
        assert text[match.start : match.end] == match.text
        assert match.e164.startswith("+")
    extract_phone(text)


_digitish = st.text(alphabet="0123456789０１２３４５６７８９ -+()元号码手机电话卡X", max_size=400)


@settings(max_examples=200, deadline=None)
@given(_digitish)
def test_digit_heavy_text(text: str) -> None:
    for match in find_phones(text):
        assert text[match.start : match.end] == match.text


@pytest.mark.parametrize(("text", "e164"), [
    ("186 1234 5678，不对，写错了，是 186 1234 5679", "+8618612345679"),
    ("手机号13912345678不对，应该是13912345670", "+8613912345670"),
    ("my number is 13912345678, sorry, I mean 13912345679", "+8613912345679"),
    # Two numbers without a correction: the first, as before.
    ("我的手机13912345678，我老婆的13812345678", "+8613912345678"),
])
def test_a_number_corrected_in_the_same_message_ends_on_the_correction(text, e164):
    assert extract_phone(text).e164 == e164


@pytest.mark.parametrize("text", ["我的电话是一三九一二三四五六七八", "手机幺三九一二三四五六七八"])
def test_a_number_read_out_in_chinese_digits_is_a_phone(text):
    match = extract_phone(text)
    assert match is not None and match.e164 == "+8613912345678"
    assert match.text == text[match.start:match.end]  # the customer's own characters
