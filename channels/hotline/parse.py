"""Call transcript files (JSON, speaker-labelled text, WebVTT) -> `Transcript`.

Pure and stdlib only: bytes in, a `Transcript` or `InvalidTranscript` out. The format is told
by content, never by file name.

Limits, far above any real call: at most `MAX_TRANSCRIPT_BYTES` (2 MB) of file,
`MAX_TURNS` (5000) turns with text ("too many turns: 6000 > 5000") and `MAX_TURN_CHARS`
(20000) characters in one turn ("line 7: turn too long: 25000 characters > 20000"); metadata
fits the store's columns (`call_id` 128 characters, `agent_id` 64, `caller` 32, `language` 16,
"call_id longer than 128 characters"). Every path is linear in the size of the file: turn
text is gathered in lists and joined once, and no pattern backtracks over unbounded input.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.base import InvalidPayload

MAX_TRANSCRIPT_BYTES = 2 * 1024 * 1024
MAX_TURNS = 5000
MAX_TURN_CHARS = 20000
# The store's column sizes (PostgreSQL refuses a longer value).
MAX_META_CHARS: dict[str, int] = {"call_id": 128, "agent_id": 64, "caller": 32, "language": 16}
AGENT = "agent"
CUSTOMER = "customer"


@dataclass(frozen=True)
class Turn:
    speaker: str                 # AGENT | CUSTOMER
    text: str
    start: float | None = None   # seconds from the call's start
    end: float | None = None


@dataclass(frozen=True)
class Transcript:
    format: str                  # "json" | "text" | "webvtt"
    turns: tuple[Turn, ...]
    call_id: str | None = None
    caller: str | None = None    # the calling number as the file gives it
    started_at: datetime | None = None   # aware
    agent_id: str | None = None
    language: str | None = None


class InvalidTranscript(InvalidPayload):
    """Not a transcript we can take; `detail` is the short reason for the import report."""


# ---- speakers -------------------------------------------------------------------------------

# The desk that serves the customer is the agent: "Customer Care", "Client Services", "User
# Support", 客户服务.
_DESKS = tuple(f"{who} {what}" for who in ("customer", "client", "user") for what in (
    "service", "services", "care", "support", "centre", "center", "team"))
# Longest first, so "customer service" and 客户经理 (bank staff) win over "customer" and 客户;
# the longest word the label starts with decides (see `speaker_role`). A role of None is a
# label that names no speaker ("Caller ID").
_SPEAKER_WORDS: tuple[tuple[str, str | None], ...] = tuple(sorted(
    [(w, AGENT) for w in (
        "agent", "operator", "csr", "representative", "rep", "advisor", "adviser", "staff",
        "supervisor", *_DESKS, "call center", "call centre",
        "坐席", "座席", "客服", "话务员", "接线员", "客服代表", "服务代表", "工作人员", "主管",
        "客户经理", "客服专员", "客户服务", "用户服务", "客户支持", "用户支持")]
    + [(w, CUSTOMER) for w in (
        "customer", "caller", "client", "user", "complainant", "客户", "用户", "来电人",
        "来电者", "来电客户", "顾客", "投诉人", "持卡人")]
    + [(w, None) for w in ("caller id", "caller number")],
    key=lambda item: -len(item[0])))
_WORDS = frozenset(word for word, role in _SPEAKER_WORDS if role is not None)
_ROLE_OF = dict(_SPEAKER_WORDS)
# One pass for the longest word the label starts with: an English word only where no letter
# follows it ("username" does not start with the word "user").
_WORD_AT_START = re.compile("|".join(
    re.escape(word) + ("(?![a-zA-Z])" if word.isascii() else "") for word, _ in _SPEAKER_WORDS))
_MAX_LABEL_CHARS = 64    # a label, with its id or name; longer is no label
# What may follow the word: an id ("Agent 007", 坐席1号), a note in brackets, a short name
# (客服小王, "Customer Zhang"); more than that is a sentence, not a label.
_ASCII_REST = re.compile(
    r"(?:[\s#\-_.]*\d[\w\-]*|\s+[a-z][\w.\-']*|\s*[(（][^)）]{0,20}[)）])?")
_CJK_REST = re.compile(
    r"\s*(?:[#\-_.]?\s*[0-9a-z]{1,10}\s*号?|工号\s*[:：]?\s*\w{1,10}|[(（][^)）]{0,20}[)）]"
    r"|[\u4e00-\u9fff]{1,3})?")


def speaker_role(label: str) -> str | None:
    """"agent" or "customer" for a speaker label or voice name, None when it is not obvious.

    The longest word the label starts with decides (an English word only where the next
    character is no letter): "Customer Care" is the agent's desk, not a customer called Care,
    and "Caller ID" is nobody."""
    label = label.strip()
    if len(label) > _MAX_LABEL_CHARS:
        return None
    text = unicodedata.normalize("NFKC", label).casefold().strip()
    m = _WORD_AT_START.match(text)
    if m is None:
        return None
    word, rest = m.group(), text[m.end():]
    rest_pattern = _ASCII_REST if word.isascii() else _CJK_REST
    return _ROLE_OF[word] if rest_pattern.fullmatch(rest) else None


def _shown(text: str) -> str:
    """`text` quoted for a reason, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _unknown_speaker(where: str, label: str) -> InvalidTranscript:
    return InvalidTranscript(f"{where}: unknown speaker {_shown(label)}")


# ---- metadata -------------------------------------------------------------------------------

_META_ALIASES: dict[str, str] = {
    **dict.fromkeys(("call_id", "callid", "call_no", "通话编号", "通话id", "呼叫编号",
                     "录音编号"), "call_id"),
    **dict.fromkeys(("caller", "caller_id", "caller_number", "calling_number", "ani",
                     "来电号码", "主叫号码"), "caller"),
    **dict.fromkeys(("started_at", "start_time", "call_start", "开始时间", "通话时间",
                     "来电时间", "通话开始时间"), "started_at"),
    **dict.fromkeys(("agent_id", "agent_no", "坐席工号", "坐席编号", "工号"), "agent_id"),
    **dict.fromkeys(("language", "lang", "语言", "语种"), "language"),
}
_META_LINE = re.compile(r"(?P<key>[^:：]{1,24}?)\s*[:：]\s*(?P<value>.*)")
_PHONE_LIKE = re.compile(r"[+\d][\d\s\-()]{2,30}")


def _meta_key(raw: str) -> str | None:
    key = re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", raw).casefold().strip())
    return _META_ALIASES.get(key)


def _started_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidTranscript("started_at must be an ISO 8601 date-time string with an offset")
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidTranscript(
            f"started_at is not an ISO 8601 date-time: {_shown(text)}") from None
    if moment.utcoffset() is None:
        raise InvalidTranscript(
            f"started_at has no UTC offset: {_shown(text)} (e.g. 2026-11-28T10:00:00+08:00)")
    return moment


def _meta_value(key: str, value: object) -> Any:
    if key == "started_at":
        return _started_at(value)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)     # a numeric call id or phone number
    if not isinstance(value, str):
        raise InvalidTranscript(f"{key} must be a string")
    value = value.strip()
    if _CONTROL.search(value):   # NUL and the like: no id or number holds them
        raise InvalidTranscript(f"{key} holds control characters")
    if len(value) > MAX_META_CHARS[key]:
        raise InvalidTranscript(f"{key} longer than {MAX_META_CHARS[key]} characters")
    return value or None


def _check_turn(text: str, where: str, what: str = "turn") -> str:
    if len(text) > MAX_TURN_CHARS:
        raise InvalidTranscript(
            f"{where}: {what} too long: {len(text)} characters > {MAX_TURN_CHARS}")
    return text


def _transcript(fmt: str, turns: list[Turn], meta: dict[str, Any], none_reason: str
                ) -> Transcript:
    if not turns:
        raise InvalidTranscript(none_reason)
    if len(turns) > MAX_TURNS:
        raise InvalidTranscript(f"too many turns: {len(turns)} > {MAX_TURNS}")
    return Transcript(format=fmt, turns=tuple(turns), **meta)


# ---- text helpers ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t]+")
_TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_TS_RANGE = rf"{_TS}(?:\s*(?:-->|->|-|–|—|~)\s*{_TS})?"
_STAMP = rf"(?:[\[(（【]\s*{_TS_RANGE}\s*[\])）】]|{_TS_RANGE})"
_TS_RE = re.compile(_TS)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _join(pieces: Iterable[str]) -> str:
    """Pieces of one utterance as one text, built once: a space between words, none between
    CJK characters; empty pieces are skipped."""
    parts: list[str] = []
    last = ""
    for piece in pieces:
        if not piece:
            continue
        if last and (last[-1].isascii() or piece[0].isascii()):
            parts.append(" ")
        parts.append(piece)
        last = piece
    return "".join(parts)


def _seconds(stamp: str) -> float:
    *head, sec = stamp.replace(",", ".").split(":")
    minutes = 0
    for part in head:
        minutes = minutes * 60 + int(part)
    return round(minutes * 60 + float(sec), 3)   # no 109.52000000000001


def _span(stamp: str | None) -> tuple[float | None, float | None]:
    """(start, end) of "[00:01:23]", "00:01:23-00:01:30" and the like."""
    if not stamp:
        return None, None
    found = _TS_RE.findall(stamp)
    start = _seconds(found[0])
    end = _seconds(found[1]) if len(found) > 1 else None
    return start, end


# ---- decoding -------------------------------------------------------------------------------

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
_MB = 1024 * 1024


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n} bytes"


def too_large_reason(n: int, limit: int) -> str:
    """"too large: 3.2 MB > 2 MB", for a file or body of `n` bytes over `limit`."""
    shown, cap = _size(n), _size(limit)
    if shown == cap:    # 2 MB + 1 byte must not read "2 MB > 2 MB"
        shown, cap = f"{n} bytes", f"{limit} bytes"
    return f"too large: {shown} > {cap}"


def _too_large(n: int, limit: int) -> InvalidTranscript:
    return InvalidTranscript(too_large_reason(n, limit))


def _decode(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise InvalidTranscript(
                    f"binary file: not valid {codec.upper()} after its byte-order mark") from None
    if b"\x00" in data:
        raise InvalidTranscript("binary file: NUL bytes")
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise InvalidTranscript("binary file: neither UTF-8, UTF-16 nor GB18030 text")


def _text_of(data: bytes | str, max_bytes: int) -> str:
    if isinstance(data, str):
        size = len(data) if len(data) * 4 <= max_bytes else len(
            data.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise _too_large(size, max_bytes)
        text = data
    else:
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        if not data:
            raise InvalidTranscript("empty file")
        text = _decode(data)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InvalidTranscript("empty file")
    if "\x00" in text:
        raise InvalidTranscript("binary file: NUL bytes")
    if len(_CONTROL.findall(text)) * 3 > len(text):
        raise InvalidTranscript("binary file: mostly control characters")
    return _CONTROL.sub("", text)


# ---- JSON -----------------------------------------------------------------------------------

def _json_seconds(turn: dict[str, Any], key: str, where: str) -> float | None:
    value = turn.get(key)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(_TS, value.strip()):
        return _seconds(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidTranscript(f"{where}: {key} must be a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:      # an integer of hundreds of digits
        seconds = math.inf
    if not math.isfinite(seconds):
        raise InvalidTranscript(f"{where}: {key} must be a number of seconds")
    return seconds


def _json_turn(raw: object, where: str) -> Turn | None:
    if not isinstance(raw, dict):
        raise InvalidTranscript(f"{where} must be an object")
    label = raw.get("speaker")
    if not isinstance(label, str):
        raise InvalidTranscript(f"{where}: speaker is missing")
    role = speaker_role(label)
    if role is None:
        raise _unknown_speaker(where, label)
    text = raw.get("text")
    if text is not None and not isinstance(text, str):
        raise InvalidTranscript(f"{where}: text must be a string")
    text = _clean(_CONTROL.sub("", text or ""))
    if not text:
        return None     # a silence or a dropped segment
    _check_turn(text, where, "text")
    start = _json_seconds(raw, "start", where)
    end = _json_seconds(raw, "end", where)
    if start is not None and end is not None and end < start:
        raise InvalidTranscript(f"{where}: ends before it starts")
    return Turn(role, text, start, end)


def _parse_json(text: str) -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTranscript(
            f"broken JSON at line {exc.lineno}: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InvalidTranscript("broken JSON: nested too deeply") from None
    except ValueError:      # the only other: an integer over Python's 4300 digits
        raise InvalidTranscript("broken JSON: a number has too many digits") from None
    if not isinstance(data, dict):
        raise InvalidTranscript("not a transcript: the JSON is not an object with \"turns\"")
    raw_turns = data.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        raise InvalidTranscript("not a transcript: no non-empty \"turns\" list")
    turns = [t for i, raw in enumerate(raw_turns, 1)
             if (t := _json_turn(raw, f"turn {i}")) is not None]
    meta = {key: _meta_value(key, data.get(key))
            for key in ("call_id", "caller", "started_at", "agent_id", "language")}
    return _transcript("json", turns, meta, "not a transcript: no turn has any text")


# ---- speaker-labelled text ------------------------------------------------------------------

_LABELLED = re.compile(
    rf"(?:(?P<pre>{_STAMP})\s*)?"
    r"(?P<label>[^\W\d_][^:：\[\]【】<>]{0,29}?)"   # starts with a letter
    rf"\s*(?:(?P<post>{_STAMP})\s*)?"
    r"(?:(?P<colon>[:：])\s*(?P<text>.*))?")
_LEADING_STAMP = re.compile(
    rf"(?:[\[(（【]\s*{_TS_RANGE}\s*[\])）】]|\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d{{1,3}})?)"
    r"(?:\s+|$)")   # after the colon a bare "10:30" is the caller's words, not a stamp
_CUE_TIMING_LINE = re.compile(rf"{_TS}\s*-->\s*{_TS}.*")
_SENTENCE = re.compile(r"[，。！？；、,.!?;\"“”]")


@dataclass
class _Open:
    speaker: str
    text: str
    start: float | None
    end: float | None
    line_no: int = 0
    more: list[str] = field(default_factory=list)   # continuation lines, joined once at the end


def _labelled(line: str, line_no: int) -> tuple[_Open | None, str | None]:
    """(the turn a line starts, None) or (None, the unknown label-like prefix or None)."""
    m = _LABELLED.fullmatch(line)
    if m is None:
        return None, None
    label, pre, post, colon = m.group("label", "pre", "post", "colon")
    label = label.strip()
    stamp = pre or post
    has_colon = colon is not None
    if not has_colon and not stamp and unicodedata.normalize("NFKC", label).casefold() not in (
            _WORDS):
        return None, None   # "客户说他..." is a sentence, not a label alone on its line
    role = speaker_role(label)
    if role is None:
        looks_like_label = has_colon and len(label) <= 16 and not _SENTENCE.search(label)
        if looks_like_label and stamp:
            raise _unknown_speaker(f"line {line_no}", label)
        return None, label if looks_like_label else None
    text = m.group("text") or ""
    if stamp is None and (lead := _LEADING_STAMP.match(text)):
        stamp, text = lead.group(0), text[lead.end():]
    start, end = _span(stamp)
    if start is not None and end is not None and end < start:
        raise InvalidTranscript(f"line {line_no}: ends before it starts")
    return _Open(role, _clean(text), start, end, line_no), None


def _parse_text(text: str) -> Transcript:
    meta: dict[str, Any] = {}
    turns: list[_Open] = []
    unknown: str | None = None
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = _clean(raw)
        if not line:
            continue
        if "-->" in line and _CUE_TIMING_LINE.fullmatch(line):
            raise InvalidTranscript(
                f"unknown format: subtitle cue timings at line {line_no} without a WEBVTT header")
        if not turns and (m := _META_LINE.fullmatch(line)) and (key := _meta_key(m["key"])):
            # "Caller: hello" is the caller speaking; "caller: 138..." is the calling number
            if key != "caller" or _PHONE_LIKE.fullmatch(m["value"].strip()):
                if key not in meta:
                    meta[key] = _meta_value(key, m["value"])
                continue
        opened, label = _labelled(line, line_no)
        if opened is not None:
            turns.append(opened)
        elif turns:
            turns[-1].more.append(line)
        elif unknown is None:
            unknown = label
    reason = "not a transcript: no speaker-labelled turns"
    if unknown:
        reason += f" (unknown speaker {_shown(unknown)})"
    done = []
    for t in turns:
        said = _join([t.text, *t.more]) if t.more else t.text
        if said:
            _check_turn(said, f"line {t.line_no}")
            done.append(Turn(t.speaker, said, t.start, t.end))
    if turns and not done:
        reason = "not a transcript: no turn has any text"
    return _transcript("text", done, meta, reason)


# ---- WebVTT ---------------------------------------------------------------------------------

_VTT_TS = r"(?:\d{1,4}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"   # hours: a call, not an epoch
_TIMING = re.compile(rf"\s*(?P<a>{_VTT_TS})\s*-->\s*(?P<b>{_VTT_TS})(?:\s+.*)?")
# Possessive and stopping at "<", so an unclosed "<v ..." is not scanned again and again.
_VOICE = re.compile(r"<v(?:\.[^\s<>]*+)?(?:[ \t]++(?P<name>[^<>]*+))?>")
_TAG = re.compile(r"<[^<>]*>")


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the line number of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for line_no, line in enumerate(lines, 1):
        if line.strip():
            if not current:
                blocks.append((line_no, current))
            current.append(line)
        else:
            current = []
    return blocks


def _cue_text(raw: str) -> str:
    return _join(_clean(line) for line in html.unescape(_TAG.sub("", raw)).splitlines())


def _cue_turns(payload: list[str], line_no: int, start: float, end: float,
               previous: str | None) -> list[Turn]:
    raw = "\n".join(payload)
    pieces: list[tuple[str | None, str]] = []
    name: str | None = None
    pos = 0
    for m in _VOICE.finditer(raw):
        pieces.append((name, raw[pos:m.start()]))
        name, pos = (m.group("name") or "").strip(), m.end()
    pieces.append((name, raw[pos:]))
    turns: list[Turn] = []
    for voice, piece in pieces:
        text = _cue_text(piece)
        if not text:
            continue
        if voice is not None:
            role = speaker_role(voice)
            if role is None:
                raise _unknown_speaker(f"line {line_no}", voice)
        else:
            opened, _ = _labelled(text, line_no)
            if opened is not None:      # "客户：..." written in the cue instead of <v>
                role, text = opened.speaker, opened.text
            elif previous is not None:  # a cue without a voice goes on with the last speaker
                role = previous
            else:
                raise InvalidTranscript(f"line {line_no}: cue has no speaker (<v Name>)")
        if text:
            turns.append(Turn(role, _check_turn(text, f"line {line_no}"), start, end))
            previous = role
    return turns


def _parse_vtt(text: str) -> Transcript:
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    turns: list[Turn] = []
    for first_no, block in _blocks(lines)[1:]:     # the first block is the WEBVTT header
        head = block[0].strip()
        if head == "NOTE" or head.startswith(("NOTE ", "NOTE\t")):
            for line in [head[4:], *block[1:]]:
                m = _META_LINE.fullmatch(line.strip())
                if m and (key := _meta_key(m["key"])) and key not in meta:
                    meta[key] = _meta_value(key, m["value"])
            continue
        if head in ("STYLE", "REGION"):
            continue
        at = 0 if "-->" in block[0] else 1
        timing = _TIMING.fullmatch(block[at]) if at < len(block) else None
        if timing is None:
            raise InvalidTranscript(
                f"line {first_no + at}: malformed cue, expected 'start --> end'")
        start, end = _seconds(timing["a"]), _seconds(timing["b"])
        if end < start:
            raise InvalidTranscript(f"line {first_no + at}: cue ends before it starts")
        previous = turns[-1].speaker if turns else None
        turns.extend(_cue_turns(block[at + 1:], first_no + at + 1, start, end, previous))
    return _transcript("webvtt", turns, meta, "not a transcript: no cue has any text")


# ---- entry points ---------------------------------------------------------------------------

_JSON_ARRAY = re.compile(r"\[\s*[{\]\"]")


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_transcript(data: bytes | str, *, max_bytes: int = MAX_TRANSCRIPT_BYTES
                     ) -> Transcript:
    """The transcript in `data` (JSON, WebVTT or speaker-labelled text, told by content);
    InvalidTranscript with a short reason for anything else."""
    text = _text_of(data, max_bytes)
    body = text.lstrip()
    if body.startswith("{") or _JSON_ARRAY.match(body):
        return _storable(_parse_json(body))
    if re.match(r"WEBVTT(?:[ \t\r\n]|$)", body):
        return _parse_vtt(body)
    if body.startswith("<"):
        raise InvalidTranscript("unknown format: markup (XML or HTML), not a transcript")
    return _parse_text(text)


def _storable(t: Transcript) -> Transcript:
    """JSON escapes can make lone surrogates ("\\ud800"), which no store can encode."""
    for value in (t.call_id, t.caller, t.agent_id, t.language,
                  *(turn.text for turn in t.turns)):
        if value and _SURROGATE.search(value):
            raise InvalidTranscript("broken JSON: text with an unpaired surrogate escape")
    return t


def _hash_text(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def content_hash(t: Transcript) -> str:
    """sha256 (hex) of who said what, for dedup without a call id. Timings, metadata,
    whitespace, case and how the file split a speaker's words into turns do not count, so
    one call exported twice, in any of the formats, hashes the same."""
    merged: list[tuple[str, list[str]]] = []
    for turn in t.turns:
        text = _hash_text(turn.text)
        if merged and merged[-1][0] == turn.speaker:
            merged[-1][1].append(text)
        else:
            merged.append((turn.speaker, [text]))
    digest = hashlib.sha256()
    for speaker, texts in merged:
        digest.update(f"{speaker}\x1f{''.join(texts)}\x1e".encode())
    return digest.hexdigest()
