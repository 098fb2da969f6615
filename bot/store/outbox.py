"""Owner of `outbox`: replies waiting for delivery, their attempts and their fate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from . import raw
from .models import Message, OutboxItem

LEASE = timedelta(seconds=60)  # a claimed row is retried after this if its sender died


def enqueue(session: Session, message: Message, *, recipient: str, payload: dict[str, Any],
            now: datetime, delivered: bool = False,
            hold_until: datetime | None = None) -> OutboxItem:
    """Queue `message` for its channel; `delivered` when it already went out in the response.

    `hold_until` keeps the row from the dispatcher until then, so that the request being
    answered may take it as its response instead (`take_for_response`).
    """
    item = OutboxItem(**_fresh(now, delivered, hold_until))
    item.message_id, item.conversation_id = message.id, message.conversation_id
    item.channel, item.recipient, item.payload = message.channel, recipient, payload
    item.created_at = now
    session.add(item)
    return item


def _fresh(now: datetime, delivered: bool, hold_until: datetime | None) -> dict[str, Any]:
    """A new row's delivery columns: answered in the response already, held for it, or
    waiting for the dispatcher."""
    if delivered:
        return {"status": "delivered", "via": "response", "attempts": 1,
                "next_attempt_at": now, "delivered_at": now}
    return {"status": "pending", "via": "held" if hold_until else None, "attempts": 0,
            "next_attempt_at": hold_until or now, "delivered_at": None}


_items = OutboxItem.__table__
_ITEM_COLUMNS = ("message_id", "conversation_id", "channel", "recipient", "payload", "status",
                 "via", "attempts", "next_attempt_at", "delivered_at", "last_error",
                 "created_at")
_INSERT_ITEM = raw.Statement(insert(_items).values({c: bindparam(c) for c in _ITEM_COLUMNS})
                             .returning(_items.c.id))


def enqueue_replies(session: Session, message_ids: list[int], *, conversation_id: int,
                    channel: str, recipient: str, payloads: list[dict[str, Any]],
                    now: datetime, delivered: bool = False,
                    hold_until: datetime | None = None) -> list[int]:
    """`enqueue` for the bot's replies to one message, without ORM objects; the rows' ids."""
    at = raw.bind_time(session, now)
    common = _fresh(now, delivered, hold_until)
    for column in ("next_attempt_at", "delivered_at"):
        common[column] = raw.bind_time(session, common[column])
    return [int(_INSERT_ITEM.run(session, {
        **common, "message_id": message_id, "conversation_id": conversation_id,
        "channel": channel, "recipient": recipient, "payload": raw.bind_json(payload),
        "last_error": None, "created_at": at}).fetchone()[0])
        for message_id, payload in zip(message_ids, payloads, strict=True)]


def take_for_response(session: Session, item_ids: tuple[int, ...],
                      clock: Callable[[], datetime], deadline: datetime) -> bool:
    """Claim held rows as answered in the response: all of them or none.

    True also when they were already answered in a response (WeChat retries a request
    whose answer it never got, and that answer must be given again); False when the
    dispatcher has them, or will, or when the rows are locked past `deadline` (an answer
    after it would not be received): then the request must not answer with them.
    """
    if not item_ids:
        return True
    query = select(OutboxItem).where(OutboxItem.id.in_(item_ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    items = list(session.scalars(query))
    now = clock()  # after the lock: waiting for it may have used up the time
    if len(items) != len(item_ids) or now >= deadline:
        return False
    if all(i.status == "delivered" and i.via == "response" for i in items):
        return True
    first = min(items, key=lambda i: i.id)
    if session.scalar(select(func.count()).select_from(OutboxItem).where(
            *_pending_before(OutboxItem, first.channel, first.recipient, first.id))):
        return False  # an older reply is still on its way: this one must not overtake it
    if not all(i.status == "pending" and i.via == "held" and i.next_attempt_at > now
               for i in items):
        return False
    for item in items:
        item.status, item.via, item.attempts = "delivered", "response", 1
        item.delivered_at = now
    return True


def release(session: Session, item_ids: tuple[int, ...], now: datetime, *,
            redeliver: bool = False) -> None:
    """The request gave up answering with these: the dispatcher may send them now.

    `redeliver`: rows an earlier response carried go out again too (that response was lost).
    """
    if not item_ids:
        return
    for item in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(item_ids))):
        if item.status == "pending" and item.via == "held":
            item.next_attempt_at = now
        elif redeliver and item.status == "delivered" and item.via == "response":
            item.status, item.via, item.delivered_at = "pending", None, None
            item.next_attempt_at = now


Due = tuple[int, str, str, dict[str, Any], int, datetime, int]
"""A row claimed for sending: id, channel, recipient, payload, attempts so far, queued at,
message id."""


def claim_due(session: Session, now: datetime, limit: int = 50,
              channels: tuple[str, ...] | None = None) -> list[Due]:
    """Take due rows for sending: leased, so another worker skips them meanwhile.

    A row waits while an earlier reply to the same recipient is still pending but not due
    (backing off, leased, or held for a response): a customer reads replies in order.
    Two statements (select, then lease), no ORM objects: the dispatcher runs this for
    every reply the API sends.
    """
    earlier = _items.alias("earlier")
    blocked = (select(earlier.c.id).where(
        *_pending_before(earlier.c, _items.c.channel, _items.c.recipient, _items.c.id),
        earlier.c.next_attempt_at > now).exists())
    query = (select(_items.c.id, _items.c.channel, _items.c.recipient, _items.c.payload,
                    _items.c.attempts, _items.c.created_at, _items.c.message_id)
             .where(_items.c.status == "pending", _items.c.next_attempt_at <= now, ~blocked)
             .order_by(_items.c.id).limit(limit))
    if channels is not None:
        query = query.where(_items.c.channel.in_(channels))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    connection = session.connection()
    rows: list[Due] = [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]
    if rows:
        connection.execute(update(_items).where(_items.c.id.in_([r[0] for r in rows]))
                           .values(next_attempt_at=now + LEASE, via="api"))
    return rows


def mark_all_delivered(session: Session, item_ids: list[int], now: datetime
                       ) -> list[tuple[int, int, dict[str, Any]]]:
    """Rows sent through the API: delivered now, in one statement. The rows that changed,
    as (id, conversation id, payload); rows delivered before are left alone."""
    if not item_ids:
        return []
    changed = session.connection().execute(
        update(_items).where(_items.c.id.in_(item_ids), _items.c.status != "delivered")
        .values(status="delivered", attempts=_items.c.attempts + 1, delivered_at=now,
                last_error=None)
        .returning(_items.c.id, _items.c.conversation_id, _items.c.payload))
    return [(row[0], row[1], row[2]) for row in changed]


def _delivered(item: OutboxItem, now: datetime, via: str | None = None) -> None:
    item.status = "delivered"
    item.attempts += 1
    item.delivered_at = now
    item.last_error = None
    if via is not None:
        item.via = via


def enqueue_unreachable(session: Session, message: Message, *, recipient: str,
                        payload: dict[str, Any], error: str, now: datetime) -> OutboxItem:
    """Keep a message the channel cannot carry now (WeChat's window closed) as failed, so
    it is on record, shown as not delivered, and never sent late."""
    item = OutboxItem(status="failed", via=None, attempts=0, next_attempt_at=now,
                      last_error=error[:2000], created_at=now)
    item.message_id, item.conversation_id = message.id, message.conversation_id
    item.channel, item.recipient, item.payload = message.channel, recipient, payload
    session.add(item)
    return item


def pending_for(session: Session, message_ids: list[int]) -> list[int]:
    """Which of these messages still wait in the outbox."""
    if not message_ids:
        return []
    return list(session.scalars(select(OutboxItem.id).where(
        OutboxItem.message_id.in_(message_ids), OutboxItem.status == "pending")))


def shown_elsewhere(session: Session, item_ids: list[int], now: datetime, via: str
                    ) -> list[OutboxItem]:
    """The customer has these already (a web chat page read them in its history): delivered,
    not sent again. The rows that changed."""
    changed = []
    for item in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(item_ids))):
        if item.status == "pending":
            _delivered(item, now, via)
            changed.append(item)
    return changed


def states(session: Session, message_ids: list[int]) -> dict[int, OutboxItem]:
    """Outbox rows by message id: how each message's delivery stands."""
    if not message_ids:
        return {}
    return {item.message_id: item for item in session.scalars(
        select(OutboxItem).where(OutboxItem.message_id.in_(message_ids)))}


def mark_failed(session: Session, item_id: int, error: str, now: datetime, *,
                retry_at: datetime | None) -> OutboxItem | None:
    """Record a failed attempt; `retry_at` None means give up for good."""
    item = session.get(OutboxItem, item_id)
    if item is None or item.status == "delivered":
        return None
    item.attempts += 1
    item.last_error = error[:2000]
    if retry_at is None:
        item.status = "failed"
    else:
        item.next_attempt_at = retry_at
    return item


def hold(session: Session, item_id: int, until: datetime) -> None:
    """Put a claimed row back, due at `until`, without counting an attempt."""
    item = session.get(OutboxItem, item_id)
    if item is not None and item.status == "pending":
        item.next_attempt_at = until


def for_messages(session: Session, message_ids: list[int]) -> dict[int, int]:
    """Outbox row id by message id."""
    if not message_ids:
        return {}
    rows = session.execute(select(OutboxItem.message_id, OutboxItem.id)
                           .where(OutboxItem.message_id.in_(message_ids)))
    return {message_id: item_id for message_id, item_id in rows}


def _pending_before(rows: Any, channel: Any, recipient: Any, item_id: Any) -> tuple[Any, ...]:
    """Conditions on `rows` for replies to the same recipient queued before `item_id` and
    not yet delivered: a customer reads their replies in order."""
    return (rows.channel == channel, rows.recipient == recipient, rows.status == "pending",
            rows.id < item_id)


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxItem)
                          .where(OutboxItem.status == "pending")) or 0


def get(session: Session, item_id: int) -> OutboxItem | None:
    return session.get(OutboxItem, item_id)
