"""Hostile request bodies for the channel fuzzers: JSON and XML built as raw bytes.

A hostile value is a *fragment*: the raw bytes that stand where a JSON value (or the text of an
XML element) goes. Fragments need not be valid JSON, UTF-8 or XML: a NUL byte, a lone surrogate
escape, a number of thousands of digits or ``NaN`` are exactly what the service must survive.
``render_json`` places one in an otherwise valid message, so everything around it is reached.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

# A card number in the text: the masking code runs on every message that carries it.
CARD_TEXT = "我的借记卡6222021234567890123昨天被人盗刷了5000元，请尽快处理"
_HOLE = "\u0001hole\u0001"
_HOLE_JSON = json.dumps(_HOLE).encode()

# ---------------------------------------------------------------- shapes


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    """``{"a": {"a": ... 1 ...}}`` nested ``depth`` deep."""
    return b'{"a":' * depth + b"1" + b"}" * depth


def long_string(length: int, char: str = "x") -> bytes:
    return json.dumps(char * length, ensure_ascii=False).encode()


def digits(count: int, sign: str = "") -> bytes:
    return (sign + "9" * count).encode()


# Raw JSON values that stand in for one field. Each name says what it is.
JSON_FRAGMENTS: Mapping[str, bytes] = {
    "nul_escaped": b'"a\\u0000b"',
    "nul_only": b'"\\u0000"',
    "nul_raw": b'"a\x00b"',
    "lone_high_surrogate": b'"a\\ud800b"',
    "invalid_utf8": b'"a\xff\xfe\xc3b"',
    "long_200": long_string(200),
    "long_1000_cjk": long_string(1000, "投"),
    "long_100000": long_string(100_000),
    "digits_5000": digits(5000),
    "digits_5000_negative": digits(5000, "-"),
    "int64_overflow": b"9223372036854775808",
    "float_overflow": b"1e999999",
    "float_5000_digits": b"0." + b"1" * 5000,
    "nan": b"NaN",
    "infinity": b"Infinity",
    "negative_infinity": b"-Infinity",
    "null": b"null",
    "true": b"true",
    "negative": b"-1",
    "float": b"1.5",
    "empty_string": b'""',
    "digit_string": b'"12345"',
    "array": b'[1, "a", null]',
    "object": b'{"a": "b"}',
    "deep_array_3000": deep_array(3000),
    "deep_object_1000": deep_object(1000),
}

# Whole bodies, whatever the endpoint (each below the default 64 KiB limit unless named so).
WHOLE_BODIES: Mapping[str, bytes] = {
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "not_json": b"{oops",
    "truncated": b'{"a": "b',
    "invalid_utf8": b"\xff\xfe\xfd\xfc",
    "utf16_bom": '{"a": "b"}'.encode("utf-16"),
    "nul_bytes": b"\x00" * 64,
    "null": b"null",
    "true": b"true",
    "number": b"1",
    "string": b'"hello"',
    "array": b"[]",
    "nan": b"NaN",
    "infinity": b"Infinity",
    "digits_5000": digits(5000),
    "digits_20000": digits(20_000),
    "deep_array_10000": deep_array(10_000),
    "deep_object_10000": deep_object(10_000),
    "deep_array_990": deep_array(990),
    "xml": b"<xml><a>1</a></xml>",
    "over_limit_70000": b'{"pad": "' + b"x" * 70_000 + b'"}',
}


# ---------------------------------------------------------------- placing fragments


def get_path(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def render_json(template: Any, path: tuple[str | int, ...] | None = None,
                fragment: bytes | None = None) -> bytes:
    """``template`` as JSON bytes, with the value at ``path`` replaced by the raw ``fragment``
    (a path whose last key is missing adds that key)."""
    if path is None or fragment is None:
        return json.dumps(template, ensure_ascii=False).encode()
    data = copy.deepcopy(template)
    parent = get_path(data, path[:-1])
    parent[path[-1]] = _HOLE
    text = json.dumps(data, ensure_ascii=False).encode()
    assert text.count(_HOLE_JSON) == 1
    return text.replace(_HOLE_JSON, fragment)


def string_paths(template: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a string or number leaf of ``template``."""
    if isinstance(template, dict):
        items: list[tuple[str | int, Any]] = list(template.items())
    elif isinstance(template, list):
        items = list(enumerate(template))
    else:
        return [prefix]
    paths: list[tuple[str | int, ...]] = []
    for key, value in items:
        paths.extend(string_paths(value, (*prefix, key)))
    return paths


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


# ---------------------------------------------------------------- XML (WeChat)


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: Mapping[str, bytes | str], extra: bytes = b"") -> bytes:
    """``<xml>`` with one element per field: str values are put in CDATA, bytes go in raw."""
    parts = [b"<xml>\n"]
    for name, value in fields.items():
        inner = cdata(value).encode() if isinstance(value, str) else value
        parts.append(b"<" + name.encode() + b">" + inner + b"</" + name.encode() + b">\n")
    parts.append(extra)
    parts.append(b"</xml>")
    return b"".join(parts)


def deep_xml(depth: int, tag: bytes = b"a") -> bytes:
    return (b"<" + tag + b">") * depth + b"1" + (b"</" + tag + b">") * depth


# Raw element contents for WeChat's fields.
XML_FRAGMENTS: Mapping[str, bytes] = {
    "nul_raw": b"a\x00b",
    "nul_in_cdata": b"<![CDATA[a\x00b]]>",
    "nul_char_ref": b"a&#0;b",
    "surrogate_char_ref": b"a&#xD800;b",
    "surrogate_cesu_bytes": b"a\xed\xa0\x80b",
    "invalid_utf8": b"a\xff\xfeb",
    "control_chars": b"a\x01\x02\x1bb",
    "empty": b"",
    "long_200": b"x" * 200,
    "long_1000_cjk": ("投" * 1000).encode(),
    "long_60000": b"x" * 60_000,
    "long_100000": b"x" * 100_000,
    "digits_5000": digits(5000),
    "digits_100": digits(100),
    "int64_overflow": b"9223372036854775808",
    "float": b"1.5",
    "nan": b"NaN",
    "infinity": b"Infinity",
    "negative": b"-1",
    "nested_element": b"<a>1</a>",
    "nested_elements": b"<a>1</a><a>2</a>",
    "deep_element_2000": deep_xml(2000),
    "undefined_entity": b"&nope;",
    "unclosed_cdata": b"<![CDATA[abc",
    "cdata_end": b"]]>",
    "comment": b"<!-- c -->x",
    "processing_instruction": b"<?pi x?>x",
}

WHOLE_XML_BODIES: Mapping[str, bytes] = {
    "empty": b"",
    "whitespace": b"  \n ",
    "not_xml": b"hello",
    "json": b'{"xml": {"MsgType": "text"}}',
    "invalid_utf8": b"\xff\xfe\xfd",
    "utf16_bom": "<xml><MsgType>text</MsgType></xml>".encode("utf-16"),
    "no_root_fields": b"<xml></xml>",
    "other_root": b"<notxml><MsgType>text</MsgType></notxml>",
    "two_roots": b"<xml></xml><xml></xml>",
    "unclosed": b"<xml><MsgType>text",
    "nul_bytes": b"\x00" * 64,
    "doctype_entities": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                         b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Content>&b;'
                         b"</Content></xml>"),
    "external_entity": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM '
                        b'"file:///etc/passwd">]><xml><Content>&x;</Content></xml>'),
    "gb2312_declared": '<?xml version="1.0" encoding="GB2312"?><xml><Content>投诉</Content></xml>'
                       .encode("gb2312"),
    "unknown_encoding": b'<?xml version="1.0" encoding="x-nope"?><xml></xml>',
    "deep_10000": b"<xml>" + deep_xml(10_000) + b"</xml>",
    "over_limit_70000": b"<xml><Content>" + b"x" * 70_000 + b"</Content></xml>",
}


# ---------------------------------------------------------------- Hypothesis strategies

# Characters that break things: NUL and other controls, lone surrogates, BOM, RTL marks,
# non-characters, astral emoji, CJK.
_NASTY_CHARS = st.sampled_from([
    "\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\ud800", "\udfff", "\ufeff", "\u202e",
    "\uffff", "\U0010ffff", "😡", "投", "\\", '"', "'", "<", "&", "]", ">", "\r", "\n",
])
_TEXT = st.text(st.one_of(_NASTY_CHARS, st.characters()), max_size=40)


def _json_string(text: str, raw: bool) -> bytes:
    """A JSON string of ``text``: escaped (valid JSON, surrogates as escapes) or raw (control
    characters and surrogates inserted as they are, which is not valid JSON)."""
    if not raw:
        return json.dumps(text).encode()
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode(
        "utf-8", "surrogatepass") + b'"'


def _number() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: str(n).encode()),
        st.integers(min_value=1, max_value=6000).map(lambda n: b"9" * n),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
        st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-0", b"1E+2",
                         b"0.000000000000000000000000000001"]),
    )


def _nested(depth: int, value: bytes, as_object: bool) -> bytes:
    if as_object:
        return b'{"a":' * depth + value + b"}" * depth
    return b"[" * depth + value + b"]" * depth


_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=12,
).map(lambda v: json.dumps(v).encode())


def json_fragments() -> st.SearchStrategy[bytes]:
    """Raw bytes for one JSON value: hostile named shapes, odd strings, odd numbers, wrong
    types, deep nesting."""
    return st.one_of(
        st.sampled_from(sorted(JSON_FRAGMENTS.values())),
        st.builds(_json_string, _TEXT, st.booleans()),
        st.integers(min_value=0, max_value=3).flatmap(
            lambda k: st.integers(min_value=1, max_value=[10, 200, 1000, 100_000][k]).map(
                lambda n: long_string(n))),
        _number(),
        _JSON_VALUES,
        st.builds(_nested, st.integers(min_value=1, max_value=5000), _number(), st.booleans()),
        st.binary(max_size=20).map(lambda b: b'"' + b.replace(b'"', b"") + b'"'),
    )


def xml_fragments() -> st.SearchStrategy[bytes]:
    """Raw bytes for the content of one XML element."""
    return st.one_of(
        st.sampled_from(sorted(XML_FRAGMENTS.values())),
        _TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
        _TEXT.map(lambda s: cdata(s).encode("utf-8", "surrogatepass")),
        _number(),
        st.binary(max_size=30),
        st.integers(min_value=1, max_value=3000).map(deep_xml),
    )


def hostile_json_bodies(template: Callable[[], Any]) -> st.SearchStrategy[bytes]:
    """A whole hostile body, or ``template()`` with one to three of its fields (or an extra
    one) replaced by hostile fragments."""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = template()
        paths = string_paths(data)
        chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            # a new key beside an existing one: an extra field
            where = draw(st.sampled_from(chosen))[:-1]
            if not isinstance(get_path(data, where), dict):
                where = ()
            chosen = [*chosen[1:], (*where, "extra")]
        holes = {}
        for index, path in enumerate(chosen):
            holes[path] = f"\u0001hole{index}\u0001"
            get_path(data, path[:-1])[path[-1]] = holes[path]
        body = json.dumps(data, ensure_ascii=False).encode()
        for hole in holes.values():
            body = body.replace(json.dumps(hole).encode(), draw(json_fragments()))
        return body

    return st.one_of(st.sampled_from(sorted(WHOLE_BODIES.values())), mutated(),
                     mutated(), mutated())
