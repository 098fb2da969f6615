"""The normalised messages every channel speaks, and what a channel's sender promises.

A channel's *in* half turns a verified request into `Inbound` messages; its *out* half
sends `Outbound` messages in the channel's own format and limits. Channels never open the
store; what they must remember they keep through a `ChannelMemory` they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Lengths of the store's columns for what a channel hands over (ids of users and messages,
# display names); a test checks them against the tables.
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class QuickReply:
    label: str
    payload: str


@dataclass(frozen=True)
class Attachment:
    kind: str                 # image | file | voice | video | other
    ref: str                  # the channel's own file id or URL
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inbound:
    channel: str              # "webchat", "telegram", "wechat", "hotline"
    user_id: str              # the customer's id on that channel
    message_id: str           # the channel's id of this message: the dedup key
    text: str
    timestamp: datetime
    kind: str = "text"        # text | command | attachment | unsupported | closed | ...
    attachments: tuple[Attachment, ...] = ()
    display_name: str | None = None
    lang: str | None = None
    raw: dict[str, Any] | None = None
    edits: str | None = None  # for an edited message: the message_id of the one it replaces
    # A phone number the channel itself vouches for (a Telegram contact shared from the
    # user's own account); a number typed in the text is only a claim.
    verified_phone: str | None = None

    def __post_init__(self) -> None:
        # The store's columns, checked at the edge so every database refuses the same input.
        for name, limit in (("user_id", MAX_ID_CHARS), ("message_id", MAX_ID_CHARS)):
            value = getattr(self, name)
            if not value or len(value) > limit or "\x00" in value:
                raise InvalidPayload(f"{self.channel} {name} must be 1-{limit} characters "
                                     "without NUL")
        if "\x00" in self.text:  # PostgreSQL text refuses NUL: removed, as load_json does
            object.__setattr__(self, "text", self.text.replace("\x00", ""))
        if self.display_name is not None:
            name = self.display_name.replace("\x00", "")[:MAX_NAME_CHARS]
            object.__setattr__(self, "display_name", name)


@dataclass(frozen=True)
class Outbound:
    channel: str
    user_id: str
    text: str
    quick_replies: tuple[QuickReply, ...] = ()
    ref: str | None = None    # the outbox row this comes from, for logs
    queued_at: datetime | None = None  # when the reply was decided (a channel's send window)
    # What the reply asks the customer for ("phone", ...), so a channel can offer its own
    # way to answer (Telegram: a button that shares the user's verified number).
    asks: str | None = None
    # The stored message's id: a channel that may show a message twice (a web chat tab
    # reloading its history while a push is on its way) tells them apart by it.
    message_id: str | None = None


class InvalidPayload(ValueError):
    """The request is not a valid message of this channel; `detail` says why, for a 4xx."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadSignature(Exception):
    """The request is not from the channel (or not for this account): answer 403."""


class DeliveryError(Exception):
    """A send failed. `permanent` means retrying cannot help; `retry_after` is in seconds."""

    def __init__(self, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code  # why, for the service: "window_closed", "blocked", ...


class Sender(Protocol):
    """The *out* half of a channel."""

    channel: str

    async def send(self, message: Outbound) -> None:
        """Deliver or raise DeliveryError."""
        ...


class ChannelMemory(Protocol):
    """Small key-value memory the service gives a channel (an offset, a token)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def lock(self, key: str) -> AbstractContextManager[None]:
        """Held by one worker at a time, across processes where the store allows."""
        ...


_SENTENCE_ENDS = "。！？；!?;"


def split_within(text: str, limit: int, cost: Callable[[str], int]) -> list[str]:
    """`text` in parts whose characters cost at most `limit` together, `cost` being the
    channel's measure of one character (UTF-16 units, UTF-8 bytes). Broken at the last line
    break in the window, else after the last sentence end, else at the last space, else hard
    (never inside a character). Parts are stripped; empty parts are dropped."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        cut = _prefix_within(rest, limit, cost)
        if cut < len(rest):
            window = rest[:cut]
            floor = cut // 2    # do not break so early that parts become tiny
            brk = window.rfind("\n")
            if brk < floor:
                brk = max(window.rfind(c) for c in _SENTENCE_ENDS)
                brk = brk + 1 if brk >= floor else -1
            if brk < floor:
                brk = window.rfind(" ")
            if brk >= floor and brk > 0:
                cut = brk
        part = rest[:cut].strip()
        if part:
            parts.append(part)
        rest = rest[cut:].strip()
    return parts


def _prefix_within(text: str, limit: int, cost: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit` (at least one, so a split always moves)."""
    used = 0
    for i, char in enumerate(text):
        used += cost(char)
        if used > limit:
            return max(1, i)
    return len(text)
