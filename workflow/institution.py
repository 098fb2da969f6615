"""The institution's own vocabulary: its product and brand names, its branches.

A bank's customers name its products ("金葵花", "微粒贷") and branches ("江汉路支行", "the
Jianghan Road branch") in words no general rule knows. The institution lists them in a TOML
file (INTAKE_PRODUCTS_FILE; data/products.example.toml documents the shape); the shell reads
the file and hands its text to `parse_institution`, so the engine stays free of I/O.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from .classify import BUSINESS_LINES, CATEGORIES
from .text import fold

__all__ = ["Branch", "Institution", "InstitutionError", "Product", "parse_institution"]


class InstitutionError(ValueError):
    """The products file does not parse or names something unknown; says which line."""


@dataclass(frozen=True)
class Product:
    name: str
    business: str
    aliases: tuple[str, ...] = ()
    category: str | None = None


@dataclass(frozen=True)
class Branch:
    name: str
    aliases: tuple[str, ...] = ()
    code: str | None = None


_Matcher = tuple[re.Pattern[str], dict[str, Any]] | None


@dataclass(frozen=True)
class Institution:
    products: tuple[Product, ...] = ()
    branches: tuple[Branch, ...] = ()
    # One regular expression per list, built once.
    _products_rx: _Matcher = field(default=None, init=False, repr=False, compare=False)
    _branches_rx: _Matcher = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_products_rx", _compile(self.products))
        object.__setattr__(self, "_branches_rx", _compile(self.branches))

    def product_in(self, text: str) -> tuple[Product, str] | None:
        """The product the text names, and the words that named it (longest name first)."""
        return _first(self._products_rx, text)

    def branch_in(self, text: str) -> tuple[Branch, str] | None:
        """The branch the text names by its name, an alias or its code."""
        return _first(self._branches_rx, text)


def parse_institution(text: str) -> Institution:
    """The institution's vocabulary from the TOML text of a products file.

    Raises InstitutionError naming the line of the first problem: TOML that does not parse,
    a product without a name or with an unknown business line or category, a branch without
    a name.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstitutionError(f"not valid TOML: {exc}") from None
    lines = _table_lines(text)
    products = []
    for i, entry in enumerate(_tables(raw, "product")):
        where = lines.get(("product", i), 0)
        name = _text(entry, "name", where, "product")
        business = entry.get("business")
        if business not in BUSINESS_LINES:
            line = _key_line(text, where, "business")
            raise InstitutionError(
                f"line {line}: product {name!r}: unknown business line {business!r} "
                f"(one of {', '.join(BUSINESS_LINES)})")
        category = entry.get("category")
        if category is not None and category not in CATEGORIES:
            line = _key_line(text, where, "category")
            raise InstitutionError(
                f"line {line}: product {name!r}: unknown category {category!r} "
                f"(one of {', '.join(CATEGORIES)})")
        products.append(Product(name, business, _aliases(entry, where, text), category))
    branches = []
    for i, entry in enumerate(_tables(raw, "branch")):
        where = lines.get(("branch", i), 0)
        name = _text(entry, "name", where, "branch")
        code = entry.get("code")
        branches.append(Branch(name, _aliases(entry, where, text),
                               str(code) if code is not None else None))
    return Institution(tuple(products), tuple(branches))


def _tables(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = raw.get(key, [])
    if not isinstance(found, list) or not all(isinstance(t, dict) for t in found):
        raise InstitutionError(f"'{key}' must be written as [[{key}]] tables")
    return found


def _text(entry: dict[str, Any], key: str, line: int, kind: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InstitutionError(f"line {line}: a [[{kind}]] needs a {key} (a non-empty string)")
    return value.strip()


def _aliases(entry: dict[str, Any], where: int, text: str) -> tuple[str, ...]:
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip()
                                                for a in aliases):
        line = _key_line(text, where, "aliases")
        raise InstitutionError(f"line {line}: aliases must be a list of non-empty strings")
    extra = [str(entry["code"])] if entry.get("code") is not None else []
    return tuple(a.strip() for a in [*aliases, *extra])


_HEADER = re.compile(r"^\s*\[\[\s*(product|branch)\s*\]\]")


def _table_lines(text: str) -> dict[tuple[str, int], int]:
    """The line (1-based) of each [[product]] / [[branch]] header, by kind and index."""
    counts: dict[str, int] = {}
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            kind = m.group(1)
            out[(kind, counts.get(kind, 0))] = number
            counts[kind] = counts.get(kind, 0) + 1
    return out


def _key_line(text: str, header: int, key: str) -> int:
    """The line of `key = ...` in the table that starts at line `header`."""
    for number, line in enumerate(text.splitlines()[header:], header + 1):
        if _HEADER.match(line) or line.strip().startswith("["):
            break
        if re.match(rf"\s*{key}\s*=", line):
            return number
    return header


def _compile(entries: tuple[Any, ...]) -> _Matcher:
    names: dict[str, Any] = {}
    for entry in entries:
        for word in (entry.name, *entry.aliases):
            names.setdefault(fold(word).lower(), entry)
    if not names:
        return None
    alternatives = []
    for word in sorted(names, key=len, reverse=True):
        escaped = re.escape(word)
        # An English name is a whole word ("Gold" is not inside "Goldman").
        alternatives.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if word.isascii()
                            else escaped)
    return re.compile("|".join(alternatives)), names


def _first(matcher: _Matcher, text: str) -> tuple[Any, str] | None:
    if matcher is None or not isinstance(text, str):
        return None
    pattern, names = matcher
    m = pattern.search(fold(text).lower())
    if m is None:
        return None
    return names[m.group(0)], text[m.start():m.end()]
