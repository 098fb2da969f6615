"""A case's evidence on its page: the ID-card and card numbers the customer sent (masked; a
lead reveals one for a stated reason, audited) and the files they sent (photos, documents,
voice), fetched back through their channel's API when someone opens one (audited).

`view(session, case)` is what the case page shows (see templates/_evidence.html); `reveal`
and `fetch` are the two actions behind evidence_routes.py. Clear numbers are never written
to logs or case_events: they exist only in the one response that shows them.
"""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from workflow.extract.sensitive import find_sensitive, redact

from ..console.rules import Actor, Refused
from ..store import attachments, audit, cases, vault
from ..store.models import Case
from .views import NUMBER, may_see

MAX_FILE_BYTES = 20 * 1024 * 1024  # what Telegram lets a bot download; WeChat's images are less
MIN_REASON, MAX_REASON = 4, 500
# Shown inline (and as thumbnails); every other type is a download, and one that a browser
# could run (HTML, SVG, XML, scripts) goes out as application/octet-stream.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
SAFE_DOWNLOAD_PREFIXES = ("image/", "audio/", "video/", "application/pdf", "text/plain",
                          "application/msword", "application/vnd.", "application/zip")
UNSAFE_TYPES = frozenset({"image/svg+xml"})
# Telegram photos are JPEG; WeChat voice is AMR unless it says otherwise.
_KIND_TYPES = {("telegram", "image"): "image/jpeg", ("wechat", "image"): "image/jpeg",
               ("wechat", "voice"): "audio/amr"}


# ---- what the page shows -----------------------------------------------------------------


def view(session: Session, case: Case) -> dict[str, Any]:
    """{"case_number", "numbers": [{id, kind, masked, at}], "attachments": [{message_id,
    index, kind, name, size, at, url, is_image}]} (times ISO 8601, for the template's
    `local`). The caller has checked that the reader may see the case."""
    numbers = [{"id": v.id, "kind": v.kind, "masked": v.masked, "at": v.created_at.isoformat()}
               for v in vault.of_case(session, case.id, case.conversation_id)]
    files = attachments.of_conversation(session, case.conversation_id) \
        if case.conversation_id is not None else []
    return {"case_number": case.number, "numbers": numbers,
            "attachments": [_attachment_row(case.number, a) for a in files]}


def read(service: Any, actor: Actor, number: str) -> dict[str, Any]:
    """`view` of case `number` for the actor (Refused: 404 unknown, 403 not theirs)."""
    with service.sessions() as session:
        case = cases.by_number(session, number) if NUMBER.match(number) else None
        if case is None:
            raise Refused("evidence_no_case", 404)
        may_see(actor, case)
        return view(session, case)


def _attachment_row(number: str, a: attachments.Stored) -> dict[str, Any]:
    size = a.meta.get("file_size")
    return {"message_id": a.message_id, "index": a.index, "kind": a.kind,
            "name": _name(a), "size": size if isinstance(size, int) else None,
            "at": a.at.isoformat(), "channel": a.channel,
            "url": f"/console/cases/{quote(number)}/attachments/{a.message_id}/{a.index}",
            "is_image": _content_type(a, None) in INLINE_TYPES}


def _name(a: attachments.Stored) -> str | None:
    for key in ("file_name", "Title"):  # Telegram documents; WeChat files
        value = a.meta.get(key)
        if isinstance(value, str) and value.strip():
            return redact(value.strip()[:200], find_sensitive(value.strip()[:200]))
    return None


def _content_type(a: attachments.Stored, served: str | None) -> str:
    """What the file is, by what the channel told when it arrived, its name, what the file
    server says, and the kind of message it came in."""
    declared = a.meta.get("mime_type")
    candidates = [declared if isinstance(declared, str) else None]
    name = _name(a)
    if name:
        candidates.append(mimetypes.guess_type(name)[0])
    candidates.append(_KIND_TYPES.get((a.channel, a.kind)))
    candidates.append(served.split(";")[0].strip().lower() if served else None)
    for found in candidates:
        if found and found != "application/octet-stream":
            return found.lower()
    return "application/octet-stream"


# ---- revealing a number --------------------------------------------------------------------


@dataclass(frozen=True)
class Revealed:
    number: str
    value_id: int
    kind: str
    masked: str
    clear: str
    reason: str
    at: datetime


def clean_reason(reason: str) -> str:
    """The reason as kept in the audit: stripped, numbers in it masked."""
    text = " ".join(reason.replace("\x00", "").split())[:MAX_REASON]
    return redact(text, find_sensitive(text))


def reveal(service: Any, actor: Actor, number: str, value_id: int, reason: str,
           address: str | None) -> Revealed:
    """A lead reveals one of the case's numbers, with its reason; audited either way.
    Refused: 403 not a lead (audited), 404 unknown case or a value not of this case, 422
    no reason, 409 the key that sealed it is gone."""
    now = datetime.now(UTC)
    subject = f"case:{number.upper()[:32]}"
    with service.pipeline.transaction() as session:
        outcome = _reveal(session, service.settings, actor, number, value_id, reason,
                          subject, address, now)
    if isinstance(outcome, Refused):
        raise outcome
    return outcome


def _reveal(session: Session, settings: Any, actor: Actor, number: str, value_id: int,
            reason: str, subject: str, address: str | None, now: datetime
            ) -> Revealed | Refused:
    def refused(code: str, status: int, **detail: Any) -> Refused:
        audit.record(session, actor=actor.label, action="reveal_refused", subject=subject,
                     now=now, address=address, detail={"value_id": value_id, "why": code,
                                                       **detail})
        return Refused(code, status)

    if not actor.is_lead:
        return refused("evidence_lead_only", 403)
    case = cases.by_number(session, number) if NUMBER.match(number) else None
    if case is None:
        return Refused("evidence_no_case", 404)
    value = vault.find_of_case(session, value_id, case.id, case.conversation_id)
    if value is None:
        return Refused("evidence_no_value", 404)
    why = clean_reason(reason)
    if len(why) < MIN_REASON:
        return Refused("evidence_reason", 422)
    try:
        clear = vault.reveal(settings, value)
    except (vault.Unreadable, vault.VaultUnavailable):
        return refused("evidence_unreadable", 409, kind=value.kind, masked=value.masked)
    audit.record(session, actor=actor.label, action="reveal", subject=subject, now=now,
                 address=address, detail={"value_id": value.id, "kind": value.kind,
                                          "masked": value.masked, "reason": why})
    return Revealed(case.number, value.id, value.kind, value.masked, clear, why, now)


# ---- a file the customer sent --------------------------------------------------------------


@dataclass(frozen=True)
class File:
    content: bytes
    content_type: str
    inline: bool
    name: str


class Unavailable(Exception):
    """The file cannot be had: `code` names the text (evidence.<code>), `status` the answer
    (502 the channel failed, 503 the channel is not configured here, 413 too large)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code, self.status = code, status


def locate(service: Any, actor: Actor, number: str, message_id: int, index: int
           ) -> tuple[str, attachments.Stored]:
    """(case number, the file) when the actor may see it; Refused 404/403 otherwise."""
    with service.sessions() as session:
        case = cases.by_number(session, number) if NUMBER.match(number) else None
        if case is None:
            raise Refused("evidence_no_case", 404)
        may_see(actor, case)
        found = attachments.find(session, case.conversation_id, message_id, index) \
            if case.conversation_id is not None else None
        if found is None:
            raise Refused("evidence_no_file", 404)
        return case.number, found


async def fetch(service: Any, found: attachments.Stored) -> File:
    """The file's bytes through its channel's API (Unavailable when that cannot be)."""
    if found.channel == "telegram":
        content, served, path = await _from_telegram(service, found)
    elif found.channel == "wechat":
        content, served, path = await _from_wechat(service, found)
    else:
        raise Unavailable("unsupported_channel", 502)
    kind = _content_type(found, served)
    name = _name(found) or _default_name(found, path, kind)
    if kind in UNSAFE_TYPES or not kind.startswith(SAFE_DOWNLOAD_PREFIXES):
        kind = "application/octet-stream"
    return File(content, kind, kind in INLINE_TYPES, name)


def _default_name(found: attachments.Stored, path: str | None, kind: str) -> str:
    suffix = ""
    if path and "." in path.rpartition("/")[2]:
        suffix = "." + path.rpartition(".")[2][:8]
    else:
        suffix = mimetypes.guess_extension(kind) or ""
    return f"{found.kind}-{found.message_id}-{found.index}{suffix}"


async def _from_telegram(service: Any, found: attachments.Stored
                         ) -> tuple[bytes, str | None, str | None]:
    channel = getattr(service, "telegram", None)
    if channel is None:
        raise Unavailable("not_configured", 503)
    from channels.telegram.files import DownloadFailed, download

    try:
        got = await download(channel.bot, found.ref, limit=MAX_FILE_BYTES)
    except DownloadFailed as exc:
        raise Unavailable("too_large" if exc.too_large else "channel_failed",
                          413 if exc.too_large else 502) from None
    return got.content, got.content_type, got.path


async def _from_wechat(service: Any, found: attachments.Stored
                       ) -> tuple[bytes, str | None, str | None]:
    channel = getattr(service, "wechat", None)
    if channel is None:
        raise Unavailable("not_configured", 503)
    from channels.wechat import MediaFailed

    try:
        got = await asyncio.to_thread(channel.client.fetch_media, found.ref, MAX_FILE_BYTES)
    except MediaFailed as exc:
        if exc.too_large:
            raise Unavailable("too_large", 413) from None
        raise Unavailable("expired" if exc.errcode == 40007 else "channel_failed",
                          502) from None
    except Exception:  # the token endpoint down, a network fault inside wechatpy
        raise Unavailable("channel_failed", 502) from None
    return got.content, got.content_type, got.name


def record_view(service: Any, actor: Actor, number: str, found: attachments.Stored,
                file: File, address: str | None) -> None:
    """Audit that the actor opened the file."""
    with service.pipeline.transaction() as session:
        audit.record(session, actor=actor.label, action="attachment_view",
                     subject=f"case:{number}", now=datetime.now(UTC), address=address,
                     detail={"message_id": found.message_id, "index": found.index,
                             "kind": found.kind, "content_type": file.content_type,
                             "bytes": len(file.content)})


def disposition(file: File) -> str:
    """Content-Disposition: inline for images, attachment otherwise, the name in RFC 5987
    form with an ASCII fallback."""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                         for c in file.name)[:100] or "file"
    return (f"{'inline' if file.inline else 'attachment'}; filename=\"{ascii_name}\"; "
            f"filename*=UTF-8''{quote(file.name[:200], safe='')}")
