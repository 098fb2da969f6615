"""Recognising the words that steer a conversation: commands, yes/no, "don't know", corrections.

The vocabulary is in data/dialogue.toml; this module only knows how to match it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .text import fold

CASE_NUMBER = re.compile(r"\b([A-Z]{2}\d{8}-\d{3,6})\b", re.IGNORECASE)
_TRIM = re.compile(r"[\s\.,!?;:~…，。！？；：、\"'“”‘’()（）【】\[\]<>《》-]+")
# Politeness and particles that do not change what a short message means.
_FILLER = re.compile(
    r"^(请|麻烦|帮我|我要|我想|我需要|给我|please|can you|could you|i want to|i'd like to"
    r"|i would like to)\s*"
    r"|(吧|了|啊|呀|呢|哦|一下|谢谢|please|thanks|thank you)$",
    re.IGNORECASE,
)
_MAX_COMMAND_LEN = 24


@dataclass(frozen=True)
class _Vocab:
    commands: dict[str, tuple[frozenset[str], tuple[str, ...]]]
    greetings: frozenset[str]
    yes: frozenset[str]
    no: frozenset[str]
    dont_know: frozenset[str]
    dont_know_phrases: tuple[str, ...]
    correction_cues: tuple[str, ...]
    correction_targets: dict[str, tuple[str, ...]]
    generic_intents: re.Pattern[str]
    money: re.Pattern[str]
    branch_suffixes: tuple[str, ...]
    branch_not_names: tuple[str, ...]


@lru_cache(maxsize=1)
def vocab() -> _Vocab:
    raw = tomllib.loads(
        resources.files("workflow").joinpath("data", "dialogue.toml").read_text("utf-8")
    )
    commands = {
        name: (frozenset(_norm(w) for w in spec["whole"]), tuple(p.lower() for p in spec["phrase"]))
        for name, spec in raw["command"].items()
    }
    money_words = sorted(raw["money"]["cues"], key=len, reverse=True)
    money = re.compile(
        "|".join(rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w) for w in money_words),
        re.IGNORECASE,
    )
    generic = sorted((g.lower() for g in raw["intent"]["generic"]), key=len, reverse=True)
    return _Vocab(
        commands=commands,
        greetings=frozenset(_norm(w) for w in raw["greeting"]["whole"]),
        yes=frozenset(_norm(w) for w in raw["confirm"]["yes"]),
        no=frozenset(_norm(w) for w in raw["confirm"]["no"]),
        dont_know=frozenset(_norm(w) for w in raw["dont_know"]["whole"]),
        dont_know_phrases=tuple(p.lower() for p in raw["dont_know"]["phrase"]),
        correction_cues=tuple(c.lower() for c in raw["correction"]["cues"]),
        correction_targets={k: tuple(v) for k, v in raw["correction"]["target"].items()},
        generic_intents=re.compile(
            "|".join(rf"\b{re.escape(g)}\b" if g.isascii() else re.escape(g) for g in generic)
        ),
        money=money,
        branch_suffixes=tuple(raw["branch"]["suffixes"]),
        branch_not_names=tuple(raw["branch"]["not_names"]),
    )


def _norm(text: str) -> str:
    """Lower-case, folded, without punctuation, spaces or politeness: for whole-message matches."""
    t = _TRIM.sub(" ", fold(text).lower()).strip()
    for _ in range(2):
        t = _FILLER.sub("", t).strip()
    return re.sub(r"\s+", " ", t)


def command(text: str) -> str | None:
    """The command a message is ("cancel", "restart", "human", "help", "start", "status")."""
    n = _norm(text)
    if not n:
        return None
    lowered = fold(text).lower()
    v = vocab()
    for name, (whole, _) in v.commands.items():
        if n in whole:
            return name
    if CASE_NUMBER.search(fold(text)) and any(p in lowered for p in v.commands["status"][1]):
        return "status"
    if len(n) > _MAX_COMMAND_LEN:
        # A long message that merely mentions "人工客服" or "agent" is a complaint, not a command.
        return None
    for name, (_, phrases) in v.commands.items():
        if any(p in lowered for p in phrases):
            return name
    return None


def case_number(text: str) -> str | None:
    m = CASE_NUMBER.search(fold(text))
    return m.group(1).upper() if m else None


def is_greeting(text: str) -> bool:
    return _norm(text) in vocab().greetings


def is_yes(text: str) -> bool:
    return _norm(text) in vocab().yes


def is_no(text: str) -> bool:
    return _norm(text) in vocab().no


def is_dont_know(text: str) -> bool:
    n = _norm(text)
    if n in vocab().dont_know:
        return True
    return len(n) <= 16 and any(p in n for p in vocab().dont_know_phrases)


def is_correction(text: str) -> bool:
    lowered = fold(text).lower()
    return any(c in lowered for c in vocab().correction_cues)


def correction_targets(text: str) -> list[str]:
    """Fields a correction names, in the order they appear."""
    lowered = fold(text).lower()
    found: list[tuple[int, str]] = []
    for slot, words in vocab().correction_targets.items():
        positions = [lowered.find(w) for w in words if w in lowered]
        if positions:
            found.append((min(positions), slot))
    return [slot for _, slot in sorted(found)]


def mentions_money(text: str) -> bool:
    return vocab().money.search(fold(text)) is not None


def strip_generic(text: str) -> str:
    """The text without "I want to complain"-style phrases, for judging if it says anything."""
    return vocab().generic_intents.sub(" ", fold(text).lower())
