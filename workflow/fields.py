"""Every field one message yields, from all extractors at once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import classify, cues
from .extract.amounts import AmountMatch, extract_amount
from .extract.dates import DateMatch, extract_date
from .extract.names import NameMatch, extract_name
from .extract.phones import PhoneMatch, extract_phone
from .institution import Institution, Product
from .segment import Segmenter, default_segmenter
from .text import fold

_EN_BRANCH = re.compile(
    r"(?:\b(?:at|in|from|to|near|visited)\s+(?:the\s+|your\s+|our\s+)?|\b[Tt]he\s+)"
    r"((?:[A-Z][\w'-]*\s+){1,4}(?:sub-branch|branch|outlet|office))\b"
)
# One-character place words that end a street or place name ("红旗路", "解放大道", "五一广场").
_PLACE_ENDS = frozenset("路街道巷桥村镇区城园湖山门口站")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+$")
_NUMERALS = "一二三四五六七八九十两几每各某"
_SUBSTANTIVE_CJK = 6
_SUBSTANTIVE_WORDS = 4
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")

# Approximate exchange rates for priority thresholds only (the case keeps the currency named).
_TO_CNY = {
    "CNY": Decimal("1"),
    "USD": Decimal("7.2"),
    "EUR": Decimal("7.8"),
    "GBP": Decimal("9.1"),
    "HKD": Decimal("0.92"),
    "JPY": Decimal("0.048"),
}


@dataclass
class Extraction:
    name: NameMatch | None = None
    phone: PhoneMatch | None = None
    amount: AmountMatch | None = None
    date: DateMatch | None = None
    business: classify.Label | None = None
    product: Product | None = None  # one of the institution's own products, when named
    branch: str | None = None
    resolution: str | None = None
    suggestion: bool = False
    substantive: bool = False
    spans: list[tuple[int, int]] = field(default_factory=list)


def extract(text: str, now: datetime, segmenter: Segmenter | None = None,
            institution: Institution | None = None) -> Extraction:
    """All fields `text` holds on its own, with the spans they came from. The institution's
    own product and branch names (workflow.institution) win over the general rules."""
    ex = Extraction()
    ex.name = extract_name(text)
    ex.phone = extract_phone(text)
    ex.amount = extract_amount(text)
    ex.date = extract_date(text, now)
    ex.business = classify.classify_business(text)
    ex.branch = extract_branch(text, segmenter)
    if institution is not None:
        named = institution.product_in(text)
        if named is not None:
            product, words = named
            ex.business = classify.Label(product.business, (words,))
            ex.product = product
        place = institution.branch_in(text)
        if place is not None:
            ex.branch = place[0].name
    ex.resolution = classify.extract_resolution(text)
    ex.suggestion = classify.is_suggestion(text)
    ex.spans = [(m.start, m.end) for m in (ex.name, ex.phone, ex.amount, ex.date) if m is not None]
    ex.substantive = is_substantive(text, ex.spans)
    return ex


def is_substantive(text: str, spans: list[tuple[int, int]]) -> bool:
    """Does the text say what happened, beyond "I want to complain" and the fields found?

    A text says it when it is long enough (six Chinese characters, four English words once
    the fields found and "I want to complain"-style phrases are left out), or, however short,
    when what it says is urgent: "卡被盗刷了", "被人盗刷了五千元", "my card was skimmed" are a
    whole account, and the urgent trigger they name is what the case's priority is read from.
    """
    chars = list(text)
    for start, end in spans:
        chars[start:end] = [" "] * (end - start)
    masked = "".join(chars)
    rest = cues.strip_generic(masked)
    if len(_CJK_CHAR.findall(rest)) >= _SUBSTANTIVE_CJK:
        return True
    if len(_LATIN_WORD.findall(rest)) >= _SUBSTANTIVE_WORDS:
        return True
    # Only short texts get here, so the extra scan costs little. The fields found are left
    # out of it, so a name or a number alone never counts.
    return bool(_CJK_CHAR.search(rest) or _LATIN_WORD.search(rest)) and classify.is_urgent(masked)


def extract_branch(text: str, segmenter: Segmenter | None = None) -> str | None:
    """A branch, outlet or ATM location the customer names ("南山支行", "Nanshan branch")."""
    folded = fold(text)
    m = _EN_BRANCH.search(folded)
    if m:
        return m.group(1).strip()
    v = cues.vocab()
    for suffix in v.branch_suffixes:
        idx = folded.find(suffix)
        while idx > 0:
            before = _CJK_RUN.search(folded[max(0, idx - 12) : idx])
            if before:
                name = _place_before(before.group(0), segmenter, v.branch_not_names)
                if name:
                    return name + suffix
            idx = folded.find(suffix, idx + len(suffix))
    return None


def _place_before(run: str, segmenter: Segmenter | None, stop: tuple[str, ...]) -> str | None:
    tokens = (segmenter or default_segmenter()).cut(run)
    kept: list[str] = []
    for tok in reversed(tokens):
        # "三趟网点" counts visits, it does not name a branch.
        if tok in stop or len(kept) >= 2 or tok[0] in _NUMERALS:
            break
        if len(tok) < 2:
            if kept or tok not in _PLACE_ENDS:
                break
            kept.insert(0, tok)  # "路" of "红旗路": part of the name, not one of its words
            continue
        kept.insert(0, tok)
    name = "".join(kept)
    return name or None


def amount_in_cny(amount: AmountMatch | None) -> Decimal | None:
    if amount is None:
        return None
    rate = _TO_CNY.get(amount.currency)
    return amount.value * rate if rate is not None else amount.value


def extract_fields(text: str, now: datetime,
                   institution: Institution | None = None) -> dict[str, Any]:
    """The fields of `intake extract`: what the engine takes from this text alone."""
    ex = extract(text, now, institution=institution)
    cny = amount_in_cny(ex.amount)
    category = with_product_hint(classify.classify_category(text, ex.resolution or ""),
                                 ex.product.category if ex.product else None,
                                 ex.product.name if ex.product else "")
    priority = classify.prioritise(text, cny)
    return {
        "name": ex.name.name if ex.name else None,
        "phone": ex.phone.e164 if ex.phone else None,
        "business": ex.business.value if ex.business else None,
        "category": category.primary,
        "priority": priority.value,
        # A date still to come ("让我明天再来") is not when anything happened.
        "incident_time": (ex.date.date.isoformat()
                          if ex.date and ex.date.date and ex.date.date <= now.date() else None),
        "amount": _number(ex.amount.value) if ex.amount else None,
        "currency": ex.amount.currency if ex.amount else None,
        "branch": ex.branch,
    }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def with_product_hint(category: classify.Category, product_category: str | None,
                      product_name: str = "") -> classify.Category:
    """A product's usual category when nothing in the text says otherwise."""
    if product_category is None or category.reasons:
        return category
    return classify.Category(product_category, category.secondary,
                             {product_category: (product_name,)})
