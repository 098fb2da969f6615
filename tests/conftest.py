"""Shared fixtures: a database URL for each supported backend, a migrated engine, sessions.

PostgreSQL runs when INTAKE_TEST_DATABASE_URL names an admin connection (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a fresh database.
Without it the PostgreSQL variants are skipped, except under CI, where that is an error.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import make_engine, make_sessionmaker, migrate

TEST_DATABASE_ENV = "INTAKE_TEST_DATABASE_URL"


def _postgresql_database() -> Iterator[str]:
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url:
        message = f"{TEST_DATABASE_ENV} is not set: PostgreSQL tests need an admin database URL"
        if os.environ.get("CI"):
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    name = f"intake_t_{secrets.token_hex(6)}"
    admin = make_engine(admin_url)
    try:
        with admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(admin_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intake.db'}"
    else:
        yield from _postgresql_database()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on the test database."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)
