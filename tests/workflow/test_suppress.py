"""classify._suppress, the sweep, against the plain all-pairs definition it replaced.

The all-pairs version below is the definition ("a hit inside a longer hit of another label is
dropped"), kept here as the reference: quadratic in the number of hits, it took most of the
time of reading a call of thousands of turns. The sweep must keep exactly the same hits, in
the same order, on real accounts (the dev set, the phrasings, the hotline corpus), on long
random texts made of the vocabulary's own words, and on random hit lists full of ties.
The same holds for the scammer's-pretext discount, whose look-up of the span a hit lies in
is a binary search now (it was a look at every span).
"""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from workflow import classify
from workflow.classify import (
    _CLAUSE_END,
    _SENTENCE_END,
    _any_hits,
    _discount_pretext,
    _group,
    _Hit,
    _negated,
    _prep,
    _pretext_spans,
    _score_labels,
    _suppress,
    _Text,
)

DATA = Path(__file__).resolve().parents[1] / "data"
DEV = Path("/work/shared/eval/dev.jsonl")
LABELLED = ("business", "category", "regulatory.business_override", "regulatory.reasons",
            "regulatory.channels")
UNLABELLED = ("priority.urgent", "priority.high")


def reference(hits: list[_Hit]) -> list[_Hit]:
    """The definition: drop a hit lying inside a longer hit of another label."""
    if len(hits) < 2:
        return hits
    keep = []
    for h in hits:
        inside = any(
            o.group != h.group
            and o.start <= h.start
            and h.end <= o.end
            and (o.end - o.start) > (h.end - h.start)
            for o in hits
        )
        if not inside:
            keep.append(h)
    return keep


def reference_pretext_spans(t: _Text) -> list[tuple[int, int]]:
    """The pretext spans as first written: the sentence's end searched for at every cue."""
    cue, turn, text = _group("pretext").pattern, _group("pretext.turn").pattern, t.folded
    assert cue is not None and turn is not None
    spans: list[tuple[int, int]] = []
    for m in cue.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue
        if _negated(text, m.start()):
            continue
        stop = _SENTENCE_END.search(text, m.end())
        limit = stop.start() if stop else len(text)
        end = limit
        for sep in _CLAUSE_END.finditer(text, m.end(), limit):
            nxt = sep.end()
            while nxt < limit and text[nxt].isspace():
                nxt += 1
            if turn.match(text, nxt):
                end = sep.start()
                break
        spans.append((m.start(), end))
    return spans


def reference_discount(hits: list[_Hit], spans: list[tuple[int, int]]) -> list[_Hit]:
    factor = float(classify._section("pretext").get("factor", 0.2))
    return [
        replace(h, weight=h.weight * factor, names=False)
        if any(s <= h.start < e for s, e in spans)
        else h
        for h in hits
    ]


def same(hits: list[_Hit]) -> None:
    want, got = reference(hits), _suppress(hits)
    assert [id(h) for h in got] == [id(h) for h in want], (want, got)


def _dialogue_texts(path: Path) -> Iterator[str]:
    if not path.exists():
        return
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        answers = [str(v) for v in d.get("answers", {}).values()]
        yield d.get("opening", "")
        yield from answers
        yield "\n".join([d.get("opening", ""), *answers])


def _decode(data: bytes) -> str:
    """The corpus is saved as phones and PCs save it: UTF-16 with a BOM, UTF-8, GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _hotline_texts() -> Iterator[str]:
    for path in sorted((DATA / "hotline").iterdir()):
        raw = _decode(path.read_bytes())
        if path.suffix == ".json":
            turns = json.loads(raw).get("turns", [])
            lines = [str(t.get("text", "")) for t in turns]
        else:
            lines = [re.sub(r"^[^:：]{1,20}[:：]", "", ln) for ln in raw.splitlines()]
        yield from lines
        yield "\n".join(lines)


def _vocabulary_words() -> list[str]:
    raw = tomllib.loads(
        resources.files("workflow").joinpath("data", "vocab.toml").read_text("utf-8")
    )
    words: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for entry in node:
                if isinstance(entry, str) and not entry.startswith("re:"):
                    words.append(entry.replace("~", "").replace("*", ""))

    walk(raw)
    return words


def _random_texts(count: int, length: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    words = _vocabulary_words()
    glue = ["", "", " ", "，", "。", "不", "没有", "被", "我的", " not ", " my ", "了", "?", "\n"]
    for _ in range(count):
        parts: list[str] = []
        while sum(map(len, parts)) < length:
            parts.append(rng.choice(words))
            parts.append(rng.choice(glue))
        yield "".join(parts)


def _texts() -> Iterator[str]:
    yield from _dialogue_texts(DEV)
    yield from _dialogue_texts(DATA / "phrasings.jsonl")
    yield from _hotline_texts()
    yield from _random_texts(120, 600, seed=1)
    yield from _random_texts(12, 4000, seed=2)


def test_the_sweep_keeps_what_the_definition_keeps_on_real_and_random_texts() -> None:
    texts = [t for t in _texts() if t.strip()]
    assert len(texts) > 300
    compared = 0
    for text in texts:
        t = _prep(text)
        for path in LABELLED:
            same(_score_labels(path, t))
            compared += 1
        for path in UNLABELLED:
            same(_any_hits(path, t))
            compared += 1
        # A description and its resolution, as classify_category adds them up.
        same(_score_labels("category", t) + _score_labels("category", t, 2.0))
    assert compared > 2000


def test_the_pretext_discount_is_what_it_was_on_real_and_random_texts() -> None:
    discounted = 0
    for text in _texts():
        t = _prep(text)
        spans = _pretext_spans(t)
        assert spans == reference_pretext_spans(t)
        hits = _suppress(_score_labels("business", t))
        got = _discount_pretext(hits, t)
        assert got == reference_discount(hits, spans)
        discounted += sum(a is not b for a, b in zip(got, hits, strict=True))
    assert discounted > 20  # the texts do put business cues inside pretexts


@pytest.mark.parametrize("seed", range(400))
def test_the_sweep_keeps_what_the_definition_keeps_on_random_hits(seed: int) -> None:
    # Few positions and labels: shared starts, shared ends, equal spans of one label and of two.
    rng = random.Random(seed)
    width = rng.choice([3, 6, 12, 40])
    hits = []
    for _ in range(rng.randrange(0, 40)):
        start = rng.randrange(width)
        end = rng.randrange(start + 1, width + 2)
        hits.append(_Hit(rng.choice("abcd"[: rng.randrange(1, 5)]), start, end, "w", 1.0))
    same(hits)
