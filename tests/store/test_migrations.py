"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, safely."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Engine, event, inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.store.db import (
    MIGRATION_LOCK_KEY,
    alembic_config,
    make_engine,
    make_sessionmaker,
    migrate,
)
from bot.store.models import Base, CaseCounter, UTCDateTime

TABLES = set(Base.metadata.tables)


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _only_timestamp_type(diff: Any) -> bool:
    """A type difference that is just UTCDateTime in the model vs DateTime in the database."""
    if isinstance(diff, list) and len(diff) == 1:
        diff = diff[0]
    if not (isinstance(diff, tuple) and diff and diff[0] == "modify_type"):
        return False
    reflected, declared = diff[-2], diff[-1]
    return isinstance(declared, UTCDateTime) and isinstance(reflected, DateTime)


def _schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, constraints and indexes by name, as the database has them."""
    insp = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table),
            "fks": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in insp.get_foreign_keys(table)
            ),
            "uqs": sorted(
                (uq["name"], tuple(uq["column_names"])) for uq in insp.get_unique_constraints(table)
            ),
            "ixs": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in insp.get_indexes(table)
            ),
        }
    return schema


def test_migrate_creates_every_table(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    assert _current(engine) == _head()


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if not _only_timestamp_type(d)] == []


def test_constraint_and_index_names_follow_the_naming_convention(engine: Engine) -> None:
    schema = _schema(engine)
    for table in Base.metadata.sorted_tables:
        got = schema[table.name]
        assert got["pk"]["name"] == f"pk_{table.name}"
        assert got["pk"]["constrained_columns"] == [c.name for c in table.primary_key]
        assert got["fks"] == sorted(
            (fk.name, tuple(fk.column_keys), fk.referred_table.name)
            for fk in table.foreign_key_constraints
        )
        unique = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
        assert got["uqs"] == sorted((uq.name, tuple(uq.columns.keys())) for uq in unique)
        # SQLite reports no index behind a UNIQUE constraint; PostgreSQL reports one per
        # constraint (same name, flagged as a duplicate of the constraint): drop those.
        indexes = [ix for ix in got["ixs"] if ix[0] not in {uq.name for uq in unique}]
        assert indexes == sorted(
            (ix.name, tuple(ix.columns.keys()), bool(ix.unique)) for ix in table.indexes
        )
        nullable = [(c["name"], c["nullable"]) for c in inspect(engine).get_columns(table.name)]
        assert nullable == [(c.name, c.nullable) for c in table.columns]


def test_ids_are_bigint_on_postgresql_and_rowid_integers_on_sqlite(engine: Engine) -> None:
    expected = "BIGINT" if engine.dialect.name == "postgresql" else "INTEGER"
    insp = inspect(engine)
    for table in Base.metadata.sorted_tables:
        types = {c["name"]: str(c["type"]) for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name == "id" or column.foreign_keys:
                assert types[column.name] == expected, (table.name, column.name)


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    before = _schema(engine)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        migrate(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert ddl == []
    assert _schema(engine) == before
    assert _current(engine) == _head()


def test_concurrent_migrations_both_succeed(database_url: str) -> None:
    """Two processes starting at once (modelled as two engines in two threads)."""
    engines = [make_engine(database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            migrate(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert set(inspect(engines[0]).get_table_names()) == TABLES | {"alembic_version"}
        with engines[0].connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [_head()]
    finally:
        for e in engines:
            e.dispose()


def test_migrate_waits_for_a_migration_in_progress(database_url: str) -> None:
    """While another connection holds the migration lock, migrate waits for it."""
    holder, engine = make_engine(database_url), make_engine(database_url)
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    try:
        with holder.connect() as conn:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    lock = text("SELECT pg_advisory_xact_lock(:k)")
                    conn.execute(lock, {"k": MIGRATION_LOCK_KEY})
                # On SQLite the transaction itself (BEGIN IMMEDIATE) holds the write lock.
                thread = threading.Thread(target=run)
                thread.start()
                assert not done.wait(1.0), "migrate did not wait for the lock"
            thread.join(timeout=60)
        assert done.is_set() and errors == []
        assert _current(engine) == _head()
    finally:
        holder.dispose()
        engine.dispose()


def test_downgrade_to_base_drops_everything(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    insp = inspect(engine)
    assert set(insp.get_table_names()) <= {"alembic_version"}
    if engine.dialect.name == "postgresql":
        assert insp.get_sequence_names() == []
    assert _current(engine) is None
    migrate(engine)  # and back up again
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}


def test_make_engine_rejects_unsupported_urls() -> None:
    for url in ("mysql://u@h/db", "postgresql+psycopg2://u@h/db", "oracle://", "not a url"):
        with pytest.raises(ValueError, match="URL"):
            make_engine(url)


def test_postgresql_engine_pool_settings() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool.size() == 10  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 20  # type: ignore[attr-defined]
        assert engine.pool._pre_ping is True
    finally:
        engine.dispose()


def test_sessions_keep_attributes_after_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert make_sessionmaker(engine).kw["expire_on_commit"] is False
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_sqlite_foreign_keys_are_enforced_after_migrate(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            conn.rollback()
            with pytest.raises(IntegrityError, match="FOREIGN KEY"), conn.begin():
                conn.exec_driver_sql(
                    "INSERT INTO case_events (case_id, actor, action, at)"
                    " VALUES (12345, 'x', 'y', '2025-01-01 00:00:00')"
                )
    finally:
        engine.dispose()


def test_sqlite_concurrent_write_transactions_both_commit(tmp_path: Path) -> None:
    """Read-then-write transactions in two threads: without BEGIN IMMEDIATE one fails."""
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        s.add(CaseCounter(day="20250101", last=0))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            barrier.wait()
            with sessions.begin() as s:
                last = s.scalar(select(CaseCounter.last).where(CaseCounter.day == "20250101"))
                time.sleep(0.3)  # the other thread is now trying to start its transaction
                s.get_one(CaseCounter, "20250101").last = (last or 0) + 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        with sessions() as s:
            assert s.get_one(CaseCounter, "20250101").last == 2  # serialised: no lost update
    finally:
        engine.dispose()
