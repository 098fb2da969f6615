"""Owner of `canned_replies`: the prepared answers agents pick in the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CannedReply


def for_language(session: Session, lang: str | None = None) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.lang, CannedReply.title)
    if lang is not None:
        query = query.where(CannedReply.lang == lang)
    return list(session.scalars(query))


def get(session: Session, reply_id: int) -> CannedReply | None:
    return session.get(CannedReply, reply_id)


class TitleTaken(ValueError):
    """Another canned reply in that language has this title."""


def save(session: Session, *, reply_id: int | None, lang: str, title: str, text: str,
         actor: str, now: datetime) -> CannedReply:
    taken = session.scalar(select(CannedReply.id).where(
        CannedReply.lang == lang, CannedReply.title == title))
    if taken is not None and taken != reply_id:
        raise TitleTaken(title)
    reply = session.get(CannedReply, reply_id) if reply_id is not None else None
    if reply is None:
        reply = CannedReply(lang=lang, title=title, text=text, updated_by=actor, updated_at=now)
        session.add(reply)
    else:
        reply.lang, reply.title, reply.text = lang, title, text
        reply.updated_by, reply.updated_at = actor, now
    session.flush()
    return reply


def delete(session: Session, reply: CannedReply) -> None:
    session.delete(reply)
