"""Text normalisation shared by every extractor.

`fold` keeps the length of the text unchanged (one character in, one out), so spans found
in the folded text are valid spans of the customer's original text.
"""

from __future__ import annotations

import re

_FULLWIDTH_OFFSET = 0xFEE0  # U+FF01..U+FF5E -> U+0021..U+007E
_TABLE = {cp: cp - _FULLWIDTH_OFFSET for cp in range(0xFF01, 0xFF5F)}
_TABLE[0x3000] = 0x20  # ideographic space
_TABLE[0x00A0] = 0x20  # no-break space
_TABLE[0x2212] = 0x2D  # minus sign
_TABLE[0x2013] = 0x2D  # en dash
_TABLE[0x2014] = 0x2D  # em dash, as typed between phone digit groups
_TABLE[0xFFE5] = 0xA5  # full-width yen/yuan sign -> ¥

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def fold(text: str) -> str:
    """Full-width ASCII, ideographic spaces and dashes to their plain forms, same length."""
    return text.translate(_TABLE)


def detect_language(text: str, default: str = "zh") -> str:
    """'zh' when the text holds Chinese characters, 'en' when it holds Latin words only."""
    if _CJK.search(text):
        return "zh"
    if _LATIN_WORD.search(text):
        return "en"
    return default


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None
