"""Alembic environment for the store.

Run programmatically by ``bot.store.db.migrate`` (the connection arrives in
``config.attributes["connection"]``), or from the command line with ``alembic.ini`` at the repo
root and the database URL in ``INTAKE_DATABASE_URL``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Literal

from alembic import context
from sqlalchemy import Connection

from bot.store.db import lock_for_migration, make_engine
from bot.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = os.environ.get("INTAKE_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set INTAKE_DATABASE_URL to the database to migrate")
    return url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | Literal[False]:
    # Autogenerate writes the custom timestamp type as the plain type it is stored as.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # The caller owns the connection and its transaction (and the migration lock).
        _run_on(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.begin() as connection:
            lock_for_migration(connection)
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
