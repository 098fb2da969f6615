"""Owner of `audit_events`: what every console user did, on what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditEvent


def record(session: Session, *, actor: str, action: str, subject: str | None, now: datetime,
           detail: dict[str, Any] | None = None, address: str | None = None) -> None:
    session.add(AuditEvent(actor=actor[:80], action=action[:40], subject=subject,
                           detail=detail, address=(address or None) and address[:64], at=now))


def for_subject(session: Session, subject: str, limit: int = 200) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.subject == subject)
                                .order_by(AuditEvent.id.desc()).limit(limit)))


def latest(session: Session, *, actor: str | None = None, action: str | None = None,
           limit: int = 100) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def count(session: Session, *, actor: str, action: str, since: datetime) -> int:
    """How many times `actor` did `action` since then (rate limits)."""
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.actor == actor, AuditEvent.action == action,
        AuditEvent.at >= since)) or 0
