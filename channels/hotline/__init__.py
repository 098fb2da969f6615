"""The hotline channel: files of transcribed calls in, one `Transcript` per file.

`parse_transcript(data)` takes a file's bytes (or text) and tells its format by content:

* "json": an object `{"call_id", "caller", "started_at", "agent_id", "language", "turns":
  [{"speaker", "text", "start", "end"}]}`; only a non-empty `turns` list is required.
* "webvtt": a `WEBVTT` header, cues whose timings give `start`/`end` and whose `<v Name>`
  voice gives the speaker (a cue without a voice goes on with the previous speaker); other
  tags are stripped; metadata from `NOTE` blocks of `key: value` lines.
* "text": anything else: optional header lines (`call_id:`, `caller:`, `started_at:`,
  `agent_id:`, `language:`, or 通话编号/来电号码/开始时间/坐席工号), then one turn per line
  after a speaker label (`坐席：`, `客服：`, `客户：`, `Agent:`, `Customer:`, ...; full-width
  or ASCII colon), optionally with a timestamp (`[00:01:23]`, `00:01:23`) before or after the
  label; unlabelled lines continue the previous turn; blank lines are ignored.

Speaker labels map to "agent" or "customer" (`speaker_role`): 客服/坐席/话务员/operator/
CSR/representative/... are the agent, 客户/用户/来电人/caller/client/... the customer, with
an id, a bracketed note or a short name allowed after the word (`Agent 007`, 客服小王).
Turns with no text are skipped. Text is UTF-8 (BOM or not), UTF-16/32 with a BOM, or GB18030.

A call has at most MAX_TURNS turns of at most MAX_TURN_CHARS characters each, and metadata
no longer than the store keeps (MAX_META_CHARS). Labels such as "Customer Service", 客户服务
are the agent; "Caller ID" is no speaker.

Anything else raises `InvalidTranscript` (an `InvalidPayload`) whose `detail` is a short
reason for the import report: "empty file", "binary file: ...", "too large: 3.2 MB > 2 MB",
"broken JSON at line 3: ...", "not a transcript: ...", "line 7: unknown speaker 'Bob'",
"started_at has no UTC offset: ...". `started_at` must be ISO 8601 with an offset: it is the
clock relative dates in the call are resolved against (without it, the importer uses the
file's own time). `content_hash(t)` is the dedup key for a file without a `call_id`.
"""

from __future__ import annotations

from .parse import (
    AGENT,
    CUSTOMER,
    MAX_META_CHARS,
    MAX_TRANSCRIPT_BYTES,
    MAX_TURN_CHARS,
    MAX_TURNS,
    InvalidTranscript,
    Transcript,
    Turn,
    content_hash,
    parse_transcript,
    speaker_role,
    too_large_reason,
)

CHANNEL = "hotline"

__all__ = [
    "AGENT",
    "CHANNEL",
    "CUSTOMER",
    "MAX_META_CHARS",
    "MAX_TRANSCRIPT_BYTES",
    "MAX_TURNS",
    "MAX_TURN_CHARS",
    "InvalidTranscript",
    "Transcript",
    "Turn",
    "content_hash",
    "parse_transcript",
    "speaker_role",
    "too_large_reason",
]
