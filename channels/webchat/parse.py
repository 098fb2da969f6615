"""Validation of the web chat's incoming bodies (HTTP POST and WebSocket frames)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from channels.base import Inbound, InvalidPayload

CHANNEL = "webchat"
MAX_TEXT = 4000
LANGS = ("zh", "en")

# The visitor id is the only credential of a web chat: at least 128 bits of randomness, as
# the widget makes it (a UUID, 32 hex digits, or 22+ url-safe base64 characters).
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _require_object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidPayload(f"{what} must be a JSON object, got {_kind(data)}")
    return data


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _string(data: dict[str, Any], key: str) -> str:
    if key not in data:
        raise InvalidPayload(f"{key} is required")
    value = data[key]
    if not isinstance(value, str):
        raise InvalidPayload(f"{key} must be a string, got {_kind(value)}")
    return value


def validate_visitor_id(value: object) -> str:
    """The visitor id: 22-64 characters of A-Z a-z 0-9 _ - (a UUID or more randomness)."""
    if not isinstance(value, str):
        raise InvalidPayload(f"visitor_id must be a string, got {_kind(value)}")
    if not _VISITOR_ID.fullmatch(value):
        raise InvalidPayload("visitor_id must be 22-64 characters of A-Z, a-z, 0-9, '_' or '-' "
                             "(a random id of at least 128 bits, as the widget makes)")
    return value


def message_key(visitor_id: str, client_message_id: str) -> str:
    """The stored id of a visitor's message: client ids are unique per visitor, not
    globally, and another visitor using the same one must not learn that it exists. The
    visitor id (a credential) is kept in it only as a short digest."""
    digest = hashlib.sha256(visitor_id.encode()).hexdigest()[:24]
    return f"v{digest}:{client_message_id}"


def client_message_id(message_key: str) -> str:
    """The client's own id back from a stored message id."""
    return message_key.partition(":")[2] or message_key


def _text(data: dict[str, Any]) -> str:
    text = _string(data, "text").strip()
    if not text:
        raise InvalidPayload("text must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidPayload(f"text must be at most {MAX_TEXT} characters, got {len(text)}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload("text must be valid Unicode (it holds a lone surrogate)") from None
    return text


def _message_id(data: dict[str, Any]) -> str:
    value = _string(data, "client_message_id")
    if not _MESSAGE_ID.fullmatch(value):
        raise InvalidPayload(
            "client_message_id must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'")
    return value


def _lang(data: dict[str, Any]) -> str | None:
    value = data.get("lang")
    if value is None:
        return None
    if value not in LANGS:
        raise InvalidPayload("lang must be \"zh\" or \"en\" when given")
    return value


def _inbound(data: dict[str, Any], visitor_id: str, now: datetime) -> Inbound:
    # Fields are checked in a fixed order so the first violation is the one reported.
    text = _text(data)
    message_id = _message_id(data)
    lang = _lang(data)
    return Inbound(channel=CHANNEL, user_id=visitor_id,
                   message_id=message_key(visitor_id, message_id), text=text,
                   timestamp=now, lang=lang,
                   # The visitor id is a credential: the message keeps what else came.
                   raw={k: v for k, v in data.items() if k != "visitor_id"})


def parse_http_message(data: object, now: datetime) -> Inbound:
    """The JSON body of `POST /channels/webchat/messages` as an Inbound, or InvalidPayload."""
    body = _require_object(data, "the body")
    if "visitor_id" not in body:
        raise InvalidPayload("visitor_id is required")
    visitor_id = validate_visitor_id(body["visitor_id"])
    return _inbound(body, visitor_id, now)


def parse_ws_message(data: object, visitor_id: str, now: datetime) -> Inbound:
    """A `{"type": "message", ...}` WebSocket frame of `visitor_id` as an Inbound."""
    frame = _require_object(data, "the frame")
    visitor_id = validate_visitor_id(visitor_id)
    kind = frame.get("type")
    if kind != "message":
        raise InvalidPayload(f"type must be \"message\", got {kind!r}"[:200])
    return _inbound(frame, visitor_id, now)


def parse_hello(data: object) -> str:
    """The visitor id of a socket's first frame, `{"type": "hello", "visitor_id": ...}`:
    the id never travels in a URL, where logs and browser history would keep it."""
    frame = _require_object(data, "the first frame")
    if frame.get("type") != "hello":
        raise InvalidPayload('the first frame must be {"type": "hello", "visitor_id": ...}')
    if "visitor_id" not in frame:
        raise InvalidPayload("visitor_id is required")
    return validate_visitor_id(frame["visitor_id"])
