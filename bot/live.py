"""Tells every open console what changed, in this process and in every other one.

A notice is small: what happened and to which conversation; consoles then read the store
again, so a notice never carries customer data and a lost one costs only a refresh.

On PostgreSQL a notice is a `NOTIFY` sent inside the transaction that made the change, so it
goes out exactly when (and only if) the change commits, to the listeners of every service
process; each process LISTENs on one connection of its own. On SQLite (one process) it is
handed to this process's consoles after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
CHANNEL = "intake_console"
QUEUE_SIZE = 200  # notices one slow console may lag behind; the oldest are dropped
_PENDING = "bulletin_notices"


def announce(session: Session, kind: str, conversation_id: int | None = None,
             **extra: Any) -> None:
    """Tell the consoles of every service process, from any process (the CLI too), once the
    session's transaction commits: PostgreSQL only (on SQLite one process serves, and its
    consoles catch up on their next refresh)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    notice = {"kind": kind, "conversation_id": conversation_id, **extra}
    session.execute(text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": json.dumps(notice)})


class Bulletin:
    def __init__(self, db: Database, sessions: sessionmaker[Session]) -> None:
        self.db = db
        self.postgres = db.dialect.name == "postgresql"
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        if not self.postgres:
            event.listen(sessions, "after_commit", self._after_commit)
            event.listen(sessions, "after_rollback", self._after_rollback)

    # ---- posting (inside a transaction, any thread) ---------------------------------------

    def post(self, session: Session, kind: str, conversation_id: int | None = None,
             **extra: Any) -> None:
        """Announce `kind` (handoff, message, taken, released, closed, filed, delivery...)
        once the session's transaction commits."""
        if self.postgres:
            announce(session, kind, conversation_id, **extra)
        else:
            notice = {"kind": kind, "conversation_id": conversation_id, **extra}
            session.info.setdefault(_PENDING, []).append(notice)

    def _after_commit(self, session: Session) -> None:
        for notice in session.info.pop(_PENDING, []):
            self._deliver(notice)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def _deliver(self, notice: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(self._fan_out, notice)

    def _fan_out(self, notice: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a console that does not keep up misses the oldest notice
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(notice)

    # ---- listening (the event loop) -------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver notices until `stop`; on PostgreSQL, LISTEN (reconnecting after a failure,
        then telling consoles to read everything again: notices may have been missed)."""
        self._loop = asyncio.get_running_loop()
        if not self.postgres:
            await stop.wait()
            return
        delay = 0.5
        while not stop.is_set():
            listener = asyncio.create_task(self._listen())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({listener, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not listener.done():
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
                return
            exc = listener.exception()
            log.warning("console notices: listener stopped (%s); reconnecting",
                        type(exc).__name__ if exc else "closed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 10.0)

    async def _listen(self) -> None:
        import psycopg

        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            self._fan_out({"kind": "resync", "conversation_id": None})
            async for notify in conn.notifies():
                try:
                    notice = json.loads(notify.payload)
                except ValueError:
                    continue
                self._fan_out(notice)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
