"""Chinese and Arabic numeral parsing.

Two helpers, both total functions (they return ``None`` instead of raising):

* `parse_number` reads one *quantity* written the way customers write money: Arabic digits
  with optional thousands commas and decimals ("2000", "1,200.50"), Chinese numerals with
  place units ("两千五百", "二十五", "十"), the colloquial abbreviated tail ("三千五" = 3500,
  "一万二" = 12000), and the two mixed ("1.2万", "3万5千").
* `spoken_digits` reads a *digit string* read out one digit at a time, as phone and card
  numbers are spoken on the hotline ("幺三八零零" -> "13800").

And one text rewrite, `read_out_numbers`, for what speech recognition writes: digit strings
read out in Chinese or English words ("幺三八零零幺三八零零零", "one three nine, one two ...")
and English number words ("two thousand five hundred") become Arabic digits, so the phone,
amount and sensitive-number extractors read a transcript as they read typed text.

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
    "read_out_numbers",
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


# ---- numbers as speech recognition writes them ---------------------------------------------

_SPOKEN_CHARS = "".join(ch for ch in _SPOKEN if not ch.isascii())
# A run of digits read one by one, in groups joined by a space, hyphen or comma (a pause).
_READ_RUN = re.compile(
    rf"[0-9{_SPOKEN_CHARS}](?:[ \-,，、]{{1,2}}(?=[0-9{_SPOKEN_CHARS}])|[0-9{_SPOKEN_CHARS}])*"
)
_READ_GROUP = re.compile(r"[^ \-,，、]+|[ \-,，、]+")
_PAUSES = frozenset(",，、")
# Only used when reading digits aloud: their presence makes a short run a digit string.
_READING_FORMS = frozenset("幺洞拐勾零〇○")
_PLACE_UNITS = frozenset("十拾百佰千仟万萬亿億点第")
_SHORT_RUN_BEFORE = frozenset("号码是为:：")  # "尾号八八六六", "密码是一二三四五六"
_MIN_READ, _MIN_READ_SHORT = 7, 4
_ID_BODY = 17  # an ID number's last character may be read as X ("叉")

_EN_DIGITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
              "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_EN_DIGIT_RUN = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|double|triple)"
    r"(?:[\s,\-]+(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double|triple))+\b",
    re.IGNORECASE,
)
_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_EN_WORD = "|".join(sorted([*_EN_UNITS, *_EN_TENS, *_EN_SCALES], key=len, reverse=True))
_EN_QUANTITY = re.compile(
    rf"\b(?:(?:{_EN_WORD})|an?(?=[\s\-]+(?:hundred|thousand|million|billion)\b))"
    rf"(?:(?:[\s\-]+(?:and[\s]+)?)(?:{_EN_WORD}))*\b"
    # "twenty-first" is an ordinal (a day of the month), not twenty and a word.
    r"(?![\s\-]+(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)\b)",
    re.IGNORECASE,
)
# Single digits separated by spaces, as some recognisers write a number read out.
_SPACED_DIGITS = re.compile(r"(?<![0-9])[0-9](?: [0-9]){3,}(?![0-9])")


def read_out_numbers(text: str) -> str:
    """`text` with numbers as speech recognition writes them rewritten in Arabic digits.

    - digit strings read one digit at a time in Chinese: "幺三八零零幺三八零零零" ->
      "13800138000", with pauses between groups kept as spaces ("幺三八，零零幺三" ->
      "138 0013"); runs of 7 or more digits always, of 4 to 6 only when they use a reading
      form (幺, 零, 洞, 拐, 勾), follow 号/码/是 or precede 年 ("尾号八八六六", "二零二六年"),
      never next to a place unit ("两千零五" stays), and an ID number's final 叉 is X;
    - in English, digits read one by one ("one three nine, double eight ..."), 4 or more;
      number words with a tens or scale word ("two thousand five hundred" -> "2500");
      single digits separated by spaces ("1 3 9 1 2 ...") joined up.

    Chinese place-value numerals ("两千五百", "一万二") are left as they are: the extractors
    read them. The Chinese rewrite keeps the length of the text; the English one may not.
    Never raises.
    """
    if not isinstance(text, str) or not text:
        return text if isinstance(text, str) else ""
    out = _read_out_chinese(text)
    if any("a" <= ch <= "z" or "A" <= ch <= "Z" for ch in out):
        out = _EN_DIGIT_RUN.sub(_en_digit_run, out)
        out = _EN_QUANTITY.sub(_en_quantity, out)
        # "plus one, six oh four ..." is a country code: "+1 604 ...".
        out = _EN_PLUS.sub("+", out)
    return _SPACED_DIGITS.sub(lambda m: m.group().replace(" ", ""), out)


_EN_PLUS = re.compile(r"\bplus\s*,?\s*(?=\d[\d\s,-]{6,}\d)", re.IGNORECASE)


def _read_out_chinese(text: str) -> str:
    chars = list(text)
    for run in _READ_RUN.finditer(text):
        # Split at a pause next to a short group: "一，二" are two numbers, not a digit string.
        pieces: list[list[tuple[int, str]]] = [[]]
        parts = [(m.start() + run.start(), m.group()) for m in _READ_GROUP.finditer(run.group())]
        for k, (start, part) in enumerate(parts):
            if _PAUSES.intersection(part):
                before = parts[k - 1][1] if k else ""
                after = parts[k + 1][1] if k + 1 < len(parts) else ""
                if len(before) < 3 or len(after) < 3 or _thousands(parts):
                    pieces.append([])
                    continue
            pieces[-1].append((start, part))
        for piece in pieces:
            if piece:
                _rewrite_piece(text, chars, piece)
    return "".join(chars)


def _thousands(parts: list[tuple[int, str]]) -> bool:
    """A comma inside "1,200,000" groups thousands; it is not a pause."""
    groups = [p for _, p in parts if p[0] not in " -,，、"]
    return all(p.isascii() for p in groups) and len(groups[0]) <= 3 and all(
        len(p) == 3 for p in groups[1:]
    )


def _rewrite_piece(text: str, chars: list[str], piece: list[tuple[int, str]]) -> None:
    start = piece[0][0]
    end = piece[-1][0] + len(piece[-1][1])
    body = text[start:end]
    if not _PAUSES.intersection(body) and not any(ch in _SPOKEN_CHARS for ch in body):
        return  # already plain digits
    digits = spoken_digits("".join(" " if ch in _PAUSES else ch for ch in body))
    if digits is None:
        return
    before = text[:start].rstrip(" ")[-1:]
    after = text[end : end + 1]
    if before in _PLACE_UNITS or after in _PLACE_UNITS:
        return  # part of a place-value numeral: "两千零五"
    if len(digits) < _MIN_READ:
        short_ok = (
            _READING_FORMS.intersection(body) or before in _SHORT_RUN_BEFORE or after == "年"
        )
        if len(digits) < _MIN_READ_SHORT or not short_ok:
            return
    for i in range(start, end):
        ch = text[i]
        if ch in _PAUSES:
            chars[i] = " "
        elif not ch.isascii():
            chars[i] = _SPOKEN.get(ch, ch)
    if len(digits) == _ID_BODY and after == "叉":
        chars[end] = "X"


def _en_digit_run(m: re.Match[str]) -> str:
    words = re.findall(r"[a-z]+|,", m.group().lower())
    groups: list[str] = [""]
    repeat = 1
    for k, word in enumerate(words):
        if word == ",":
            if groups[-1]:
                groups.append("")
            continue
        if word in ("double", "triple"):
            if repeat != 1:
                return m.group()
            repeat = 2 if word == "double" else 3
            continue
        if word in ("oh", "o") and k == 0:
            return m.group()
        groups[-1] += _EN_DIGITS[word] * repeat
        repeat = 1
    if repeat != 1 or sum(len(g) for g in groups) < _MIN_READ_SHORT:
        return m.group()
    return " ".join(g for g in groups if g)


def _en_quantity(m: re.Match[str]) -> str:
    words = [w for w in re.split(r"[\s\-]+", m.group().lower()) if w and w != "and"]
    if not any(w in _EN_TENS or w in _EN_SCALES for w in words):
        return m.group()  # "five", "one two": not a quantity in words
    total = current = 0
    last = ""  # kind of the previous word: unit, teen, tens, hundred, scale
    for word in words:
        if word in ("a", "an"):
            if last:
                return m.group()
            current, last = 1, "unit"
        elif word in _EN_UNITS:
            value = _EN_UNITS[word]
            if last in ("unit", "teen") or (last == "tens" and value >= 10):
                return m.group()  # "one three", "twenty twelve": not one number
            current += value
            last = "teen" if value >= 10 else "unit"
        elif word in _EN_TENS:
            if last in ("unit", "teen", "tens"):
                return m.group()
            current += _EN_TENS[word]
            last = "tens"
        elif word == "hundred":
            if last in ("hundred", "scale") or (current % 100 == 0 and current):
                return m.group()
            current = (current or 1) * 100
            last = "hundred"
        else:
            if last == "scale":
                return m.group()
            total += (current or 1) * _EN_SCALES[word]
            current, last = 0, "scale"
    return str(total + current)
