"""Secrets in customer messages: ID and card numbers, passwords, verification codes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.extract.sensitive import SensitiveSpan, find_sensitive, redact

ID18 = "110101199003071233"  # valid checksum
ID18_X = "11010519491231002X"  # valid checksum, ends in X
CARD = "6222021234567890123"  # 19 digits, fails Luhn: a card only because of its cue
ID18_FULLWIDTH = "１１０１０１１９９００３０７１２３３"
VISA = "4111111111111111"  # Luhn-valid test number


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_sensitive(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证{ID18}", [("id_card", ID18)]),
        (f"ID {ID18_X}", [("id_card", ID18_X)]),
        (f"证件号 {ID18_X.lower()}", [("id_card", ID18_X.lower())]),
        ("身份证 110101 19900307 1233", [("id_card", "110101 19900307 1233")]),
        (f"身份证号{ID18_FULLWIDTH}", [("id_card", ID18_FULLWIDTH)]),
        ("老身份证 110101900307123", [("id_card", "110101900307123")]),
        (VISA, [("bank_card", VISA)]),
        ("4111 1111 1111 1111", [("bank_card", "4111 1111 1111 1111")]),
        ("4111-1111-1111-1111", [("bank_card", "4111-1111-1111-1111")]),
        (f"卡号{CARD}", [("bank_card", CARD)]),
        ("card number 6222 0212 3456 7890 123", [("bank_card", "6222 0212 3456 7890 123")]),
        ("密码是123456", [("password", "123456")]),
        ("密码：abc123", [("password", "abc123")]),
        ("password is hunter2", [("password", "hunter2")]),
        ("my PIN is 1234", [("password", "1234")]),
        ("取款密码 888888", [("password", "888888")]),
        ("查询密码是 135790", [("password", "135790")]),
        ("我的密码是１２３４５６", [("password", "１２３４５６")]),
        ("密码我设的是abc888", [("password", "abc888")]),
        ("the password: secret", [("password", "secret")]),
        ("验证码是 482913", [("verification_code", "482913")]),
        ("验证码：4829", [("verification_code", "4829")]),
        ("动态码123456", [("verification_code", "123456")]),
        ("短信码 654321", [("verification_code", "654321")]),
        ("动态密码是 123456", [("verification_code", "123456")]),
        ("OTP 123456", [("verification_code", "123456")]),
        ("verification code 482913", [("verification_code", "482913")]),
        ("the code is 4829", [("verification_code", "4829")]),
    ],
)
def test_detects(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "13912345678",
        "+86 139 1234 5678",
        "8613912345678",
        "取款2000元",
        "¥1,200.50",
        "20261128",
        "2026-11-28",
        "20261128103000",
        "TS20261128-0042",
        "110101199003071234",  # bad ID checksum, not Luhn-valid as a card either
        "6222021234567890124",  # fails Luhn, no card cue
        "查询密码忘了",
        "密码错误三次",
        "password is wrong",
        "my password was reset",
        "验证码发到手机13912345678了",
        "验证码一直收不到",
        "zip code 518000",
        "",
    ],
)
def test_not_sensitive(text: str) -> None:
    assert find_sensitive(text) == []


def test_mixed_message() -> None:
    text = f"卡号{CARD}，手机13912345678，身份证{ID18}，取款2000元，验证码是4829，密码123456"
    assert kinds(text) == [
        ("bank_card", CARD),
        ("id_card", ID18),
        ("verification_code", "4829"),
        ("password", "123456"),
    ]
    assert redact(text) == (
        "卡号***************0123，手机13912345678，身份证110*************33，"
        "取款2000元，验证码是******，密码******"
    )


def test_redact_rules() -> None:
    assert redact(f"ID {ID18_X}") == "ID 110*************2X"
    assert redact("4111 1111 1111 1111") == "**** **** **** 1111"
    assert redact("身份证 110101 19900307 1233") == "身份证 110*** ******** **33"
    # Secrets become a fixed six stars, whatever their length.
    assert redact("密码是1") == "密码是1"  # too short to be taken as a password
    assert redact("password: abcdefghijkl") == "password: ******"
    assert redact("验证码 1234") == "验证码 ******"


def test_redact_keeps_id_length() -> None:
    masked = redact(ID18)
    assert len(masked) == len(ID18)
    assert masked.startswith("110") and masked.endswith("33")


def test_redact_with_explicit_spans() -> None:
    text = "abc 123456 xyz"
    assert redact(text, [SensitiveSpan("password", 4, 10)]) == "abc ****** xyz"
    assert redact(text, []) == text
    # Out-of-range and overlapping spans are ignored rather than raising.
    spans = [SensitiveSpan("password", 4, 10), SensitiveSpan("password", 5, 8)]
    assert redact(text, spans) == "abc ****** xyz"
    assert redact(text, [SensitiveSpan("bank_card", 10, 99)]) == text


def test_spans_do_not_overlap_and_are_sorted() -> None:
    text = f"卡号 {VISA} 密码 {VISA}"
    spans = find_sensitive(text)
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4000))
def test_never_raises(text: str) -> None:
    spans = find_sensitive(text)
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
    redact(text)
    redact(text, spans)


_digitish = st.text(alphabet="0123456789０１２３４５６７８９ -Xx密码验证是卡号:", max_size=400)


@settings(max_examples=200, deadline=None)
@given(_digitish)
def test_digit_heavy_text(text: str) -> None:
    spans = find_sensitive(text)
    masked = redact(text, spans)
    for span in spans:
        if span.kind in ("id_card", "bank_card"):
            segment = text[span.start : span.end]
            assert sum(c.isalnum() for c in segment) >= 13
    assert isinstance(masked, str)


def test_a_card_cue_a_few_words_before_the_number_counts() -> None:
    text = "my card number is 6222021234567890123"
    spans = find_sensitive(text)
    assert [s.kind for s in spans] == ["bank_card"]
    assert redact(text, spans).endswith("***************0123")
