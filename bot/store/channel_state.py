"""Owner of `channel_state`: the small memory channels keep across restarts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from .models import ChannelState


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
