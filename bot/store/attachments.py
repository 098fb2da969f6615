"""Reads the files customers sent (photos, documents, voice) as the pipeline kept them: in an
inbound message's `raw["attachments"]`, each {kind, ref (the channel's file id), meta}."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Message


@dataclass(frozen=True)
class Stored:
    message_id: int
    index: int
    channel: str
    kind: str  # image | file | voice | video | other
    ref: str
    meta: dict[str, Any]
    at: datetime


def _of(message_id: int, channel: str, raw: Any, at: datetime) -> list[Stored]:
    found = raw.get("attachments") if isinstance(raw, dict) else None
    if not isinstance(found, list):
        return []
    out = []
    for index, item in enumerate(found):
        if not isinstance(item, dict) or not isinstance(item.get("ref"), str) or \
                not item["ref"]:
            continue
        meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
        out.append(Stored(message_id, index, channel, str(item.get("kind") or "other"),
                          item["ref"], meta, at))
    return out


def of_conversation(session: Session, conversation_id: int) -> list[Stored]:
    """Every file the customer sent in the conversation, oldest first."""
    rows = session.execute(select(Message.id, Message.channel, Message.raw, Message.created_at)
                           .where(Message.conversation_id == conversation_id,
                                  Message.direction == "in")
                           .order_by(Message.id))
    return [a for row in rows for a in _of(row.id, row.channel, row.raw, row.created_at)]


def find(session: Session, conversation_id: int, message_id: int, index: int) -> Stored | None:
    """One file of the conversation; None for another conversation's message or no such file."""
    row = session.execute(select(Message.id, Message.channel, Message.raw, Message.created_at)
                          .where(Message.id == message_id,
                                 Message.conversation_id == conversation_id,
                                 Message.direction == "in")).first()
    if row is None:
        return None
    for stored in _of(row.id, row.channel, row.raw, row.created_at):
        if stored.index == index:
            return stored
    return None
