"""Long reads (reports, exports) hold no customer up: on SQLite a `reading` session begins
deferred and reads a snapshot, so writers commit meanwhile; an ordinary session takes the
write lock at its start (what the message path needs) and would hold them up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from bot.store.db import make_engine, make_sessionmaker, migrate, reading
from bot.store.models import CaseCounter


def test_a_long_read_lets_writers_commit_and_reads_its_snapshot(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.db'}", timeout=1.0)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    try:
        with reading(sessions) as report:
            assert report.scalar(select(func.count()).select_from(CaseCounter)) == 0
            started = time.monotonic()
            with sessions.begin() as writer:
                writer.add(CaseCounter(day="20261204", last=1))
            assert time.monotonic() - started < 0.5  # no wait for the reader
            # The report still reads the moment it started from.
            assert report.scalar(select(func.count()).select_from(CaseCounter)) == 0
        with reading(sessions) as later:
            assert later.scalar(select(func.count()).select_from(CaseCounter)) == 1
        # An ordinary session holds the write lock from its first statement.
        with sessions() as plain:
            plain.execute(text("SELECT 1"))
            with pytest.raises(OperationalError, match="locked"):
                with sessions.begin() as writer:
                    writer.add(CaseCounter(day="20261205", last=1))
    finally:
        engine.dispose()
