"""Engines, sessions and schema migrations for the store.

SQLite (``sqlite:///path.db``) is for a single machine: WAL, and every transaction starts
with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing
with "database is locked" when a read transaction tries to become a write transaction.
PostgreSQL (``postgresql+psycopg://...``) is for everything else.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "MIGRATION_LOCK_KEY",
    "alembic_config",
    "lock_for_migration",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "unavailable",
]

SQLITE_BUSY_TIMEOUT_S = 30
# Key of the PostgreSQL advisory lock taken around migrations (any constant bigint will do;
# this one is b"intakemg" read as a big-endian integer).
MIGRATION_LOCK_KEY = int.from_bytes(b"intakemg", "big")

# Alembic's `context` module proxy is process-global, so two migrations must not run their
# env.py at the same time in one process (different engines, different threads).
_alembic_lock = threading.Lock()


def _parse(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {url!r}") from exc
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        return parsed
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///path.db "
        "or postgresql+psycopg://user@host/db"
    )


SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def make_engine(url: str, *, connect_timeout: float | None = None,
                timeout: float | None = None, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for a ``sqlite:///`` or ``postgresql+psycopg://`` URL (ValueError otherwise).

    `connect_timeout` bounds a new PostgreSQL connection; `timeout` bounds a statement and a
    lock wait on PostgreSQL, a wait for a pooled connection, and SQLite's busy wait (without
    it: 30 s of busy wait, no PostgreSQL limits, as tools and tests want).
    `sqlite_synchronous`: SQLite's `synchronous` pragma in WAL mode: NORMAL (a commit
    survives the process crashing, not the machine losing power) or FULL/EXTRA (it survives
    both: an fsync per commit, which group commit shares among the messages of a batch).
    """
    parsed = _parse(url)
    if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLite synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, timeout or SQLITE_BUSY_TIMEOUT_S,
                              sqlite_synchronous.upper())
    connect_args: dict[str, Any] = {}
    if connect_timeout is not None:
        # libpq counts whole seconds, at least 2.
        connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout))
    pool: dict[str, Any] = {}
    if timeout is not None:
        ms = max(1, round(timeout * 1000))
        connect_args["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        pool["pool_timeout"] = timeout
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args=connect_args, **pool)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the store cannot be reached or answered too late (answer 503 and
    retry later), rather than that this statement is wrong."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if isinstance(orig, sqlite3.OperationalError):
            return "locked" in str(orig) or "busy" in str(orig)
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate is not None:
            # 08: connection exceptions; 57014: statement timeout; 55P03: lock timeout;
            # 57P01-57P03: the server is shutting down or not accepting connections.
            return sqlstate.startswith("08") or sqlstate in ("57014", "55P03", "57P01",
                                                             "57P02", "57P03")
        # psycopg raises OperationalError without a state when it cannot connect at all.
        return isinstance(exc, OperationalError | InterfaceError)
    return False


def _sqlite_engine(url: URL, busy_seconds: float, synchronous: str) -> Engine:
    busy_ms = max(1, round(busy_seconds * 1000))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_seconds},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop pysqlite from emitting BEGIN itself (and from committing before DDL);
        # the "begin" listener below emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            _wal(cursor)
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: waiting for it honours busy_timeout, whereas upgrading
        # a read transaction to a write one fails at once under contention. A session that
        # only reads (`reading`) begins deferred: in WAL mode it then never holds writers up.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent, so usually already done).

    Changing the journal mode can fail with "database is locked" without consulting the
    busy handler while another connection opens the new file, so it is retried here.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


READ_ONLY = "intake_read_only"


@contextlib.contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for long reads (reports, exports), reading one snapshot: on SQLite its
    transaction does not take the write lock, so customers' messages are written meanwhile;
    on PostgreSQL it is REPEATABLE READ. It must not write."""
    with sessions() as session:
        options: dict[str, Any] = {READ_ONLY: True}
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for the whole read: a page's figures add up under load.
            options["isolation_level"] = "REPEATABLE READ"
        session.connection(execution_options=options)
        yield session


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the migrations shipped in ``bot/migrations`` (no alembic.ini).

    With a connection, env.py runs the migrations on it, inside its current transaction.
    """
    config = Config()
    config.set_main_option("script_location", str(files("bot") / "migrations"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def lock_for_migration(connection: Connection) -> None:
    """On PostgreSQL, wait for the migration advisory lock, held until the transaction ends.

    On SQLite the transaction's BEGIN IMMEDIATE already serialises writers.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest migration; a no-op when it is already there.

    Safe to call from several processes at once: on PostgreSQL they queue on an advisory
    lock, on SQLite on the write lock, and the later ones find nothing left to do.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Table rebuilds in batch migrations must not cascade or fail on foreign keys;
            # the pragma only takes effect outside a transaction. Checked before commit.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if not sqlite:  # a migration may take longer than a request may
                    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                lock_for_migration(connection)
                with _alembic_lock:
                    command.upgrade(alembic_config(connection), "head")
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if problems:
                        raise RuntimeError(f"migration broke foreign keys: {problems[:10]}")
        finally:
            if sqlite and not connection.invalidated:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
