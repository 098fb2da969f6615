"""Customer-facing texts in every supported language, from data/messages.<lang>.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh", "en")


@cache
def _messages(lang: str) -> dict[str, Any]:
    name = f"messages.{lang if lang in LANGUAGES else 'zh'}.toml"
    return tomllib.loads(resources.files("workflow").joinpath("data", name).read_text("utf-8"))


def text(lang: str, key: str, **values: Any) -> str:
    """The message at dotted `key` ("ask.name"), formatted with `values`."""
    node: Any = _messages(lang)
    for part in key.split("."):
        node = node[part]
    return node.format(**values) if values else node


def label(lang: str, group: str, key: str) -> str:
    """A display label ("business", "deposit"); the key itself when there is none."""
    return _messages(lang).get(group, {}).get(key, key)
