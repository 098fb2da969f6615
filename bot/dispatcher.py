"""The outbox dispatcher: sends queued replies through their channel's sender, with retries.

It survives restarts because the queue is the `outbox` table: whatever was pending when the
service stopped is sent when it starts again. A send that fails is retried with exponential
backoff (or after the channel's own retry_after) until delivered or given up and recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from channels.base import DeliveryError, Outbound, QuickReply, Sender

from .live import Bulletin
from .metrics import Metrics
from .settings import Settings
from .store import cases, conversations, outbox
from .store.db import unavailable

log = logging.getLogger(__name__)
_Item = outbox.Due
_Outcome = tuple[int, int | None, DeliveryError | None]  # id, attempt (None: held), error
BACKOFF_BASE = 2.0
BACKOFF_MAX = 600.0


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, 4 ... capped at ten minutes)."""
    return min(BACKOFF_MAX, BACKOFF_BASE ** max(0, attempt - 1))


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], senders: dict[str, Sender],
                 settings: Settings, metrics: Metrics,
                 clock: Callable[[], datetime] | None = None,
                 bulletin: Bulletin | None = None,
                 transaction: Callable[[], AbstractContextManager[Session]] | None = None
                 ) -> None:
        self.sessions = sessions
        # Write transactions (on SQLite the pipeline's, which take turns with its writer).
        self.transaction = transaction or sessions.begin
        self.bulletin = bulletin
        self.senders = senders
        self.settings = settings
        self.metrics = metrics
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows are waiting: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.dispatch_once()
            except Exception as exc:  # keep the loop alive; the rows stay queued
                if unavailable(exc):  # an outage: one line per poll, not a traceback each
                    log.warning("outbox dispatch waits for the store: %s", type(exc).__name__)
                else:
                    log.exception("outbox dispatch failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waiter = asyncio.create_task(self._wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=self.settings.outbox_poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def dispatch_once(self) -> int:
        """Send what is due; the number of rows handled.

        Each customer's replies go out in order, one after another; different customers'
        replies go out concurrently, so one chat waiting on its rate limit holds up no other.
        """
        channels = tuple(self.senders)
        items = await asyncio.to_thread(self._claim, channels)
        groups: dict[tuple[str, str], list[_Item]] = defaultdict(list)
        for item in items:
            groups[(item[1], item[2])].append(item)
        outcomes = await asyncio.gather(*(self._send_in_order(g) for g in groups.values()))
        await asyncio.to_thread(self._record, [o for group in outcomes for o in group])
        return len(items)

    async def _send_in_order(self, items: list[_Item]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        for index, (item_id, channel, recipient, payload, attempts, queued, message_id) in \
                enumerate(items):
            message = Outbound(channel=channel, user_id=recipient, text=payload["text"],
                               quick_replies=tuple(QuickReply(q["label"], q["payload"])
                                                   for q in payload.get("quick_replies", [])),
                               ref=str(item_id), queued_at=queued, asks=payload.get("asks"),
                               message_id=str(message_id))
            try:
                await self.senders[channel].send(message)
            except Exception as exc:
                if not isinstance(exc, DeliveryError):  # a sender bug: retry like any failure
                    log.exception("sender %s failed", channel)
                    exc = DeliveryError(f"{type(exc).__name__}: {exc}")
                self.metrics.send_failures.labels(channel).inc()
                outcomes.append((item_id, attempts + 1, exc))
                # The rest of this chat's replies wait behind it, to stay in order.
                outcomes.extend((later[0], None, exc) for later in items[index + 1:])
                break
            self.metrics.messages_out.labels(channel).inc()
            outcomes.append((item_id, attempts + 1, None))
        return outcomes

    def _record(self, outcomes: list[_Outcome]) -> None:
        """Write down every send of one round in one transaction."""
        if not outcomes:
            return
        now = self.clock()
        retry_at: dict[int, datetime | None] = {}
        with self.transaction() as session:
            sent = [item_id for item_id, _, error in outcomes if error is None]
            for _, conversation_id, payload in outbox.mark_all_delivered(session, sent, now):
                if payload.get("agent"):
                    self._announce(session, conversation_id)
            for item_id, attempt, error in outcomes:
                if error is None:
                    continue
                if attempt is None:  # held back behind a failed earlier reply
                    until = retry_at.get(id(error))
                    outbox.hold(session, item_id, until or now)
                    continue
                give_up = error.permanent or attempt >= self.settings.outbox_max_attempts
                delay = error.retry_after if error.retry_after is not None else backoff(attempt)
                until = None if give_up else now + timedelta(seconds=delay)
                retry_at[id(error)] = until
                item = outbox.mark_failed(session, item_id, str(error), now, retry_at=until)
                if give_up and item is not None:
                    log.warning("outbox %s given up after %s attempts: %s", item_id, attempt,
                                error)
                    self._call_back(session, item.conversation_id, error, now)
                if item is not None and item.payload.get("agent"):
                    self._announce(session, item.conversation_id)

    def _announce(self, session: Session, conversation_id: int) -> None:
        """An agent's message changed its delivery state: the console shows it."""
        if self.bulletin is not None:
            self.bulletin.post(session, "delivery", conversation_id)

    def _call_back(self, session: Session, conversation_id: int, error: DeliveryError,
                   now: datetime) -> None:
        """A reply that can never reach the customer: an agent must call them back."""
        conversation = conversations.get(session, conversation_id)
        if conversation is not None:
            conversations.flag_callback(conversation, "reply_undelivered", now)
        case = cases.latest_for_conversation(session, conversation_id)
        if case is None:  # nothing filed yet: the conversation itself carries the flag
            return
        cases.flag_callback(session, case, "reply_undelivered", now,
                            detail=error.code or str(error)[:200])

    def _claim(self, channels: tuple[str, ...]) -> list[_Item]:
        with self.transaction() as session:
            return outbox.claim_due(session, self.clock(), channels=channels)
