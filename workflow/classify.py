"""Classification of a complaint: business line, category, priority, resolution, JR/T 0169 codes.

Every domain word lives in ``workflow/data/vocab.toml`` (its header documents the entry syntax).
Each vocabulary group is compiled into one regular expression on first use and cached; the
text is matched after ``workflow.text.fold`` and lower-casing.

Decisions taken where the brief leaves room (documented here and in the data file):

* A keyword right after a negation ("我不想起诉", "没有损失", "I don't want to sue") does not
  count. So a customer who says they will *not* sue is not escalating; "不是本人操作" and
  "charges I never made" are vocabulary entries of their own and are urgent.
* "冻结" is urgent when it happens to the customer's money ("账户被冻结", "my account is
  frozen"), and a customer asking to freeze or block their card ("请冻结卡片", "please block
  my card") fears payments on it: urgent too (workflow.urgency's freeze_request rule).
* General rules (workflow/urgency.py, data/urgency.toml) catch urgency said without the
  trigger words: a payment the customer did not make, a card or phone lost, someone else
  using the card. A trigger asked about in a conditional ("if my card is stolen, can I ...",
  "如果QQ号被盗了怎么办") is a question, not an incident.
* Bare "骗" is not a scam trigger ("你们骗人说保本" is mis-selling, a product complaint);
  "被骗", "诈骗", "骗子", "冒充", "安全账户" are.
* Vulnerable by age means 60 or older (the PRC elderly-rights law's threshold). "Elderly" or
  "disabled" counts only for the customer or the person they complain for ("我是个老人家",
  "我妈坐轮椅", "my father has dementia"); a remark about old people in general ("老人家根本看不清")
  is not a vulnerability trigger.
* Money taken through unauthorised use (盗刷, "someone got into my online banking and moved
  money out") is decisive for the category: product (security), even when the customer also
  complains of slowness or asks for the card to be blocked.
* ``classify_category`` always returns a primary: with no cue at all it is ``service`` (how the
  institution handled the matter; first in the brief's precedence).
* ``regulatory``'s ``channel`` argument is honoured only when it already is a JR/T channel code
  (counter, self_service, electronic, third_party, back_office); an intake channel (wechat,
  telegram, webchat, hotline) says nothing about where the business was done and is ignored.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

from workflow import urgency
from workflow.text import fold

__all__ = [
    "BUSINESS_LINES",
    "CATEGORIES",
    "PRIORITIES",
    "Category",
    "Label",
    "announces_suggestion",
    "business_labels",
    "classify_business",
    "classify_category",
    "extract_resolution",
    "is_suggestion",
    "is_urgent",
    "parse_business_answer",
    "prioritise",
    "regulatory",
    "regulatory_keys",
]

BUSINESS_LINES = (
    "deposit",
    "debit_card",
    "credit_card",
    "loan",
    "wealth",
    "insurance",
    "payment",
    "other",
)
CATEGORIES = ("service", "process", "product")
PRIORITIES = ("urgent", "high", "normal", "low")
REGULATORY_CHANNELS = ("counter", "self_service", "electronic", "third_party", "back_office")


@dataclass(frozen=True)
class Label:
    value: str
    reasons: tuple[str, ...]  # the words in the customer's text that triggered it


@dataclass(frozen=True)
class Category:
    primary: str  # "product" | "service" | "process"
    secondary: tuple[str, ...]  # the other categories the text touches
    reasons: dict[str, tuple[str, ...]]  # per category, the trigger words


# --------------------------------------------------------------------------------------------
# Vocabulary loading and compilation
# --------------------------------------------------------------------------------------------

_CLAUSE_PUNCT = '，。！？；、,.!?;:：\n\r\t…()（）【】[]"“”'
_ASCII_WORD = re.compile(r"[a-z0-9]")
_EXTRA = str.maketrans({"\u2019": "'", "\u2018": "'"})  # curly apostrophes, same length


@dataclass(frozen=True)
class _Group:
    name: str
    weight: float
    negatable: bool
    pattern: re.Pattern[str] | None
    decisive: bool = False
    requires: re.Pattern[str] | None = None  # matches count only when this occurs too
    names: bool = False  # a match names the business line outright


@dataclass(frozen=True)
class _Hit:
    group: str
    start: int
    end: int
    word: str
    weight: float
    decisive: bool = False
    names: bool = False


@lru_cache(maxsize=1)
def _vocab() -> dict[str, Any]:
    ref = resources.files("workflow").joinpath("data/vocab.toml")
    with ref.open("rb") as fh:
        return tomllib.load(fh)


def _section(path: str) -> Mapping[str, Any]:
    node: Any = _vocab()
    for part in path.split("."):
        node = node[part]
    return node


def _literal(part: str) -> str:
    """Regex for one literal piece: spaces match whitespace, a trailing '*' extends a word."""
    out = []
    for i, word in enumerate(part.split()):
        if i:
            out.append(r"\s+")
        star = word.endswith("*") and len(word) > 1
        if star:
            word = word[:-1]
        out.append(re.escape(word))
        if star:
            out.append(r"[a-z'\-]*")
    return "".join(out)


def _entry_regex(entry: str, zh_gap: int, en_gap: int, zh_stop: str) -> tuple[int, str, str]:
    """(length, first character, regex of the rest); first is "" for a raw ``re:`` entry."""
    entry = fold(entry).strip().lower()
    if entry.startswith("re:"):
        return len(entry) - 3, "", f"(?:{entry[3:]})"
    parts = [p.strip() for p in entry.split("~") if p.strip()]
    pieces: list[str] = []
    for i, part in enumerate(parts):
        if i:
            prev = parts[i - 1]
            if _ASCII_WORD.match(prev[-1]) or _ASCII_WORD.match(part[0]):
                pieces.append(rf"(?:\s+[^\s{re.escape(_CLAUSE_PUNCT)}]+){{0,{en_gap}}}?\s+")
            else:
                pieces.append(f"[^{re.escape(_CLAUSE_PUNCT + zh_stop)}]{{0,{zh_gap}}}?")
        pieces.append(_literal(part))
    body = "".join(pieces)
    first = parts[0][0]
    rest = body[len(re.escape(first)) :]
    if _ASCII_WORD.match(first):
        # Word boundary before the entry, checked after its first character so that every
        # alternative of the group starts with a literal (lets the regex engine skip ahead).
        rest = "(?<![a-z0-9].)" + rest
    if _ASCII_WORD.match(parts[-1][-1]) or parts[-1].endswith("*"):
        rest += "(?![a-z0-9])"
    return len(entry.replace("~", "")), first, rest


def _compile(entries: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for a group: alternatives bucketed by first character, longest first."""
    m = _vocab().get("matching", {})
    zh_gap, en_gap = int(m.get("zh_gap", 6)), int(m.get("en_gap", 3))
    zh_stop = str(m.get("zh_gap_stop", ""))
    buckets: dict[str, dict[str, int]] = {}
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            continue
        length, first, rest = _entry_regex(entry, zh_gap, en_gap, zh_stop)
        bucket = buckets.setdefault(first, {})
        bucket[rest] = max(length, bucket.get(rest, 0))
    if not buckets:
        return None
    alts = []
    for first in sorted(k for k in buckets if k):
        bucket = buckets[first]
        rests = sorted(bucket, key=lambda rx: (-bucket[rx], rx))
        alts.append(re.escape(first) + "(?:" + "|".join(rests) + ")")
    raw = buckets.get("", {})
    alts.extend(sorted(raw, key=lambda rx: (-raw[rx], rx)))
    return re.compile("|".join(alts))


@lru_cache(maxsize=256)
def _group(path: str) -> _Group:
    node = _section(path)
    entries = list(node.get("zh", ())) + list(node.get("en", ()))
    return _Group(
        name=path,
        weight=float(node.get("weight", 1)),
        negatable=bool(node.get("negatable", True)),
        pattern=_compile(entries),
        decisive=bool(node.get("decisive", False)),
        requires=_compile(node.get("requires", ())) if node.get("requires") else None,
        names=bool(node.get("names", False)),
    )


def _is_group(node: Any) -> bool:
    return isinstance(node, dict) and any(isinstance(node.get(k), list) for k in ("zh", "en"))


@lru_cache(maxsize=256)
def _groups_under(path: str) -> tuple[tuple[str, tuple[_Group, ...]], ...]:
    """For each child key of ``path``: the groups it holds (itself if it is a group)."""
    out = []
    for key, node in _section(path).items():
        if not isinstance(node, dict):
            continue
        if _is_group(node):
            out.append((key, (_group(f"{path}.{key}"),)))
        else:
            subs = tuple(
                _group(f"{path}.{key}.{sub}") for sub, val in node.items() if _is_group(val)
            )
            out.append((key, subs))
    return tuple(out)


@dataclass(frozen=True)
class _Negation:
    zh: re.Pattern[str]  # a negator (plus fillers) ending the clause before a match
    zh_not: re.Pattern[str] | None  # ... unless it is one of these ("不得不")
    zh_intent: re.Pattern[str] | None  # intent negators anywhere in the last few characters
    zh_intent_window: int
    en: frozenset[str]
    en_window: int
    en_intent: re.Pattern[str] | None
    en_intent_window: int


def _alternation(words: Iterable[str]) -> str:
    return "(?:" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + ")"


@lru_cache(maxsize=1)
def _negation() -> _Negation:
    m = _vocab().get("matching", {})
    fills = m.get("zh_fillers", [])
    fill_rx = _alternation(fills) if fills else "(?!)"
    not_neg = m.get("zh_not_negation", [])
    zh_intent = m.get("zh_intent_negators", [])
    en_intent = [fold(w).lower() for w in m.get("en_intent_negators", [])]
    return _Negation(
        zh=re.compile(_alternation(m.get("zh_negators", ["不"])) + f"{fill_rx}{{0,2}}$"),
        zh_not=re.compile(_alternation(not_neg) + f"{fill_rx}{{0,2}}$") if not_neg else None,
        zh_intent=re.compile(_alternation(zh_intent)) if zh_intent else None,
        zh_intent_window=int(m.get("zh_intent_window", 10)),
        en=frozenset(m.get("en_negators", [])),
        en_window=int(m.get("en_window", 3)),
        en_intent=(
            re.compile(r"(?<![a-z'])" + _alternation(en_intent) + r"(?![a-z'])")
            if en_intent
            else None
        ),
        en_intent_window=int(m.get("en_intent_window", 7)),
    )


_EN_TOKEN = re.compile(r"[a-z']+")
_CLAUSE_SPLIT = re.compile("[" + re.escape(_CLAUSE_PUNCT) + "]")


def _negated(text: str, start: int) -> bool:
    """Whether the clause right before ``start`` negates what follows."""
    window = text[max(0, start - 60) : start]
    clause = _CLAUSE_SPLIT.split(window)[-1]
    if not clause.strip():
        return False
    neg = _negation()
    tail = clause.rstrip()[-8:]
    if neg.zh.search(tail) and not (neg.zh_not is not None and neg.zh_not.search(tail)):
        return True
    if neg.zh_intent is not None and neg.zh_intent.search(clause[-neg.zh_intent_window :]):
        return True
    words = _EN_TOKEN.findall(clause)
    if any(w in neg.en for w in words[-neg.en_window :]):
        return True
    return neg.en_intent is not None and bool(
        neg.en_intent.search(" ".join(words[-neg.en_intent_window :]))
    )


@dataclass(frozen=True)
class _Text:
    original: str
    folded: str
    aligned: bool


@lru_cache(maxsize=512)
def _prep(text: str) -> _Text:
    folded = fold(text).translate(_EXTRA).lower()
    return _Text(text, folded, len(folded) == len(text))


def _scan(group: _Group, t: _Text, label: str | None = None, factor: float = 1.0) -> list[_Hit]:
    if group.pattern is None:
        return []
    if group.requires is not None and not any(
        not _negated(t.folded, m.start()) for m in group.requires.finditer(t.folded)
    ):
        return []
    hits = []
    for m in group.pattern.finditer(t.folded):
        s, e = m.span()
        if s == e or (group.negatable and _negated(t.folded, s)):
            continue
        word = t.original[s:e] if t.aligned else t.folded[s:e]
        hits.append(
            _Hit(label or group.name, s, e, word, group.weight * factor, group.decisive,
                 group.names and factor >= 1)
        )
    return hits


def _suppress(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit lying inside a longer hit of another label ("卡" inside "信用卡").

    A hit is dropped when a hit of another label spans it and more (starts no later, ends no
    later, is longer); the hits kept stay in their order. One sweep over the hits sorted by
    start (the longest first on a tie), O(n log n): when a hit is reached, every hit that
    can contain it has been seen, and whether one of another label does is whether the
    furthest end reached by another label is at least the hit's end. The two furthest ends of
    two different labels are enough to answer that for any label.
    """
    if len(hits) < 2:
        return hits
    order = sorted(range(len(hits)), key=lambda i: (hits[i].start, -hits[i].end))
    dropped = [False] * len(hits)
    # The furthest end seen, its label, and the furthest end of any other label.
    best_end, best_group, other_end = -1, None, -1
    i = 0
    while i < len(order):
        # Hits of the same span do not contain one another: all are judged on what came
        # before them, then taken into account together.
        first = hits[order[i]]
        j = i
        while j < len(order) and (hits[order[j]].start, hits[order[j]].end) == (
            first.start,
            first.end,
        ):
            j += 1
        for k in order[i:j]:
            h = hits[k]
            reach = best_end if best_group != h.group else other_end
            dropped[k] = reach >= h.end
        for k in order[i:j]:
            h = hits[k]
            if h.group == best_group:
                best_end = max(best_end, h.end)
            elif h.end > best_end:
                best_end, best_group, other_end = h.end, h.group, best_end
            else:
                other_end = max(other_end, h.end)
        i = j
    return [h for h, out in zip(hits, dropped, strict=True) if not out]


def _words(hits: Iterable[_Hit]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for h in sorted(hits, key=lambda h: h.start):
        out.setdefault(h.word.strip(), None)
    return tuple(w for w in out if w)


def _score_labels(path: str, t: _Text, factor: float = 1.0) -> list[_Hit]:
    hits: list[_Hit] = []
    for label, groups in _groups_under(path):
        for g in groups:
            hits.extend(_scan(g, t, label, factor))
    return hits


def _best(
    hits: list[_Hit], order: tuple[str, ...] = (), order_first: bool = False
) -> tuple[str, list[_Hit]] | None:
    """The label with the highest total weight; ties by strongest hit, then by ``order`` (first
    if ``order_first``) or by earliest mention."""
    if not hits:
        return None
    by: dict[str, list[_Hit]] = {}
    for h in hits:
        by.setdefault(h.group, []).append(h)

    def key(label: str) -> tuple[float, float, int, int]:
        hs = by[label]
        rank = order.index(label) if label in order else len(order)
        first = min(h.start for h in hs)
        return (
            -sum(h.weight for h in hs),
            -max(h.weight for h in hs),
            rank if order_first else first,
            first if order_first else rank,
        )

    label = min(by, key=key)
    return label, by[label]


# --------------------------------------------------------------------------------------------
# Business line
# --------------------------------------------------------------------------------------------


def business_labels(lang: str = "zh") -> dict[str, str]:
    """The quick-reply labels of the business lines, in quick-reply order."""
    labels = _section("business.labels").get(lang) or _section("business.labels")["zh"]
    return {code: labels.get(code, code) for code in _section("business")["order"]}


def classify_business(text: str) -> Label | None:
    """The business line the text is about, or None when nothing indicates one."""
    if not isinstance(text, str) or not text.strip():
        return None
    t = _prep(text)
    hits = _discount_pretext(_suppress(_score_labels("business", t)), t)
    named = {h.group for h in hits if h.names}
    if named:
        # A line named outright ("business loan", "safe deposit box", "存折") is not outweighed
        # by feature words of other lines, however often a long account repeats them.
        hits = [h for h in hits if h.group in named]
    best = _best(hits, BUSINESS_LINES)
    if best is None:
        return None
    return Label(best[0], _words(best[1]))


_SENTENCE_END = re.compile(r"[。！？；!?;\n\r]")
_CLAUSE_END = re.compile("[" + re.escape(_CLAUSE_PUNCT) + "]")


def _pretext_spans(t: _Text) -> list[tuple[int, int]]:
    """Spans of a scammer's pretext: from a pretext cue to the end of its sentence, cut at
    the first later clause that turns back to what happened (结果, 然后, then ...)."""
    if "pretext" not in _vocab():
        return []
    cue = _group("pretext").pattern
    turn = _group("pretext.turn").pattern if "turn" in _section("pretext") else None
    if cue is None:
        return []
    text = t.folded
    spans: list[tuple[int, int]] = []
    limit = -1  # the end of the sentence of the last cue looked at
    for m in cue.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue
        if _negated(text, m.start()):
            continue
        if limit < m.end():  # a new sentence (the same one's end is not searched for again)
            stop = _SENTENCE_END.search(text, m.end())
            limit = stop.start() if stop else len(text)
        end = limit
        for sep in _CLAUSE_END.finditer(text, m.end(), limit):
            nxt = sep.end()
            while nxt < limit and text[nxt].isspace():
                nxt += 1
            if turn is not None and turn.match(text, nxt):
                end = sep.start()
                break
        spans.append((m.start(), end))
    return spans


def _discount_pretext(hits: list[_Hit], t: _Text) -> list[_Hit]:
    """Business cues inside a scammer's pretext weigh ``pretext.factor`` times as much."""
    spans = _pretext_spans(t) if hits else []
    if not spans:
        return hits
    factor = float(_section("pretext").get("factor", 0.2))
    # The spans come in order and do not overlap: only the last one starting at or before a
    # hit can hold it (a binary search, not a look at every span, for long accounts).
    starts = [s for s, _ in spans]
    out = []
    for h in hits:
        i = bisect_right(starts, h.start) - 1
        inside = i >= 0 and h.start < spans[i][1]
        out.append(replace(h, weight=h.weight * factor, names=False) if inside else h)
    return out


_ANSWER_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_FILLER_ANSWER = re.compile(
    r"^(?:是|就是|关于|我的|我要投诉的是|投诉|it's about|it is about|about|my|the|its|it's)\s*"
)


@lru_cache(maxsize=1)
def _answer_table() -> dict[str, str]:
    table: dict[str, str] = {}
    order = list(_section("business")["order"])
    for i, code in enumerate(order, start=1):
        table[str(i)] = code
        table[code] = code
        table[code.replace("_", " ")] = code
        table[code.replace("_", "")] = code
    for lang_labels in _section("business.labels").values():
        for code, label in lang_labels.items():
            key = fold(label).lower().strip()
            table[key] = code
            for piece in re.split(r"\s*/\s*", key):
                table.setdefault(piece, code)
    for code, words in _section("business.answers").items():
        for w in words:
            table[fold(w).lower().strip()] = code
    return table


def parse_business_answer(text: str) -> Label | None:
    """The business line named in the customer's answer to "which business is it about?"."""
    if not isinstance(text, str):
        return None
    key = _ANSWER_TRIM.sub("", fold(text).translate(_EXTRA).lower())
    table = _answer_table()
    for candidate in (key, _FILLER_ANSWER.sub("", key)):
        candidate = _ANSWER_TRIM.sub("", candidate)
        if candidate in table:
            return Label(table[candidate], (text.strip(),))
    return classify_business(text)


# --------------------------------------------------------------------------------------------
# Category
# --------------------------------------------------------------------------------------------


def classify_category(description: str, resolution: str = "") -> Category:
    """Primary category of the main grievance plus the other categories touched.

    Cues are weighted (data file); cues in ``resolution`` count ``resolution_factor`` times.
    The top scorer is primary, except that a category earlier in the brief's precedence
    (service, process, product) wins when its score reaches ``tie_ratio`` of the top score.
    A ``decisive`` group names the main grievance outright (money taken through unauthorised
    use): when one matches, only the categories with a decisive match compete for primary; the
    others (the slow hotline, the card block asked for) stay secondary.
    """
    cfg = _section("category")
    description = description if isinstance(description, str) else ""
    resolution = resolution if isinstance(resolution, str) else ""
    hits = _suppress(_score_labels("category", _prep(description)))
    if resolution.strip():
        factor = float(cfg.get("resolution_factor", 2.0))
        hits += _suppress(_score_labels("category", _prep(resolution), factor))
    scores: dict[str, float] = {}
    by: dict[str, list[_Hit]] = {}
    for h in hits:
        if h.group in CATEGORIES:
            scores[h.group] = scores.get(h.group, 0.0) + h.weight
            by.setdefault(h.group, []).append(h)
    reasons = {c: _words(by[c]) for c in CATEGORIES if c in by}
    if not scores:
        return Category(str(cfg.get("default", "service")), (), {})
    precedence = tuple(cfg.get("precedence", CATEGORIES))
    decisive = {h.group for h in hits if h.decisive and h.group in scores}
    candidates = decisive or set(scores)
    top = max(scores[c] for c in candidates)
    ratio = float(cfg.get("tie_ratio", 0.75))
    primary = next(
        c for c in (*precedence, *CATEGORIES) if c in candidates and scores[c] >= top * ratio
    )
    secondary = tuple(
        sorted((c for c in scores if c != primary), key=lambda c: (-scores[c], precedence.index(c)))
    )
    return Category(primary, secondary, reasons)


# --------------------------------------------------------------------------------------------
# Priority and suggestions
# --------------------------------------------------------------------------------------------


def _any_hits(path: str, t: _Text) -> list[_Hit]:
    hits: list[_Hit] = []
    for _, groups in _groups_under(path):
        for g in groups:
            hits.extend(_scan(g, t))
    return hits


def _group_hits(path: str, t: _Text) -> list[_Hit]:
    return _scan(_group(path), t)


def _to_decimal(amount: Any) -> Decimal | None:
    if amount is None or isinstance(amount, bool):
        return None
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def _suggestion_hits(t: _Text) -> list[_Hit]:
    cues = _group_hits("suggestion.cues", t)
    if not cues:
        return []
    blockers = ["suggestion.redress", "suggestion.grievance"]
    if not _group_hits("suggestion.no_loss", t):
        blockers.insert(0, "suggestion.loss")  # "没有什么损失": a deduction in passing is none
    for blocker in blockers:
        if _group_hits(blocker, t):
            return []
    return cues


# What may follow an announcement without making the suggestion: particles and punctuation.
_ANNOUNCE_REST = re.compile(
    r"[\W_]|啊|呀|吧|哈|呢|哦|嘛|的|了|啦|一下|而已|就是|吗|没了|that's all|that is all",
    re.IGNORECASE,
)


def announces_suggestion(text: str) -> bool:
    """Does the text only announce a suggestion, the suggestion itself still to come?

    "我不是来投诉的啊，就是想提个小建议", "I have a small suggestion.": every suggestion cue lies
    in an announcing phrase and nothing follows the last one. "提个建议，转账页面能不能简单点" and
    "Just a suggestion: add a dark mode" make the suggestion.
    """
    if not isinstance(text, str) or not text.strip():
        return False
    t = _prep(text)
    cues = _group_hits("suggestion.cues", t)
    announce = _group_hits("suggestion.announce", t)
    if not cues or not announce:
        return False
    if not all(any(a.start <= c.start and c.end <= a.end for a in announce) for c in cues):
        return False
    rest = t.folded[max(a.end for a in announce) :]
    return not _ANNOUNCE_REST.sub("", rest).strip()


def is_suggestion(text: str) -> bool:
    """True for a suggestion or remark with no loss, no redress request and no grievance."""
    if not isinstance(text, str) or not text.strip():
        return False
    return bool(_suggestion_hits(_prep(text)))


def is_urgent(text: str) -> bool:
    """Does the text name an urgent matter (a trigger of ``priority.urgent``, not negated,
    not asked about hypothetically, or one of the general rules of workflow.urgency)?"""
    if not isinstance(text, str) or not text.strip():
        return False
    return bool(_urgent_reasons(text, _prep(text)))


def _urgent_reasons(text: str, t: _Text) -> tuple[str, ...]:
    """The words that make the text urgent: phrase-list hits reported (not merely asked
    about), then the general rules' matches."""
    hits = [h for h in _suppress(_any_hits("priority.urgent", t))
            if not (t.aligned and urgency.asks_only(
                text, h.start, loss=h.group == "priority.urgent.lost_card"))]
    words = list(_words(hits))
    for trigger in urgency.triggers(text):
        if not any(trigger.words in w or w in trigger.words for w in words):
            words.append(trigger.words)
    return tuple(words)


def prioritise(text: str, amount_cny: Decimal | None = None) -> Label:
    """urgent > high > low > normal: the first rule that matches wins; reasons are the triggers."""
    text = text if isinstance(text, str) else ""
    t = _prep(text)
    urgent = _urgent_reasons(text, t)
    if urgent:
        return Label("urgent", urgent)
    reasons = list(_words(_suppress(_any_hits("priority.high", t))))
    cfg = _section("priority")
    amount = _to_decimal(amount_cny)
    if amount is not None and amount >= Decimal(str(cfg.get("high_amount_cny", 50000))):
        reasons.append(str(cfg.get("amount_reason", "amount>=50000")))
    if reasons:
        return Label("high", tuple(reasons))
    if amount is None or amount <= 0:
        low = _suggestion_hits(t)
        if low:
            return Label("low", _words(low))
    return Label("normal", ())


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------

_CLAUSE = re.compile(r"[^，。！？；,!?;\n\r]+[!?]?")
_SENTENCE_DOT = re.compile(r"(?<![0-9])\.(?![0-9])")
_TRIM_HEAD = re.compile(r"^[\s,，、:：;；\-]+")
_TRIM_TAIL = re.compile(r"[\s,，、;；。.:：…\u3002\uff01\uff1f]+$")


def extract_resolution(text: str) -> str | None:
    """The clause(s) where the customer says what they want, in their own characters, or None.

    The text is cut into clauses at commas and sentence ends; each clause scores its resolution
    cues (actions weigh more than request markers). Adjacent qualifying clauses form one run; the
    run with the highest score (the later one on a tie) is returned, without trailing
    separators; an English "!" or "?" typed by the customer is kept.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    cfg = _section("resolution")
    threshold = float(cfg.get("threshold", 2))
    t = _prep(text)
    groups = [g for _, gs in _groups_under("resolution") for g in gs]
    # Split on clause punctuation of the folded text (fold keeps positions).
    folded = _SENTENCE_DOT.sub("\n", t.folded)
    runs: list[tuple[float, int, int]] = []
    cur: tuple[float, int, int] | None = None
    for m in _CLAUSE.finditer(folded):
        s, e = m.span()
        clause = (
            _Text(t.original[s:e], t.folded[s:e], True)
            if t.aligned
            else _Text(t.folded[s:e], t.folded[s:e], True)
        )
        score = sum(h.weight for g in groups for h in _scan(g, clause))
        if score >= threshold:
            cur = (cur[0] + score, cur[1], e) if cur is not None else (score, s, e)
        else:
            if cur is not None:
                runs.append(cur)
            cur = None
    if cur is not None:
        runs.append(cur)
    if not runs:
        return None
    best = max(runs, key=lambda r: (r[0], r[1]))
    source = t.original if t.aligned else t.folded
    out = _TRIM_TAIL.sub("", _TRIM_HEAD.sub("", source[best[1] : best[2]]))
    return out or None


# --------------------------------------------------------------------------------------------
# Regulatory classification (JR/T 0169-2018)
# --------------------------------------------------------------------------------------------


def regulatory_keys() -> dict[str, frozenset[str]]:
    """Every key `regulatory` can give, per dimension (what a table of labels and codes for
    them must name)."""
    cfg = _section("regulatory")
    return {
        "channel": frozenset((*REGULATORY_CHANNELS, str(cfg.get("unknown_channel", "unknown")))),
        "business_type": frozenset((*(str(v) for v in cfg["business_map"].values()),
                                    *cfg.get("business_override", {}), "other")),
        "reason": frozenset((*cfg["reasons"], *(str(v) for v in cfg["fallback"].values()),
                             "other")),
    }


def regulatory(
    business: str | None, category: Category, text: str, channel: str | None
) -> dict[str, str]:
    """JR/T 0169-2018 dimensions: business type, reason and channel of the business done."""
    text = text if isinstance(text, str) else ""
    t = _prep(text)
    cfg = _section("regulatory")

    override = _best(_suppress(_score_labels("regulatory.business_override", t)))
    if business not in BUSINESS_LINES:
        found = classify_business(text)
        business = found.value if found else None
    if override is not None:
        business_type = override[0]
    else:
        business_type = str(cfg["business_map"].get(business or "other", "other"))

    reason_order = tuple(cfg["reasons"])
    reason_hit = _best(_suppress(_score_labels("regulatory.reasons", t)), reason_order, True)
    if reason_hit is not None:
        reason = reason_hit[0]
    else:
        primary = getattr(category, "primary", None)
        reason = str(cfg["fallback"].get(primary, "other"))

    if channel in REGULATORY_CHANNELS:
        business_channel = channel
    else:
        found_channel = _best(_suppress(_score_labels("regulatory.channels", t)))
        business_channel = (
            found_channel[0] if found_channel else str(cfg.get("unknown_channel", "unknown"))
        )
    return {"business_type": business_type, "reason": reason, "channel": business_channel}
