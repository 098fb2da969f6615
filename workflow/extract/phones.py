"""Phone numbers in customer messages, normalised to E.164.

Candidates are runs of digit groups ("138 0013 8000", "+86-139-8765-4321", "(010) 12345678");
every contiguous set of groups in a run is checked with `phonenumbers`, so a phone typed next
to an amount ("13912345678 2000元") is still found while the digits of card numbers, ID
numbers, dates, amounts and case numbers are not taken as phones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from workflow.extract.sensitive import find_sensitive
from workflow.text import fold

__all__ = ["PhoneMatch", "extract_phone", "find_phones"]


@dataclass(frozen=True)
class PhoneMatch:
    """A phone number found in text; `text == original[start:end]`."""

    e164: str  # "+8613912345678"
    text: str
    start: int
    end: int


# A run: optional "+" or "(", digit groups joined by up to 3 spaces, dashes or parentheses.
_RUN = re.compile(r"(?:\+ ?|\()?[0-9]+(?:[ \-()]{1,3}[0-9]+)*\)?")
_GROUP = re.compile(r"[0-9]+")
_MAX_GROUPS = 6  # "+86 (0)10 1234 5678" is the longest plausible grouping
_MIN_DIGITS, _MAX_DIGITS = 7, 17

# Units and currency marks that make a number an amount, not a phone.
_AMOUNT_AFTER = re.compile(
    r"\s*(?:元|块|毛|角|万|千|百|亿|美元|美金|欧元|英镑|港币|港元|日元|人民币|%|％|‰|"
    r"(?:rmb|cny|usd|hkd|eur|gbp|yuan|dollars?|pounds?|euros?|percent|k)(?![A-Za-z]))",
    re.IGNORECASE,
)
_DATE = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}[-/.][01]?[0-9][-/.][0-3]?[0-9](?![0-9])")
_AMOUNT_BEFORE = re.compile(r"(?:[¥$€£]|rmb|cny|usd|hkd|eur|gbp)\s*$", re.IGNORECASE)

# Cue words just before a number: a phone cue, or one that says the number is something else.
_PHONE_CUE = re.compile(
    r"手机号码|手机号|手机|电话号码|电话|联系方式|联系电话|号码|座机|固话|打我|联系我|致电|"
    r"mobile|phone|number|call me|tel|contact|reach me|text me|cell|whatsapp",
    re.IGNORECASE,
)
_OTHER_CUE = re.compile(
    r"卡号|账号|帐号|账户|订单|单号|流水|交易号|编号|工号|身份证|证件|案件|工单|合同|保单|快递|"
    r"qq|order|transaction|txn|reference|ref|case|card|account|acct|invoice|id",
    re.IGNORECASE,
)
# Cues that the number is the one the customer was called FROM (a scammer's, the bank's).
_FROM_CUE = re.compile(
    r"客服电话|客服热线|热线电话|官方电话|来电号码|来电显示|冒充|骗子|诈骗|陌生|来电|打来|自称|假冒|对方|客服|热线|官方|"
    r"from|scam|fraud|caller|hotline|called me|rang me",
    re.IGNORECASE,
)
_FROM_AFTER = re.compile(
    r"给我打|打给我|打来|打过来|来电|打电话给我|骗|called me|rang me|calling me", re.IGNORECASE
)
_NOT_BEFORE = re.compile(r"(?:不是|并非|而不是|旧|以前的|之前的|not|old|former)\s*[:=]?\s*$")
_MY_BEFORE = re.compile(r"我的|本人|新的|新号|my|new", re.IGNORECASE)
# Between two numbers: the customer corrects the first ("186…，不对，写错了，是 186…").
_CORRECTED = re.compile(r"写错|打错|说错|不对|错了|更正|应该是|改成|改为|其实是|\bsorry\b|"
                        r"\bi mean\b|\bi meant\b|\bcorrection\b|\bactually\b|\btypo\b|"
                        r"\bwrong\b", re.IGNORECASE)
# A number read out in Chinese digits ("一三九一二三四五六七八"; 幺 is how 1 is read aloud).
_CN_DIGITS = str.maketrans("零〇幺一二三四五六七八九", "001123456789")
_CN_DIGIT_RUN = re.compile(r"[零〇幺一二三四五六七八九]{7,}")
_SERVICE_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)
_CUE_WINDOW = 16
_THOUSANDS_AFTER = re.compile(r",[0-9]{3}(?![0-9])")


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    tainted: bool  # part of an amount, a code or an attached letter string: never a phone


def _is_ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _context_before(folded: str, start: int) -> str:
    """Up to _CUE_WINDOW characters before `start`, cut after the last digit."""
    before = folded[max(0, start - _CUE_WINDOW) : start]
    for i in range(len(before) - 1, -1, -1):
        if before[i].isdigit():
            return before[i + 1 :]
    return before


def _context_after(folded: str, end: int) -> str:
    """Up to _CUE_WINDOW characters after `end`, cut at a digit or clause punctuation."""
    after = folded[end : end + _CUE_WINDOW]
    cut = re.search(r"[0-9,.;!?。！？；\n]", after)
    return after[: cut.start()] if cut else after


def _groups_of_run(folded: str, run: re.Match[str]) -> list[_Group]:
    spans = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())]
    groups: list[_Group] = []
    for s, e in spans:
        tainted = False
        prev = folded[s - 1] if s > 0 else ""
        nxt = folded[e] if e < len(folded) else ""
        # Attached to letters ("TS20261128", "123abc") or part of a decimal ("1,200.50").
        if _is_ascii_letter(prev) or _is_ascii_letter(nxt):
            tainted = True
        if s >= 2 and prev in ".," and folded[s - 2].isdigit():
            tainted = True
        if nxt == "." and e + 1 < len(folded) and folded[e + 1].isdigit():
            tainted = True
        # A comma is a thousands separator only before exactly three digits ("1,200"); a
        # phone before "，12月1日" (a full-width comma, folded) is still a phone.
        if nxt == "," and _THOUSANDS_AFTER.match(folded, e):
            tainted = True
        if _AMOUNT_AFTER.match(folded, e) or _AMOUNT_BEFORE.search(folded[max(0, s - 5) : s]):
            tainted = True
        groups.append(_Group(s, e, tainted))
    # Dates typed with separators ("2026-11-28", "2026.11.28") are never phone digits.
    for m in _DATE.finditer(folded, run.start(), run.end()):
        groups = [
            _Group(g.start, g.end, True) if m.start() <= g.start < m.end() else g for g in groups
        ]
    # A group joined by a dash to a tainted group belongs to the same code ("TS20261128-0042").
    changed = True
    while changed:
        changed = False
        for k in range(len(groups) - 1):
            a, b = groups[k], groups[k + 1]
            if a.tainted != b.tainted and "-" in folded[a.end : b.start]:
                groups[k] = _Group(a.start, a.end, True)
                groups[k + 1] = _Group(b.start, b.end, True)
                changed = True
    return groups


def _parse(candidate: str, explicit_intl: bool, region: str) -> str | None:
    """E.164 form of `candidate`, or None when it is not a usable phone number."""
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None
    except Exception:  # a library bug must never break intake
        return None
    digits = "".join(ch for ch in candidate if ch.isdigit())
    national = str(number.national_number)
    if not explicit_intl and digits not in (
        national,
        "0" + national,
        str(number.country_code) + national,
    ):
        return None  # the library dropped or reinterpreted digits: not one clean number
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # With an explicit foreign country code trust the customer on a *possible* number
    # (e.g. UK drama range +44 7700 900xxx, which phonenumbers calls invalid).
    home = phonenumbers.country_code_for_region(region) if region else 0
    if explicit_intl and number.country_code != home and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None


def _candidates_in_run(
    folded: str, run: re.Match[str], region: str
) -> list[tuple[int, int, str, int]]:
    """(start, end, e164, digit count) of every phone made of contiguous groups of the run."""
    groups = _groups_of_run(folded, run)
    found: list[tuple[int, int, str, int]] = []
    for i in range(len(groups)):
        if groups[i].tainted:
            continue
        digits = 0
        for j in range(i, min(len(groups), i + _MAX_GROUPS)):
            if groups[j].tainted:
                break
            digits += groups[j].end - groups[j].start
            if digits > _MAX_DIGITS:
                break
            if digits < _MIN_DIGITS:
                continue
            # Keep a leading "+" or the "(" of an area code "(010) 12345678".
            start = run.start() if i == 0 else groups[i].start
            end = groups[j].end
            if folded.count("(", start, end) > folded.count(")", start, end) and folded.startswith(
                ")", end
            ):
                end += 1
            candidate = folded[start:end]
            explicit = candidate.startswith("+") or folded.startswith("00", groups[i].start)
            e164 = _parse(candidate, explicit, region)
            if e164 is not None:
                found.append((start, end, e164, digits))
    return found


def find_phones(text: str, default_region: str = "CN") -> list[PhoneMatch]:
    """All phone numbers in `text`, in order of appearance.

    Numbers without a country code are read in `default_region` (mainland mobiles -> +86).
    Bank-card and ID numbers, amounts ("2000元"), dates, order/case numbers and digits that
    are part of a longer digit run are not phones. Never raises.
    """
    if not isinstance(text, str) or not text:
        return []
    region = default_region if isinstance(default_region, str) else "CN"
    folded = _CN_DIGIT_RUN.sub(lambda m: m.group(0).translate(_CN_DIGITS), fold(text))
    secrets = find_sensitive(text)
    results: list[PhoneMatch] = []
    for run in _RUN.finditer(folded):
        candidates = _candidates_in_run(folded, run, region)
        # Most digits first, then leftmost: "0086 139 1234 5678" beats "139 1234 5678".
        candidates.sort(key=lambda c: (-c[3], c[0]))
        taken: list[tuple[int, int]] = []
        for start, end, e164, _ in candidates:
            if any(start < e and end > s for s, e in taken):
                continue
            if any(start < s.end and end > s.start for s in secrets):
                continue
            if _is_other_number(folded, start):
                continue
            taken.append((start, end))
            results.append(PhoneMatch(e164=e164, text=text[start:end], start=start, end=end))
    results.sort(key=lambda m: m.start)
    return results


def _nearest(pattern: re.Pattern[str], context: str) -> int:
    """End position of the last match of `pattern` in `context`, -1 when none."""
    last = -1
    for m in pattern.finditer(context):
        last = m.end()
    return last


def _is_other_number(folded: str, start: int) -> bool:
    # "订单号 13912345678": the nearest cue says it is an order number, not a phone.
    before = _context_before(folded, start)
    other = _nearest(_OTHER_CUE, before)
    return other >= 0 and other > _nearest(_PHONE_CUE, before)


def _score(folded: str, match: PhoneMatch, region: str) -> int:
    before = _context_before(folded, match.start)
    after = _context_after(folded, match.end)
    score = 0
    phone_at = _nearest(_PHONE_CUE, before)
    from_at = _nearest(_FROM_CUE, before)
    # The nearest cue decides: "冒充客服用021-..." is the caller's, "客服让我留手机139..." mine.
    if phone_at > from_at:
        score += 3
    elif from_at >= 0:
        score -= 5
    if _FROM_AFTER.search(after):
        score -= 5
    if _MY_BEFORE.search(before):
        score += 1
    if _NOT_BEFORE.search(before):
        score -= 4
    try:
        number_type = phonenumbers.number_type(phonenumbers.parse(match.e164, region))
    except Exception:
        number_type = PhoneNumberType.UNKNOWN
    if number_type in _SERVICE_TYPES:
        score -= 3  # 400/800 numbers are the bank's lines, not a customer's
    return score


def extract_phone(text: str) -> PhoneMatch | None:
    """The customer's own contact number in `text`, or None.

    Prefers a number introduced by a phone cue ("手机", "电话", "my number", "call me"), and
    passes over numbers the customer says they were called from, numbers they say are not
    theirs ("不是138…") and service numbers (400/800). A number the customer corrects ("186…，
    不对，是 186…") gives way to the correction. Ties go to the first number.
    """
    phones = find_phones(text)
    if not phones:
        return None
    folded = fold(text)
    best: PhoneMatch | None = None
    best_score = -1
    previous = None
    for match in phones:
        score = _score(folded, match, "CN")
        if previous is not None and _CORRECTED.search(folded, previous.end, match.start):
            score += 6  # the corrected number replaces the one before it
        previous = match
        if score > best_score:
            best, best_score = match, score
    return best if best_score >= 0 else None
