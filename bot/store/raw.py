"""Statements of the message path, compiled once per database and run on the driver itself.

SQLAlchemy's execution layer (compiled-cache lookup, execution context, result processing)
costs more than SQLite takes to run these few statements. The message path runs the same
handful for every message, so each is compiled once per dialect to its SQL text and run on
the session's DBAPI cursor. The price: values are converted here as the column types would
(UTC times as SQLite's text, JSON as text), and results come back as the driver gives them,
which `timestamp` and `json_value` read on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

__all__ = ["Statement", "bind_json", "bind_time", "json_value", "timestamp"]


class Statement:
    """A Core statement run as its compiled SQL on the driver's cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # dialect name -> (sql, parameter names in order or None for named, literal values)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def run(self, session: Session, params: Mapping[str, Any]) -> Any:
        """Execute with `params` (already in the driver's types, see `bind_*`); the cursor."""
        connection = session.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            done = self.statement.compile(dialect=dialect)
            order = tuple(done.positiontup) if done.positiontup is not None else None
            literal = {k: v for k, v in done.params.items() if v is not None}
            compiled = self._compiled[dialect.name] = (str(done), order, literal)
        sql, order, literal = compiled
        values = {**literal, **params} if literal else params
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if order is None:
            cursor.execute(sql, values)
        else:
            cursor.execute(sql, tuple(values[name] for name in order))
        return cursor


def bind_time(session: Session, value: datetime | None) -> Any:
    """A time as the store keeps it: UTC; on SQLite as SQLAlchemy's text form."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if session.get_bind().dialect.name == "sqlite":
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def bind_json(value: Any) -> str:
    """A JSON column's value as text (PostgreSQL's compiled SQL casts it); None as JSON's
    null, as SQLAlchemy's JSON type keeps it."""
    return json.dumps(value)


def timestamp(value: Any) -> datetime | None:
    """A time read back: aware, in UTC, from either driver."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def json_value(value: Any) -> Any:
    """A JSON column read back: parsed, from either driver."""
    return json.loads(value) if isinstance(value, str | bytes) else value

