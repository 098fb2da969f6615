"""Owner of `channel_state`: the small memory channels keep across restarts."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from .models import ChannelState

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


class StoreMemory:
    """A `channels.base.ChannelMemory` backed by the store, one key prefix per channel."""

    def __init__(self, sessions: sessionmaker[Session], prefix: str) -> None:
        self._sessions = sessions
        self._prefix = prefix

    def get(self, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(ChannelState, f"{self._prefix}:{key}")
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with self._sessions.begin() as session:
            full = f"{self._prefix}:{key}"
            row = session.get(ChannelState, full)
            now = datetime.now(UTC)
            if row is None:
                session.add(ChannelState(key=full, value=value, updated_at=now))
            else:
                row.value, row.updated_at = value, now

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """One holder at a time: every worker process on PostgreSQL (an advisory lock on a
        connection of its own), every thread of this process on SQLite (one process owns
        the embedded file)."""
        full = f"{self._prefix}:{key}"
        with _local_lock(full):
            bind = self._sessions.kw.get("bind")
            if bind is None or bind.dialect.name != "postgresql":
                yield
                return
            number = int.from_bytes(hashlib.sha256(full.encode()).digest()[:8], "big",
                                    signed=True)
            with bind.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:n)"), {"n": number})
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                    connection.commit()


@contextmanager
def _local_lock(key: str) -> Iterator[None]:
    with _local_locks_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    with lock:
        yield
