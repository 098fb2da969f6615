"""Owner of `outbox`: replies waiting for delivery, their attempts and their fate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Message, OutboxItem

LEASE = timedelta(seconds=60)  # a claimed row is retried after this if its sender died


def enqueue(session: Session, message: Message, *, recipient: str, payload: dict[str, Any],
            now: datetime, delivered: bool = False) -> OutboxItem:
    """Queue `message` for its channel; `delivered` when it already went out in the response."""
    item = OutboxItem(message_id=message.id, conversation_id=message.conversation_id,
                      channel=message.channel, recipient=recipient, payload=payload,
                      status="delivered" if delivered else "pending",
                      attempts=1 if delivered else 0, next_attempt_at=now,
                      delivered_at=now if delivered else None, created_at=now)
    session.add(item)
    return item


def claim_due(session: Session, now: datetime, limit: int = 50,
              channels: tuple[str, ...] | None = None) -> list[OutboxItem]:
    """Take due rows for sending: leased, so another worker skips them meanwhile."""
    query = (select(OutboxItem).where(OutboxItem.status == "pending",
                                      OutboxItem.next_attempt_at <= now)
             .order_by(OutboxItem.id).limit(limit))
    if channels is not None:
        query = query.where(OutboxItem.channel.in_(channels))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    items = list(session.scalars(query))
    for item in items:
        item.next_attempt_at = now + LEASE
    return items


def mark_delivered(session: Session, item_id: int, now: datetime) -> None:
    item = session.get(OutboxItem, item_id)
    if item is not None and item.status != "delivered":
        item.status = "delivered"
        item.attempts += 1
        item.delivered_at = now
        item.last_error = None


def mark_failed(session: Session, item_id: int, error: str, now: datetime, *,
                retry_at: datetime | None) -> None:
    """Record a failed attempt; `retry_at` None means give up for good."""
    item = session.get(OutboxItem, item_id)
    if item is None or item.status == "delivered":
        return
    item.attempts += 1
    item.last_error = error[:2000]
    if retry_at is None:
        item.status = "failed"
    else:
        item.next_attempt_at = retry_at


def hold(session: Session, item_id: int, until: datetime) -> None:
    """Put a claimed row back, due at `until`, without counting an attempt."""
    item = session.get(OutboxItem, item_id)
    if item is not None and item.status == "pending":
        item.next_attempt_at = until


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxItem)
                          .where(OutboxItem.status == "pending")) or 0


def get(session: Session, item_id: int) -> OutboxItem | None:
    return session.get(OutboxItem, item_id)
