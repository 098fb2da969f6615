"""Chinese and Arabic numeral parsing.

Two helpers, both total functions (they return ``None`` instead of raising):

* `parse_number` reads one *quantity* written the way customers write money: Arabic digits
  with optional thousands commas and decimals ("2000", "1,200.50"), Chinese numerals with
  place units ("两千五百", "二十五", "十"), the colloquial abbreviated tail ("三千五" = 3500,
  "一万二" = 12000), and the two mixed ("1.2万", "3万5千").
* `spoken_digits` reads a *digit string* read out one digit at a time, as phone and card
  numbers are spoken on the hotline ("幺三八零零" -> "13800").

Why not just `cn2an.cn2an(s, "smart")`? It was measured against the cases we need and does
not fit as the parser: it returns floats (so "1.2万" and "0.1" lose exactness we want in a
`Decimal`), it rejects "1,200.50" and "三点五万", and it accepts digit-by-digit strings as
place-value numbers ("五六" -> 56, "幺三八" -> 138), which for us are a count range ("five or
six forms") and a phone fragment. The test-suite still uses cn2an as an independent oracle:
`cn2an.an2cn` renders random integers in Chinese and `parse_number` must read them back.
"""

from __future__ import annotations

import re
from decimal import Decimal

from workflow.text import fold

__all__ = [
    "CN_DIGIT_CHARS",
    "CN_NUMERAL_CHARS",
    "parse_number",
    "spoken_digits",
    "to_plain_decimal",
    "yuan_fraction",
]

# Digits of place-value numerals. 幺 (one) and 洞 (zero) are deliberately absent: they are
# used only when reading digit strings aloud, never in an amount, see `spoken_digits`.
_CN_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0,
    "一": 1, "壹": 1,
    "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}  # fmt: skip
_SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_ZEROS = frozenset("零〇")

#: Every character that may appear in a Chinese place-value numeral (used by extractors to
#: find candidate runs; "点" is the decimal point and is handled separately).
CN_NUMERAL_CHARS: str = "".join(_CN_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS)
#: Characters that are Chinese digits (no place units).
CN_DIGIT_CHARS: str = "".join(_CN_DIGITS)

# An Arabic number token: either correctly grouped thousands ("1,200,000") or a plain run,
# each with an optional decimal part. A comma in any other position is not a number.
_ARABIC = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?")
_ARABIC_FULL = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
# Fractional part after 点: digits read one by one, then at most two units ("三点五万",
# "一点二亿", "二点五千万").
_CN_FRACTION = re.compile(
    "([" + CN_DIGIT_CHARS + "]+)([" + "".join(_SMALL_UNITS) + "]?[" + "".join(_BIG_UNITS) + "]?)"
)

# Digit-at-a-time reading, as used for phone and card numbers on the phone.
_SPOKEN: dict[str, str] = {
    "零": "0", "〇": "0", "洞": "0", "○": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "两": "2", "兩": "2", "贰": "2",
    "三": "3", "叁": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6",
    "七": "7", "拐": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "勾": "9", "玖": "9",
}  # fmt: skip
_SPOKEN.update({str(d): str(d) for d in range(10)})
_SPOKEN_SEPARATORS = frozenset(" -\t")

_Token = tuple[str, Decimal, bool]  # (kind, value, is_arabic)


def parse_number(s: str) -> Decimal | None:
    """The value of one number written in Arabic digits, Chinese numerals or a mix.

    Returns ``None`` when ``s`` (after trimming whitespace) is not exactly one number: no
    partial parses, no units other than Chinese place units, never an exception.
    Examples: "2000", "1,200.50", "1.2万", "两万", "三千五" (3500), "一万二" (12000),
    "两千五百", "十", "二十五", "3万", "三点五万"; but "五六", "几千", "1.5k" -> ``None``.
    """
    if not isinstance(s, str):
        return None
    text = fold(s).strip()
    if not text or len(text) > 64:  # nothing a customer types as one number is longer
        return None
    try:
        value = _parse(text)
        return None if value is None else to_plain_decimal(value)
    except (ArithmeticError, ValueError):  # Decimal overflow or similar: not a number to us
        return None


def spoken_digits(s: str) -> str | None:
    """The digit string of a number read digit by digit ("幺三八零零" -> "13800").

    幺/一 = 1, 两/二 = 2, 拐 = 7, 勾 = 9, 零/〇/洞 = 0 (radio and hotline usage); Arabic digits
    pass through and spaces or hyphens between groups are ignored. Returns ``None`` unless
    every other character is a digit, so place-value numerals ("一百") are rejected.
    """
    if not isinstance(s, str):
        return None
    out: list[str] = []
    for ch in fold(s).strip():
        digit = _SPOKEN.get(ch)
        if digit is not None:
            out.append(digit)
        elif ch not in _SPOKEN_SEPARATORS:
            return None
    return "".join(out) or None


def yuan_fraction(jiao: str | None = None, fen: str | None = None) -> Decimal | None:
    """The part of a yuan spoken as a 角 (毛) digit and a 分 digit: ("五", None) -> 0.5.

    "八十六块三" is 86.3 and "三块五毛二" 3.52: after 块/元 the next digit counts tenths (角,
    colloquially 毛) and the one after that hundredths (分). Each argument is one Chinese
    or Arabic digit, or ``None`` for none; returns ``None`` unless every given argument is
    one digit (0-9) and at least one is given.
    """
    out = Decimal(0)
    given = False
    for digit, scale in ((jiao, Decimal("0.1")), (fen, Decimal("0.01"))):
        if digit is None:
            continue
        if not isinstance(digit, str) or len(fold(digit).strip()) != 1:
            return None
        ch = fold(digit).strip()
        value = int(ch) if "0" <= ch <= "9" else _CN_DIGITS.get(ch)
        if value is None:
            return None
        out += value * scale
        given = True
    return out if given else None


def _parse(text: str) -> Decimal | None:
    if _ARABIC_FULL.fullmatch(text):  # the common case, fast path
        return Decimal(text.replace(",", ""))
    if "点" in text:
        return _parse_cn_decimal(text)
    return _parse_integer_part(text, allow_abbreviation=True)


def _parse_cn_decimal(text: str) -> Decimal | None:
    """Decimals with 点: "三点五" = 3.5, "十二点五" = 12.5, "三点五万" = 35000.

    The fraction is read digit by digit; at most one small and one big unit may follow it.
    """
    head, _, tail = text.partition("点")
    if not head or "点" in tail or any(c.isascii() for c in head):
        return None  # "10点五" is a clock time, not 10.5
    integer = _parse_integer_part(head, allow_abbreviation=False)
    frac = _CN_FRACTION.fullmatch(tail)
    if integer is None or frac is None:
        return None
    digits, units = frac.groups()
    value = integer + Decimal("0." + "".join(str(_CN_DIGITS[c]) for c in digits))
    for unit in units:
        value *= _SMALL_UNITS.get(unit) or _BIG_UNITS[unit]
    return value


def _tokenize(text: str) -> list[_Token] | None:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if "0" <= ch <= "9":
            m = _ARABIC.match(text, i)
            if m is None:  # cannot happen: a digit always starts a match
                return None
            tokens.append(("num", Decimal(m.group().replace(",", "")), True))
            i = m.end()
            continue
        if ch in _ZEROS:
            tokens.append(("zero", Decimal(0), False))
        elif ch in _CN_DIGITS:
            tokens.append(("num", Decimal(_CN_DIGITS[ch]), False))
        elif ch in _SMALL_UNITS:
            tokens.append(("small", Decimal(_SMALL_UNITS[ch]), False))
        elif ch in _BIG_UNITS:
            tokens.append(("big", Decimal(_BIG_UNITS[ch]), False))
        else:
            return None
        i += 1
    return tokens


def _parse_integer_part(text: str, *, allow_abbreviation: bool) -> Decimal | None:
    """Place-value parse of Chinese (or mixed) numerals.

    Groups: `total` holds whole 亿 groups, `wan` the 万 group inside the current 亿 group,
    `section` the part below 万, `pending` a digit not yet multiplied by a unit. A digit left
    pending right after a unit with no 零 in between is the colloquial shortened tail:
    "三千五" means 3500 and "一万二" 12000, so it is scaled by a tenth of that unit.
    """
    tokens = _tokenize(text)
    if not tokens:
        return None
    if all(kind == "zero" for kind, _, _ in tokens):
        return Decimal(0) if len(tokens) == 1 else None
    if tokens[0][0] == "zero":
        return None  # "零五" is a digit string, not a number

    total = wan = section = Decimal(0)
    pending: Decimal | None = None
    pending_arabic = False
    last_unit: Decimal | None = None  # the most recent unit, small or big
    last_small: Decimal | None = None  # small units must fall within a section: 千 > 百 > 十
    zero_gap = False  # a 零 since the last unit: "一千零五" is 1005, no shortened tail
    seen_wan = seen_yi = False

    for kind, value, arabic in tokens:
        if kind == "zero":
            if pending is not None:
                return None  # "二〇": digits read one by one
            zero_gap = True
        elif kind == "num":
            if pending is not None:
                return None  # "五六": two digits in a row are a range or a digit string
            pending, pending_arabic = value, arabic
        elif kind == "small":
            if pending is None:
                # Only 十 may stand without a multiplier, and only at the head of a section
                # ("十", "十五", "十万").
                if value != 10 or section or last_small is not None:
                    return None
                pending = Decimal(1)
            if last_small is not None and value >= last_small:
                return None
            section += pending * value
            pending, last_small, last_unit, zero_gap = None, value, value, False
        else:  # big unit
            block = section + (pending or 0)
            if value == 10**4:
                if seen_wan or not block:
                    return None
                wan, seen_wan = block * value, True
            else:
                if seen_yi or not (block or wan):
                    return None
                total = (total + wan + block) * value
                wan, seen_wan, seen_yi = Decimal(0), False, True
            section, pending, last_small, last_unit, zero_gap = Decimal(0), None, None, value, False

    if zero_gap and pending is None:
        return None  # "一百零": a dangling 零
    if pending is not None and last_unit is not None and not zero_gap:
        if not allow_abbreviation and last_unit != 10:
            return None  # before 点 only the exact reading is allowed: "十二点五"
        if pending != pending.to_integral_value():
            return None  # "3万0.5"
        if pending < 10:
            pending *= last_unit / 10  # the shortened tail: 一万二 = 12000
        elif not (pending_arabic and pending < last_unit):
            return None  # "3万500" is 30500, but "3万50000" is nonsense
    elif pending is not None and last_unit is not None and pending >= last_unit / 10:
        return None  # after 零 the digit must be below the next place: "一千零五十" is fine
    return total + wan + section + (pending or 0)


def to_plain_decimal(value: Decimal) -> Decimal:
    """``Decimal("12000.0")`` -> ``Decimal("12000")``: integral values without a fraction.

    Keeps a genuine fraction as written ("1200.50" stays "1200.50"). Never raises.
    """
    try:
        if value == value.to_integral_value():
            return value.quantize(Decimal(1))
    except (ArithmeticError, ValueError):  # beyond the context's precision: leave it be
        pass
    return value
