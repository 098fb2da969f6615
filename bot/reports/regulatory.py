"""The JR/T 0169-2018 dimensions of a case (channel of the business, business type, reason):
their labels and codes from one data file (data/jrt0169.toml, or the institution's own copy,
INTAKE_REGULATORY_FILE), and an agent's correction of a case's dimensions, with its reason,
in the case's audit trail."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from workflow.classify import regulatory_keys
from workflow.extract.sensitive import find_sensitive, redact

from ..store import cases
from ..store.models import Case

# The dimension, the key in a case's `regulatory` JSON, and the column the reports group by.
DIMENSIONS = ("channel", "business_type", "reason")
COLUMNS = {"channel": "reg_channel", "business_type": "reg_business", "reason": "reg_reason"}
MAX_REASON = 2000


class BadTable(ValueError):
    """The data file is not a usable table of dimensions."""


class Invalid(ValueError):
    """A correction that cannot be made: `code` names it in the reports' catalog."""

    def __init__(self, code: str, message: str, **values: str) -> None:
        super().__init__(message)
        self.code, self.values = code, values


@dataclass(frozen=True)
class Entry:
    key: str
    code: str
    zh: str
    en: str

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Table:
    """Every dimension's entries, in the file's order, and the dimensions' titles."""

    entries: dict[str, dict[str, Entry]]
    titles: dict[str, dict[str, str]]
    source: str

    def keys(self, dimension: str) -> tuple[str, ...]:
        return tuple(self.entries[dimension])

    def entry(self, dimension: str, key: str | None) -> Entry:
        """The entry for a key; a key the file does not name shows as itself, code "?"."""
        found = self.entries[dimension].get(key or "")
        return found or Entry(key or "", "?", key or "—", key or "—")

    def title(self, dimension: str, lang: str) -> str:
        return self.titles[dimension]["zh" if lang == "zh" else "en"]

    def options(self, lang: str) -> dict[str, list[dict[str, str]]]:
        """Per dimension, the choices a form offers: key, code and label."""
        return {d: [{"key": e.key, "code": e.code, "label": e.label(lang)}
                    for e in self.entries[d].values()] for d in DIMENSIONS}


def load(path: str | None = None) -> Table:
    """The table from the institution's file, or the one shipped with the service."""
    return _load(str(Path(path).resolve()) if path else None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> Table:
    if path is None:
        raw = resources.files("bot.reports").joinpath("data/jrt0169.toml").read_text("utf-8")
        source = "bot/reports/data/jrt0169.toml"
    else:
        try:
            raw = Path(path).read_text("utf-8")
        except OSError as exc:
            raise BadTable(f"cannot read the JR/T 0169 file {path}: {exc.strerror}") from None
        source = path
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise BadTable(f"{source} is not valid TOML: {exc}") from None
    entries: dict[str, dict[str, Entry]] = {}
    titles: dict[str, dict[str, str]] = {}
    for dimension in DIMENSIONS:
        section = data.get(dimension)
        if not isinstance(section, dict):
            raise BadTable(f"{source}: no [{dimension}] table")
        titles[dimension] = {"zh": str(section.get("title_zh") or dimension),
                             "en": str(section.get("title_en") or dimension)}
        found: dict[str, Entry] = {}
        for key, value in section.items():
            if not isinstance(value, dict):
                continue
            missing = [f for f in ("code", "zh", "en") if not str(value.get(f) or "").strip()]
            if missing:
                raise BadTable(f"{source}: [{dimension}.{key}] lacks {', '.join(missing)}")
            found[key] = Entry(key, str(value["code"]), str(value["zh"]), str(value["en"]))
        if not found:
            raise BadTable(f"{source}: [{dimension}] names no entries")
        missing = sorted(regulatory_keys()[dimension] - set(found))
        if missing:  # a case could carry a key the regulator's report cannot code
            raise BadTable(f"{source}: [{dimension}] lacks {', '.join(missing)}, which the "
                           "engine gives")
        codes: dict[str, str] = {}
        for entry in found.values():
            if entry.code in codes:
                raise BadTable(f"{source}: [{dimension}] gives code {entry.code} to both "
                               f"{codes[entry.code]} and {entry.key}")
            codes[entry.code] = entry.key
        entries[dimension] = found
    return Table(entries, titles, source)


def current(case: Case) -> dict[str, str | None]:
    """The case's three dimensions as keys (None where the engine gave none)."""
    reg = case.regulatory if isinstance(case.regulatory, dict) else {}
    return {d: reg.get(d) for d in DIMENSIONS}


def correct(session: Session, case: Case, chosen: dict[str, str], reason: str, *,
            table: Table, actor: str, now: datetime) -> bool:
    """Set the case's dimensions an agent chose (keys of `table`) for a stated reason, in
    its audit trail with before and after; False when nothing changes."""
    why = (reason or "").replace("\x00", "").strip()[:MAX_REASON]
    if not why:
        raise Invalid("reason", "a correction needs its reason")
    why = redact(why, find_sensitive(why))
    for dimension, key in chosen.items():
        if dimension not in DIMENSIONS:
            raise Invalid("bad_dimension", f"{dimension!r} is not a JR/T 0169 dimension")
        if key not in table.entries[dimension]:
            raise Invalid("bad_key", f"{key!r} is not a {dimension} of the JR/T 0169 table",
                          dimension=dimension)
    before = current(case)
    after = {**before, **chosen}
    if after == before:
        return False
    reg = dict(case.regulatory) if isinstance(case.regulatory, dict) else {}
    reg.update(chosen)
    case.regulatory = reg
    for dimension, key in chosen.items():
        setattr(case, COLUMNS[dimension], key)
    case.updated_at = now
    changed = {d: after[d] for d in DIMENSIONS if after[d] != before[d]}
    cases.record(session, case, actor=actor, action="regulatory_changed",
                 before={d: before[d] for d in changed}, after={**changed, "reason": why},
                 now=now)
    return True


def for_page(table: Table, lang: str, regulatory: dict[str, Any] | None
             ) -> list[dict[str, Any]]:
    """The case page's view of its dimensions: per dimension its title, the case's key with
    code and label, and the choices a correction offers."""
    reg = regulatory if isinstance(regulatory, dict) else {}
    choices = table.options(lang)
    out = []
    for dimension in DIMENSIONS:
        entry = table.entry(dimension, reg.get(dimension))
        out.append({"dimension": dimension, "title": table.title(dimension, lang),
                    "key": reg.get(dimension), "code": entry.code, "label": entry.label(lang),
                    "options": choices[dimension]})
    return out


def labelled(table: Table, row: dict[str, Any], lang: str) -> dict[str, Any]:
    """A report row of keys with each dimension's code and label beside it."""
    out = dict(row)
    for dimension in DIMENSIONS:
        entry = table.entry(dimension, row.get(dimension))
        out[f"{dimension}_code"] = entry.code
        out[f"{dimension}_label"] = entry.label(lang)
    return out
