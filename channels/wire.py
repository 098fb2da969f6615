"""Reading untrusted JSON bodies: the same answer on every database, never a crash.

`json.loads` alone lets through what breaks later: nesting deep enough to exhaust the stack
in any recursive code after it, integers of thousands of digits, NaN and Infinity (not JSON,
refused by PostgreSQL), lone surrogates (not encodable) and NUL characters (PostgreSQL text
refuses them; SQLite keeps them). `load_json` refuses the first four with a reason and
removes NUL characters, so a body means the same whatever the store is.
"""

from __future__ import annotations

import json
from typing import Any

from .base import InvalidPayload

MAX_DEPTH = 32          # real payloads (a Telegram update) nest 5-6 deep
MAX_NUMBER_CHARS = 24   # a 64-bit id has 20 digits; nothing we read needs more


class UnsafeJson(InvalidPayload):
    """Syntactically JSON, but of a shape no client of ours sends: too deep, a number too
    long or not finite, a lone surrogate. (A WebSocket closes on it, rather than answer.)"""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise UnsafeJson(f"a number has {len(text)} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise UnsafeJson(f"a number has {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise UnsafeJson(f"a number is out of range: {text}")
    return value


def _constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def load_json(body: bytes | str, what: str = "body") -> Any:
    """The JSON value of `body`, NUL characters removed; InvalidPayload with the reason for
    anything that is not plain JSON of sane shape."""
    try:
        data = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except UnsafeJson as exc:
        raise UnsafeJson(f"{what}: {exc.detail}") from None
    except RecursionError:
        raise UnsafeJson(f"{what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"{what} is not valid JSON: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"{what} is not valid UTF-8 JSON: {exc}"[:300]) from None
    return clean(data, what)


def clean(data: Any, what: str = "body") -> Any:
    """`data` with NUL characters removed from every string (keys too); InvalidPayload when it
    nests deeper than MAX_DEPTH or holds a lone surrogate. Iterative: no recursion to exhaust."""
    root: list[Any] = [data]
    # (container, key into it, value, depth): values are cleaned in place, parents first.
    stack: list[tuple[Any, Any, Any, int]] = [(root, 0, data, 1)]
    while stack:
        parent, key, value, depth = stack.pop()
        if isinstance(value, str):
            parent[key] = _text(value, what)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise UnsafeJson(f"{what} is nested too deeply (at most {MAX_DEPTH} levels)")
            if isinstance(value, dict):
                value = {_text(k, what): v for k, v in value.items()}
                parent[key] = value
                stack.extend((value, k, v, depth + 1) for k, v in value.items())
            else:
                stack.extend((value, i, v, depth + 1) for i, v in enumerate(value))
    return root[0]


def _text(value: str, what: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeJson(f"{what} holds a lone surrogate: not valid Unicode") from None
    return value
