"""Urgency as general rules over words: negated agency, possession lost, someone else using
the customer's card or account, a request to freeze it (rules in data/urgency.toml).

English words are reduced to lemmas ("made" -> make, "didn't" -> did not); Chinese is cut by
jieba. A rule is a sequence of word classes with bounded gaps, matched within a clause, with
classes that must (`with`) or must not (`unless`) occur in the same sentence. A rule matched
inside a conditional clause ("if my card was stolen, can I ...", "如果QQ号被盗了怎么办") is a
question, not an incident, unless the customer says they believe it happened.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from .segment import default_segmenter
from .text import fold, has_cjk

__all__ = ["Trigger", "asks_only", "triggers"]

# A sentence: up to its end mark (a dot inside a number, "3.15", does not end it).
_SENTENCE = re.compile(r"(?:\.(?=\d)|[^.!?;。！？；\n])+[.!?;。！？；\n]*")
_EN_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*|\d+|[£$€¥]")
_CONTRACTIONS = (
    (re.compile(r"\b(can)not\b"), r"\1 not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(\w+)'(s|re|m|ve|ll|d)\b"), r"\1 '\2"),
)
_GLUED = {"cant": "can not", "dont": "do not", "didnt": "did not", "doesnt": "does not",
          "havent": "have not", "hasnt": "has not", "isnt": "is not", "wasnt": "was not",
          "wont": "will not", "werent": "were not", "arent": "are not", "couldnt": "could not",
          "shouldnt": "should not", "wouldnt": "would not", "aint": "is not"}
_SKIP_ZH = re.compile(r"^[\s，。！？；,.!?;：:、]+$")


@dataclass(frozen=True)
class Trigger:
    """One rule that fired: its family and the customer's words that matched."""

    family: str
    words: str


@dataclass(frozen=True)
class _Rule:
    family: str
    seq: tuple[tuple[str, Any], ...]  # ("class", name) | ("word", w) | ("gap", (lo, hi))
    with_: tuple[str, ...]
    unless: tuple[str, ...]
    negated: bool  # the rule's own sequence holds a negation ("NEG", "not", "never")


@dataclass(frozen=True)
class _Lang:
    lemma: dict[str, str]
    classes: dict[str, frozenset[str]]
    rules: tuple[_Rule, ...]


@lru_cache(maxsize=1)
def _data() -> dict[str, _Lang]:
    raw = tomllib.loads(resources.files("workflow").joinpath("data", "urgency.toml")
                        .read_text("utf-8"))
    out = {}
    for lang in ("en", "zh"):
        node = raw[lang]
        lemma = {form.lower(): base for base, forms in node.get("lemma", {}).items()
                 for form in forms}
        classes = {name: frozenset(w.lower() for w in words)
                   for name, words in node["class"].items()}
        rules = []
        for r in node["rule"]:
            seq = []
            for element in r["seq"]:
                if re.fullmatch(r"\d+-\d+", element):
                    lo, hi = element.split("-")
                    seq.append(("gap", (int(lo), int(hi))))
                elif element in classes:
                    seq.append(("class", element))
                else:
                    seq.append(("word", element.lower()))
            negated = any(e in ("NEG", "NOT_ME", "not", "never", "no") for e in r["seq"])
            rules.append(_Rule(r["family"], tuple(seq), tuple(r.get("with", ())),
                               tuple(r.get("unless", ())), negated))
        out[lang] = _Lang(lemma, classes, tuple(rules))
    return out


@dataclass(frozen=True)
class _Sentence:
    begin: int
    end: int
    zh: bool
    words: tuple[tuple[str, str], ...]  # (lemma, as written)
    present: frozenset[str]  # every lemma and written form


def triggers(text: str) -> tuple[Trigger, ...]:
    """The urgency rules `text` fires, in order (none inside a hypothetical)."""
    if not isinstance(text, str) or not text.strip():
        return ()
    return _triggers(fold(text))


@lru_cache(maxsize=1024)
def _triggers(folded: str) -> tuple[Trigger, ...]:
    found: list[Trigger] = []
    sentences, everything = _analyse(folded)
    for sentence in sentences:
        lang = _data()["zh" if sentence.zh else "en"]
        words, present = list(sentence.words), sentence.present
        if_at = _conditional_start(words, lang)
        believed = bool(present & lang.classes["BELIEF"]) or _own_situation(words, if_at, lang)
        for rule in lang.rules:
            if rule.with_ and not all(_has(present, lang, c) for c in rule.with_):
                continue
            # What undoes a rule ("found it", "still waiting for delivery") may be said in
            # another sentence of the same message.
            if any(_has(everything, lang, c) for c in rule.unless):
                continue
            hit = _first_match(rule, words, lang)
            if hit is None:
                continue
            start, end = hit
            if not rule.negated and _negated(words, start, end, lang):
                continue  # "卡没丢", "I have not lost my card"
            if if_at is not None and start > if_at and not believed:
                continue  # "if my card is stolen, ..." asks; it does not report
            surface = ("" if sentence.zh else " ").join(s for _, s in words[start:end + 1])
            found.append(Trigger(rule.family, surface))
    return tuple(found)


def asks_only(text: str, start: int, loss: bool = False) -> bool:
    """Is the phrase at `start` (a phrase-list trigger) part of a question rather than a
    report: inside a conditional without a belief ("if my card is stolen ..."), or, for a
    loss (`loss`), in a message where the thing turned up or is only late in the post?"""
    folded = fold(text)
    sentences, everything = _analyse(folded)
    sentence = next((s for s in sentences if s.begin <= start < s.end), None)
    if sentence is None:
        return False
    lang = _data()["zh" if sentence.zh else "en"]
    if loss and everything & lang.classes["FOUND"]:
        return True
    if sentence.present & lang.classes["BELIEF"]:
        return False
    before = folded[sentence.begin:start]
    before_words = _zh_words(before) if sentence.zh else _en_words(before, lang)
    if_at = _conditional_start(before_words, lang)
    return if_at is not None and not _own_situation(before_words, if_at, lang)


@lru_cache(maxsize=1024)
def _analyse(folded: str) -> tuple[tuple[_Sentence, ...], frozenset[str]]:
    """The text's sentences, cut into words once, and every word of the text."""
    sentences = []
    everything: set[str] = set()
    for m in _SENTENCE.finditer(folded):
        piece = m.group(0)
        if not piece.strip():
            continue
        zh = has_cjk(piece)
        lang = _data()["zh" if zh else "en"]
        words = _zh_words(piece) if zh else _en_words(piece, lang)
        present = frozenset(w for w, _ in words) | frozenset(s for _, s in words)
        everything |= present
        sentences.append(_Sentence(m.start(), m.end(), zh, tuple(words), present))
    return tuple(sentences), frozenset(everything)


def _own_situation(words: list[tuple[str, str]], if_at: int | None, lang: _Lang) -> bool:
    """ "What should I do if my card is stolen?": asking what to do about one's own case."""
    if if_at is None:
        return False
    before = {w for w, _ in words[:if_at]}
    return bool(before & lang.classes["WHAT_TO_DO"]) and bool(before & {"do", "step", "steps"})


def _en_words(sentence: str, lang: _Lang) -> list[tuple[str, str]]:
    """(lemma, surface) of each English word; contractions opened ("didn't" -> did not)."""
    low = sentence.lower().replace("’", "'")
    for pattern, repl in _CONTRACTIONS:
        low = pattern.sub(repl, low)
    out = []
    for m in re.finditer(r"'?" + _EN_WORD.pattern, low):
        w = m.group(0)
        for part in _GLUED.get(w, w).split():  # "didnt" as typed in a hurry
            out.append((lang.lemma.get(part, part), part))
    out.append(("<end>", ""))
    return out


def _zh_words(sentence: str) -> list[tuple[str, str]]:
    cut = default_segmenter().cut(sentence)
    return [(w.lower(), w) for w in cut if w.strip() and not _SKIP_ZH.match(w)]


def _has(present: set[str], lang: _Lang, name: str) -> bool:
    words = lang.classes.get(name)
    return bool(present & words) if words is not None else name.lower() in present


def _negated(words: list[tuple[str, str]], start: int, end: int, lang: _Lang) -> bool:
    """A negation in the two words before the match, or right before its last word (a
    negation inside a relative clause, "someone I don't know used my card", is not one)."""
    neg = lang.classes["NEG"]
    return any(w in neg for w, _ in words[max(0, start - 2):start]) or (
        end > start and words[end - 1][0] in neg)


def _conditional_start(words: list[tuple[str, str]], lang: _Lang) -> int | None:
    for i, (w, _) in enumerate(words):
        if w in lang.classes["IF"]:
            return i
    return None


def _first_match(rule: _Rule, words: list[tuple[str, str]], lang: _Lang
                   ) -> tuple[int, int] | None:
    """The first match of the rule's sequence starting at any word: (first, last) index."""
    for start in range(len(words)):
        end = _match_at(rule.seq, 0, words, start, lang)
        if end is not None:
            return start, end
    return None


def _match_at(seq: tuple[tuple[str, Any], ...], k: int, words: list[tuple[str, str]],
              i: int, lang: _Lang) -> int | None:
    """Index of the last word matched for seq[k:] starting at word i, or None."""
    kind, value = seq[k]
    if kind == "gap":
        lo, hi = value
        for skip in range(lo, hi + 1):
            if i + skip >= len(words):
                break
            found = _match_at(seq, k + 1, words, i + skip, lang)
            if found is not None:
                return found
        return None
    if i >= len(words) or not _fits(kind, value, words[i][0], lang):
        return None
    if k + 1 == len(seq):
        return i
    return _match_at(seq, k + 1, words, i + 1, lang)


def _fits(kind: str, value: str, word: str, lang: _Lang) -> bool:
    if kind == "class":
        return word in lang.classes[value]
    return word == value
