"""Telegram Update JSON -> `Inbound` (see the package docstring for the kinds)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from channels.base import Attachment, Inbound, InvalidPayload

CHANNEL = "telegram"
COMMANDS = frozenset({"start", "cancel", "status", "human", "help"})
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# Media we accept as evidence: message key -> Attachment.kind.
_SUPPORTED_MEDIA = (("photo", "image"), ("video", "video"), ("document", "file"))
# User content we cannot take: message key -> Attachment.kind (when it carries a file).
_UNSUPPORTED = (
    ("animation", "video"), ("video_note", "video"), ("voice", "voice"), ("audio", "other"),
    ("sticker", "other"), ("location", None), ("venue", None), ("contact", None),
    ("poll", None), ("dice", None), ("game", None), ("story", None), ("paid_media", None),
    ("checklist", None),
)
_META_KEYS = ("file_unique_id", "file_size", "mime_type", "file_name", "width", "height")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")
_GROUP_TYPES = ("group", "supergroup")


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} must be an object")
    return value


def _int(data: dict[str, Any], key: str, what: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidPayload(f"{what}.{key} must be an integer")
    return value


def _opt_str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidPayload(f"{what}.{key} must be a string")
    return value


def _lang(code: object) -> str | None:
    if not isinstance(code, str):
        return None
    code = code.lower()
    if code.startswith("zh"):
        return "zh"
    if code == "en" or code.startswith("en-") or code.startswith("en_"):
        return "en"
    return None


def _person(user: object) -> tuple[str | None, str | None]:
    """(display name, lang) of a `User` object, tolerant of missing fields."""
    if not isinstance(user, dict):
        return None, None
    parts = [user.get(k) for k in ("first_name", "last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None
    return name, _lang(user.get("language_code"))


def _chat(message: dict[str, Any], what: str) -> tuple[int, str]:
    chat = _object(message.get("chat"), f"{what}.chat")
    chat_id = _int(chat, "id", f"{what}.chat")
    chat_type = _opt_str(chat, "type", f"{what}.chat")
    if chat_type is None:
        raise InvalidPayload(f"{what}.chat.type is required")
    return chat_id, chat_type


def _timestamp(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidPayload("date is out of range") from None


def _file_attachment(kind: str, media: object, telegram_type: str) -> Attachment | None:
    if isinstance(media, list):   # photo: sizes, the largest last but pick it explicitly
        sizes = [s for s in media if isinstance(s, dict) and isinstance(s.get("file_id"), str)]
        if not sizes:
            return None
        media = max(sizes, key=lambda s: (_num(s.get("width")) * _num(s.get("height")),
                                          _num(s.get("file_size"))))
    if not isinstance(media, dict) or not isinstance(media.get("file_id"), str):
        return None
    meta = {k: media[k] for k in _META_KEYS if media.get(k) is not None}
    meta["telegram_type"] = telegram_type
    return Attachment(kind, media["file_id"], meta)


def _num(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _command(text: str) -> str | None:
    """`/cmd@Bot rest` -> `/cmd rest` for our commands; None for anything else."""
    match = _COMMAND.match(text)
    if match is None or match.group(1).lower() not in COMMANDS:
        return None
    return f"/{match.group(1).lower()}{text[match.end():]}"


def _content(message: dict[str, Any], what: str) -> tuple[str, str, tuple[Attachment, ...]] | None:
    """(kind, text, attachments) of a private message; None for a service message."""
    text = _opt_str(message, "text", what)
    caption = _opt_str(message, "caption", what)
    body = (text if text is not None else caption or "").strip()
    # Unsupported kinds first: a GIF comes as both `animation` and `document`.
    for key, kind in _UNSUPPORTED:
        if key in message:
            attachment = _file_attachment(kind, message[key], key) if kind else None
            return "unsupported", "", (attachment,) if attachment is not None else ()
    for key, kind in _SUPPORTED_MEDIA:
        if key in message:
            attachment = _file_attachment(kind, message[key], key)
            if attachment is None:
                raise InvalidPayload(f"{what}.{key} has no file_id")
            return "attachment", body, (attachment,)
    if text is not None:
        command = _command(body)
        return ("command", command, ()) if command is not None else ("text", body, ())
    if caption is not None:
        return "text", body, ()
    return None


def _own_contact(message: dict[str, Any]) -> str | None:
    """The phone of a contact the sender shared of themselves; None for anyone else's card
    (a forwarded contact proves nothing about the sender)."""
    contact = message.get("contact")
    sender = message.get("from")
    if not isinstance(contact, dict) or not isinstance(sender, dict):
        return None
    phone, user_id = contact.get("phone_number"), contact.get("user_id")
    if not isinstance(phone, str) or not phone.strip() or len(phone) > 32:
        return None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id != sender.get("id"):
        return None
    digits = phone.strip()
    return digits if digits.startswith("+") else f"+{digits}"   # Telegram omits the plus


def _message_inbound(update: dict[str, Any], key: str, update_id: int) -> Inbound | None:
    what = key
    message = _object(update[key], what)
    chat_id, chat_type = _chat(message, what)
    telegram_id = _int(message, "message_id", what)
    # Messages are keyed by chat and message id: stable across redeliveries of the update,
    # and what an edit later names.
    own_id = f"m{chat_id}:{telegram_id}"
    date = _int(message, "date", what)
    if key == "edited_message" and isinstance(message.get("edit_date"), int):
        date = message["edit_date"]
    name, lang = _person(message.get("from"))
    common = {"channel": CHANNEL, "user_id": str(chat_id), "timestamp": _timestamp(date),
              "display_name": name, "lang": lang, "raw": dict(update)}
    if chat_type in _GROUP_TYPES:
        if key == "edited_message":
            return None     # the group was refused when the message first came
        text = _opt_str(message, "text", what) or _opt_str(message, "caption", what) or ""
        return Inbound(message_id=own_id, text=text.strip(), kind="group", **common)
    if chat_type != "private":
        return None
    if key == "message" and (phone := _own_contact(message)) is not None:
        # The user shared their own number (request_contact): Telegram vouches for it.
        return Inbound(message_id=own_id, text=phone, verified_phone=phone, **common)
    content = _content(message, what)
    if content is None:
        return None
    kind, text, attachments = content
    if key == "edited_message":
        if kind == "unsupported":
            return None
        return Inbound(message_id=f"e{chat_id}:{telegram_id}:{date}", text=text, kind="edited",
                       attachments=attachments, edits=own_id, **common)
    return Inbound(message_id=own_id, text=text, kind=kind, attachments=attachments, **common)


def _callback_inbound(update: dict[str, Any], update_id: int, now: datetime) -> Inbound | None:
    what = "callback_query"
    query = _object(update[what], what)
    if _opt_str(query, "id", what) is None:
        raise InvalidPayload("callback_query.id is required")
    user = _object(query.get("from"), f"{what}.from")
    user_id = _int(user, "id", f"{what}.from")
    data = _opt_str(query, "data", what)
    if data is None:
        return None     # a game button: not ours
    message = query.get("message")
    if message is not None:
        chat_id, chat_type = _chat(_object(message, f"{what}.message"), f"{what}.message")
    else:               # inline-mode message: the private chat id is the user id
        chat_id, chat_type = user_id, "private"
    name, lang = _person(user)
    kind = "callback"
    if chat_type in _GROUP_TYPES:
        kind = "group"
    elif chat_type != "private":
        return None
    return Inbound(channel=CHANNEL, user_id=str(chat_id), message_id=f"u{update_id}",
                   text=data, timestamp=now, kind=kind, display_name=name, lang=lang,
                   raw=dict(update))


def parse_update(data: object, now: datetime) -> Inbound | None:
    """A Telegram Update as an Inbound; None for kinds we ignore; InvalidPayload if it is not
    an Update. `now` stamps callbacks (a callback query carries no date of its own)."""
    update = _object(data, "the update")
    update_id = _int(update, "update_id", "update")
    kinds = [k for k in update if k != "update_id"]
    if not kinds:
        raise InvalidPayload("the update carries no content")
    if "message" in update or "edited_message" in update:
        key = "message" if "message" in update else "edited_message"
        return _message_inbound(update, key, update_id)
    if "callback_query" in update:
        return _callback_inbound(update, update_id, now)
    return None


def callback_query_id(inbound: Inbound) -> str | None:
    """The callback query id to answer (`answer_callback`), for a callback inbound."""
    if inbound.channel != CHANNEL or inbound.raw is None:
        return None
    query = inbound.raw.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("id"), str):
        return query["id"]
    return None


def original_message_id(inbound: Inbound) -> int | None:
    """The Telegram message id an "edited" inbound edits."""
    if inbound.channel != CHANNEL or inbound.raw is None:
        return None
    message = inbound.raw.get("edited_message")
    if isinstance(message, dict) and isinstance(message.get("message_id"), int):
        return message["message_id"]
    return None
