"""The key terms of a complaint: what the reports count as hot topics and group similar
complaints by (bot/reports/topics.py).

Chinese text is cut with the engine's jieba tokenizer (with the finance dictionary) and its
words weighed by TF-IDF against jieba's own IDF table; English words by their frequency.
Phrases written many ways ("ATM 吞了我的卡", "卡被取款机吞了") first become one term, from
data/topics.toml. Deterministic: the same text always gives the same terms.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jieba

from .segment import Segmenter, default_segmenter
from .text import fold, has_cjk

MAX_TERM = 40  # characters: the store's column
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z][a-z'\-]{1,}")
_MASKED = re.compile(r"[*＊]")


@dataclass(frozen=True)
class _Vocabulary:
    per_case: int
    canonical: tuple[tuple[re.Pattern[str], str], ...]
    stop: frozenset[str]


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    data = tomllib.loads(resources.files("workflow").joinpath("data/topics.toml")
                        .read_text("utf-8"))
    canonical = tuple((re.compile(pattern), term) for term, patterns in data["canonical"].items()
                      for pattern in patterns)
    stop = frozenset(w.lower() for group in data["stop"].values() for w in group)
    return _Vocabulary(int(data.get("per_case", 5)), canonical, stop)


class KeyTerms:
    """Key terms of complaint texts; loads the IDF table on first use (about 0.3 s)."""

    def __init__(self, segmenter: Segmenter | None = None) -> None:
        self.segmenter = segmenter or default_segmenter()
        self._idf: dict[str, float] | None = None
        self._median = self._top = 0.0
        self._lock = threading.Lock()

    def _table(self) -> tuple[dict[str, float], float, float]:
        if self._idf is None:
            with self._lock:
                if self._idf is None:
                    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
                    idf: dict[str, float] = {}
                    with open(path, encoding="utf-8") as lines:
                        for line in lines:
                            word, _, value = line.rstrip("\n").partition(" ")
                            if value:
                                idf[word] = float(value)
                    values = sorted(idf.values())
                    self._median = values[len(values) // 2] if values else 1.0
                    self._top = values[-1] if values else 1.0
                    self._idf = idf
        return self._idf, self._median, self._top

    def of(self, text: str, *, exclude: tuple[str, ...] = (), limit: int | None = None
           ) -> list[str]:
        """The text's key terms, strongest first. `exclude`: words never to keep (the
        customer's name: a topic names what happened, not who)."""
        vocab = _vocabulary()
        limit = vocab.per_case if limit is None else limit
        if not isinstance(text, str) or not text.strip() or limit <= 0:
            return []
        folded = fold(text).lower()
        # Phrases first: each found counts as its term; its words are cut out of the text.
        weights: dict[str, float] = {}
        order: dict[str, int] = {}
        # A phrase of ours outweighs any word: it was written down because it names a topic.
        idf, median, top = self._table()
        for pattern, term in vocab.canonical:
            def keep(match: re.Match[str], term: str = term) -> str:
                weights[term] = weights.get(term, 0.0) + top
                order.setdefault(term, match.start())
                return " | "
            folded = pattern.sub(keep, folded)
        # A name is never a topic, nor any part of it ("欧阳娜娜" -> 欧阳, 娜娜; "Jonathan
        # Whitfield" -> jonathan, whitfield).
        names = [fold(x).lower() for x in exclude if x]
        skip = vocab.stop | {part for name in names for part in name.split()}
        if has_cjk(folded):
            words = self.segmenter.cut(folded)
        else:
            words = _WORD.findall(folded)
        position = len(folded)
        for word in words:
            word = word.strip()
            position += 1
            if not _useful(word) or word in skip or any(word in name for name in names):
                continue
            if not _CJK.search(word):
                word = _singular(word)
                if word in skip:
                    continue
            weights[word] = weights.get(word, 0.0) + idf.get(word, median)
            order.setdefault(word, position)
        ranked = sorted(weights, key=lambda w: (-weights[w], order[w], w))
        return [w[:MAX_TERM] for w in ranked[:limit]]


def _useful(word: str) -> bool:
    """A word that can name a topic: two characters or more, not a number, not masked."""
    if len(word) < 2 or _MASKED.search(word) or any(ch.isdigit() for ch in word):
        return False
    if _CJK.search(word):
        return all(_CJK.match(ch) for ch in word)
    return len(word) >= 3 and bool(_WORD.fullmatch(word))


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_default: KeyTerms | None = None
_default_lock = threading.Lock()


def default_key_terms() -> KeyTerms:
    """One shared extractor per process (its IDF table is 270k words)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = KeyTerms()
        return _default
