"""The web chat channel: the widget's HTTP and WebSocket messages, and pushes to open tabs.

Wire formats (see `static/widget.js`, the browser half):

* `POST /channels/webchat/messages` body: `{"visitor_id", "text", "client_message_id",
  "lang"?}` -> `parse_http_message`; the response is `{"replies": reply_payload(...)}`.
* `GET /channels/webchat/history` with the `X-Visitor-Id` header.
* WebSocket `/channels/webchat/ws`: the first frame is `{"type": "hello", "visitor_id"}`
  (`parse_hello`), answered `{"type": "ready"}`; then, browser -> server:
  `{"type": "message", "text", "client_message_id", "lang"?}` -> `parse_ws_message`;
  server -> browser: `{"type": "replies", "in_reply_to": id, "replies": [...]}` for that
  message, `{"type": "message", "replies": [...]}` for a push (`WebchatSender`).
* A reply is `{"text", "quick_replies": [{"label", "payload"}]}`.
"""

from __future__ import annotations

from pathlib import Path

from .connections import Connections, WebchatSender, reply_payload
from .parse import (
    CHANNEL,
    MAX_TEXT,
    client_message_id,
    message_key,
    parse_hello,
    parse_http_message,
    parse_ws_message,
    validate_visitor_id,
)

STATIC_DIR = Path(__file__).parent / "static"

__all__ = [
    "CHANNEL",
    "MAX_TEXT",
    "STATIC_DIR",
    "Connections",
    "WebchatSender",
    "client_message_id",
    "message_key",
    "parse_hello",
    "parse_http_message",
    "parse_ws_message",
    "reply_payload",
    "validate_visitor_id",
]
