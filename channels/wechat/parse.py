"""WeChat's XML pushes -> normalised `Inbound` messages.

Messages are deduplicated by sender and MsgId (WeChat retries the same MsgId up to 3 times);
events have none, so by sender and CreateTime, as WeChat's documentation says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from channels.base import Attachment, Inbound, InvalidPayload

from .security import parse_xml

CHANNEL = "wechat"
# Menu CLICK keys the Official Account's menu uses, and the command each stands for.
MENU_KEYS: Mapping[str, str] = {"COMPLAIN": "/complain", "CASE_STATUS": "/status"}
_EVIDENCE = {"image": "image", "video": "video", "shortvideo": "video", "file": "file"}


def parse_message(xml: str, received_at: datetime,
                  menu: Mapping[str, str] = MENU_KEYS) -> Inbound | None:
    """One push as an Inbound; None for pushes the intake has nothing to do with
    (template-send reports, location reports, unknown menu keys)."""
    data = parse_xml(xml)
    user = _field(data, "FromUserName")
    msg_type = _field(data, "MsgType").lower()
    try:
        created = int(_field(data, "CreateTime"))
        timestamp = datetime.fromtimestamp(created, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidPayload("CreateTime is not a Unix time") from None

    # Only WeChat's own flat fields are kept: nothing nested reaches the store.
    raw = {k: v for k, v in data.items() if isinstance(v, str)}

    def inbound(message_id: str, kind: str, text: str = "",
                attachments: tuple[Attachment, ...] = ()) -> Inbound:
        return Inbound(channel=CHANNEL, user_id=user, message_id=message_id, text=text,
                       timestamp=timestamp, kind=kind, attachments=attachments, raw=raw)

    if msg_type == "event":
        event = _field(data, "Event").lower()
        # Sender and CreateTime, as WeChat advises, plus the event: two taps on different
        # menu buttons within one second are two events, while a retry repeats all three.
        key = _text(data, "EventKey")
        event_id = f"e{user}:{created}:{event}" + (f":{key}" if key else "")
        if event == "subscribe":
            return inbound(event_id, "command", "/start")
        if event == "unsubscribe":
            return inbound(event_id, "closed")
        if event == "click":
            command = menu.get(key)
            return inbound(event_id, "command", command) if command else None
        return None

    msg_id = _text(data, "MsgId").strip()
    # The sender is part of the key: a MsgId another user sends must never match theirs.
    message_id = f"m{user}:{msg_id}" if msg_id else f"m{user}:{created}"
    if msg_type == "text":
        return inbound(message_id, "text", _text(data, "Content"))
    if msg_type == "voice":
        heard = _text(data, "Recognition").strip()
        voice = (Attachment("voice", _text(data, "MediaId"),
                            {"format": _text(data, "Format") or None}),)
        # WeChat's own speech recognition stands in for typing; without it we ask to type.
        return inbound(message_id, "text" if heard else "unsupported", heard, voice)
    if msg_type in _EVIDENCE:
        meta = {k: _text(data, k) for k in ("PicUrl", "ThumbMediaId", "Title", "FileKey")
                if data.get(k)}
        return inbound(message_id, "attachment", "",
                       (Attachment(_EVIDENCE[msg_type], _text(data, "MediaId"), meta),))
    return inbound(message_id, "unsupported")


def _text(data: Mapping[str, object], name: str) -> str:
    """An optional text field; "" when absent. WeChat's fields are flat text: an element
    with elements inside is no push of WeChat's."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"<{name}> must be text, not nested elements")
    return value


def _field(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"<{name}> is missing")
    return value.strip()
