"""Owner of `options`: service options a lead sets in the console (automatic assignment),
and the small state that goes with them (whose turn it is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Option


def get(session: Session, key: str, default: Any = None) -> Any:
    """The option's value, or `default` when it was never set."""
    row = session.get(Option, key)
    return default if row is None else row.value


def locked(session: Session, key: str) -> Option | None:
    """The option's row, locked until the transaction ends (PostgreSQL; SQLite has one
    writer anyway): what reads it and then acts takes turns with everyone else doing so."""
    return session.scalar(select(Option).where(Option.key == key).with_for_update()
                          .execution_options(populate_existing=True))


def put(session: Session, key: str, value: Any, *, actor: str, now: datetime) -> Any:
    """Set the option (created on first use, race-free); its value before (None if unset)."""
    before = locked(session, key)
    was = None if before is None else before.value
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Option).values(key=key, value=value, updated_by=actor[:80], updated_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[Option.key],
        set_={"value": stmt.excluded.value, "updated_by": stmt.excluded.updated_by,
              "updated_at": stmt.excluded.updated_at}))
    if before is not None:
        session.expire(before)  # the upsert went round the identity map
    return was
