"""Find and mask secrets customers paste into a chat: ID-card and bank-card numbers,
passwords and one-time verification codes.

ID and card numbers are masked wherever people see them; passwords and codes are never stored
in clear. Detection runs on `fold(text)` (same length as the original), so every span is a
valid span of the customer's own text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from workflow.text import fold

Kind = Literal["id_card", "bank_card", "password", "verification_code"]

__all__ = ["Kind", "SensitiveSpan", "find_sensitive", "redact"]


@dataclass(frozen=True)
class SensitiveSpan:
    """A secret in the text: `text[start:end]` is the number or the secret value itself."""

    kind: Kind
    start: int
    end: int


# ---------------------------------------------------------------------------------------------
# Digit runs: groups of ASCII digits joined by one space or dash ("6222 0212 3456 7890").
# An ID card's last character may be X, so a group may end in X when no letter follows.
_RUN = re.compile(r"[0-9]+(?:[Xx](?![A-Za-z0-9]))?(?:[ \-][0-9]+(?:[Xx](?![A-Za-z0-9]))?)*")
_GROUP = re.compile(r"[0-9]+[Xx]?")

# GB 11643 checksum for the 18-character resident identity number.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of an ID number: the province-level division.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 91".split()
)

# A card cue lets a 16-19 digit number count as a card even when it fails Luhn (typos).
_CARD_CUE = re.compile(
    r"(卡号|银行卡|信用卡|储蓄卡|借记卡|卡|账号|帐号|账户|帐户|户号|"
    r"card\s*(?:number|no\.?|#)?|account\s*(?:number|no\.?|#)?|acct)",
    re.IGNORECASE,
)
_ID_CUE = re.compile(r"(身份证|证件号|证件|id\s*(?:card|number|no\.?))", re.IGNORECASE)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


def _is_id18(chars: str) -> bool:
    if len(chars) != 18 or not chars[:17].isdigit() or chars[17] not in "0123456789Xx":
        return False
    if chars[:2] not in _PROVINCES:
        return False
    y, m, d = int(chars[6:10]), int(chars[10:12]), int(chars[12:14])
    if not 1900 <= y <= 2100 or not _valid_date(y, m, d):
        return False
    total = sum(int(c) * w for c, w in zip(chars[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == chars[17].upper()


def _is_id15(chars: str) -> bool:
    # Pre-1999 form: 6-digit area, YYMMDD birth date, 3-digit sequence, no checksum.
    if len(chars) != 15 or not chars.isdigit() or chars[:2] not in _PROVINCES:
        return False
    return _valid_date(1900 + int(chars[6:8]), int(chars[8:10]), int(chars[10:12]))


def _cue_before(folded: str, start: int, pattern: re.Pattern[str], window: int = 12) -> bool:
    """True when `pattern` occurs just before `start`, with no other digits in between."""
    before = folded[max(0, start - window) : start]
    # Only look at the text after the last digit: a cue belongs to the nearest number.
    for i in range(len(before) - 1, -1, -1):
        if before[i].isdigit():
            before = before[i + 1 :]
            break
    return pattern.search(before) is not None


def _plausible_card_iin(digits: str) -> bool:
    # Issuer prefixes: 3 Amex/JCB/Diners, 4 Visa, 5 Mastercard, 6 UnionPay/Discover,
    # 2221-2720 Mastercard 2-series. Rules out dates and timestamps ("20261128...").
    if digits[0] in "3456":
        return True
    return digits[0] == "2" and 2221 <= int(digits[:4]) <= 2720


def _looks_like_phone(digits: str) -> bool:
    # "8613912345678": a mainland mobile written with its country code, not a card.
    return len(digits) == 13 and digits.startswith("86") and digits[2] == "1"


def _card_grouping_ok(lengths: list[int]) -> bool:
    if len(lengths) == 1:
        return True
    if lengths in ([4, 6, 5], [4, 6, 4]):  # Amex / Diners style
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _scan_numbers(folded: str) -> list[SensitiveSpan]:
    spans: list[SensitiveSpan] = []
    for run in _RUN.finditer(folded):
        rs = run.start()
        if rs > 0 and (folded[rs - 1].isascii() and folded[rs - 1].isalpha()):
            # Attached to letters ("TS20261128-0042", "No123"): a code, not a card or an ID.
            continue
        if run.end() < len(folded) and folded[run.end()].isascii() and folded[run.end()].isalpha():
            continue
        groups = [(m.start() + rs, m.end() + rs) for m in _GROUP.finditer(run.group())]
        spans.extend(_scan_groups(folded, groups))
    return spans


def _scan_groups(folded: str, groups: list[tuple[int, int]]) -> list[SensitiveSpan]:
    found: list[SensitiveSpan] = []
    i = 0
    n = len(groups)
    while i < n:
        best: SensitiveSpan | None = None
        # Longest first, so a grouped card is not split into smaller pieces.
        for j in range(min(n, i + 5) - 1, i - 1, -1):
            s, e = groups[i][0], groups[j][1]
            chunk = [folded[a:b] for a, b in groups[i : j + 1]]
            chars = "".join(chunk)
            lengths = [len(c) for c in chunk]
            kind = _classify(folded, s, chars, lengths)
            if kind is not None:
                best = SensitiveSpan(kind, s, e)
                i = j + 1
                break
        if best is None:
            i += 1
        else:
            found.append(best)
    return found


def _classify(folded: str, start: int, chars: str, lengths: list[int]) -> Kind | None:
    if len(chars) > 19 or len(chars) < 13:
        return None
    if lengths in ([18], [6, 8, 4]) and _is_id18(chars):
        return "id_card"
    if (
        lengths == [15]
        and _is_id15(chars)
        and (_cue_before(folded, start, _ID_CUE) or not _luhn_ok(chars))
    ):
        return "id_card"
    if not chars.isdigit() or not _card_grouping_ok(lengths):
        return None
    if _luhn_ok(chars) and _plausible_card_iin(chars) and not _looks_like_phone(chars):
        return "bank_card"
    # "my card number is 6222…": the cue may stand a few words before the number.
    if len(chars) >= 16 and _cue_before(folded, start, _CARD_CUE, window=20):
        return "bank_card"
    return None


# ---------------------------------------------------------------------------------------------
# Passwords and verification codes: a cue word, a short connector, then the secret value.
_CODE_CUE = (
    r"(?:短信验证码|手机验证码|动态验证码|验证码|校验码|动态码|动态密码|短信码|短信密码|随机码|"
    r"(?<![A-Za-z])(?:otp|sms\s+code|verification\s+code|security\s+code|auth(?:entication)?\s+code|"
    r"confirmation\s+code|one[- ]time\s+(?:pass)?code|one[- ]time\s+password|"
    r"(?:the|my|a|this|that)\s+code|(?<!pin\s)(?<!pin)code(?=\s*[:=]))(?![A-Za-z]))"
)
_PASSWORD_CUE = (
    r"(?:(?:取款|交易|查询|登录|登陆|支付|网银|银行卡|手机银行|卡|账户|开机)?密码|口令|"
    r"(?<![A-Za-z])(?:password|passcode|passwd|pwd|pin(?:\s*code|\s*number)?)(?![A-Za-z])|"
    r"(?<![A-Za-z])pin码)"
)
# Connector between cue and value: "是", "为", ":", "=", "is", a few Chinese words ending in
# a connector ("我设的是"), quotes and spaces. Kept short so the value belongs to the cue.
_QUOTES = "\"'“”‘’「」『』"
_GAP = (
    rf"(?P<gap>[\s,{_QUOTES}]*"
    r"(?:[\u4e00-\u9fff]{0,5}?(?:是|为|成|:|=)|(?:is|was|are|were)(?![A-Za-z])|:|=)?"
    rf"[\s:={_QUOTES}]*)"
)
_CODE_RE = re.compile(
    _CODE_CUE + _GAP + r"(?P<value>(?<![A-Za-z0-9])[0-9]{4,8})(?![A-Za-z0-9])", re.IGNORECASE
)
_PASSWORD_RE = re.compile(
    rf"(?P<cue>{_PASSWORD_CUE}){_GAP}"
    r"(?P<value>(?<![A-Za-z0-9])(?:[A-Za-z0-9!@#$%^&*_+~\-]|\.(?=[A-Za-z0-9])){3,32})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# Words in the gap that mean the number belongs to something else ("验证码发到手机是...").
_GAP_BLOCK = re.compile(r"手机|电话|号码|卡号|账号|帐号|身份证|金额|元|块|钱")


def _gap_ok(gap: str) -> bool:
    return _GAP_BLOCK.search(gap) is None


def _scan_secrets(folded: str) -> list[SensitiveSpan]:
    spans: list[SensitiveSpan] = []
    for m in _CODE_RE.finditer(folded):
        if _gap_ok(m.group("gap")):
            spans.append(SensitiveSpan("verification_code", m.start("value"), m.end("value")))
    for m in _PASSWORD_RE.finditer(folded):
        gap, value, cue = m.group("gap"), m.group("value"), m.group("cue")
        if not _gap_ok(gap):
            continue
        has_digit = any(c.isdigit() for c in value)
        explicit = any(c in gap for c in ":=" + _QUOTES)
        zh_cue = any("\u4e00" <= c <= "\u9fff" for c in cue)
        # Without a digit, only accept a value that is plainly given as one ("password: abc",
        # "密码是abcdef"); "password is wrong" is not a password.
        if has_digit or (explicit and len(value) >= 4) or (zh_cue and len(value) >= 6):
            spans.append(SensitiveSpan("password", m.start("value"), m.end("value")))
    return spans


_PRIORITY: dict[str, int] = {"id_card": 0, "bank_card": 1, "verification_code": 2, "password": 3}


def find_sensitive(text: str) -> list[SensitiveSpan]:
    """All ID-card numbers, bank-card numbers, passwords and verification codes in `text`.

    Spans do not overlap and are sorted by position. For passwords and codes the span covers
    the secret value only, not the cue word. Never raises.
    """
    if not isinstance(text, str) or not text:
        return []
    folded = fold(text)
    candidates = _scan_numbers(folded) + _scan_secrets(folded)
    candidates.sort(key=lambda s: (_PRIORITY[s.kind], s.start))
    chosen: list[SensitiveSpan] = []
    for span in candidates:
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    chosen.sort(key=lambda s: s.start)
    return chosen


def _mask_id(segment: str) -> str:
    # Keep the first 3 and last 2 characters of the number; separators stay as typed.
    positions = [i for i, c in enumerate(segment) if c.isalnum()]
    keep = set(positions[:3] + positions[-2:])
    return "".join(c if (i in keep or not c.isalnum()) else "*" for i, c in enumerate(segment))


def _mask_card(segment: str) -> str:
    positions = [i for i, c in enumerate(segment) if c.isalnum()]
    keep = set(positions[-4:])
    return "".join(c if (i in keep or not c.isalnum()) else "*" for i, c in enumerate(segment))


def redact(text: str, spans: Sequence[SensitiveSpan] | None = None) -> str:
    """Mask the secrets in `text` for display, logs and storage.

    ID card: first 3 and last 2 characters kept, the rest starred (same length). Bank card:
    all but the last 4 digits starred, separators kept. Password and verification code:
    replaced by a fixed "******" so the length of the secret leaks nothing.
    `spans` defaults to `find_sensitive(text)`; spans out of range or overlapping are skipped.
    """
    if not isinstance(text, str) or not text:
        return text if isinstance(text, str) else ""
    if spans is None:
        spans = find_sensitive(text)
    valid = sorted(
        (s for s in spans if 0 <= s.start < s.end <= len(text)), key=lambda s: (s.start, s.end)
    )
    out: list[str] = []
    pos = 0
    for span in valid:
        if span.start < pos:
            continue  # overlaps an earlier span
        out.append(text[pos : span.start])
        segment = text[span.start : span.end]
        if span.kind == "id_card":
            out.append(_mask_id(segment))
        elif span.kind == "bank_card":
            out.append(_mask_card(segment))
        else:
            out.append("******")
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
