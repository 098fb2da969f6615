"""What "committed" means on SQLite is a setting: NORMAL by default (a committed message
survives the service crashing), FULL or EXTRA for surviving a power loss too."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.core import build_core
from bot.settings import Settings
from bot.store.db import make_engine

# SQLite's numbers for the pragma's values.
LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


def _synchronous(settings: Settings) -> int:
    core = build_core(settings)
    try:
        with core.db.connect() as connection:
            return connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
    finally:
        core.db.dispose()


def test_the_service_commits_to_survive_a_crash_by_default(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", _env_file=None)
    assert _synchronous(settings) == LEVELS["NORMAL"]


@pytest.mark.parametrize("level", ["full", "EXTRA"])
def test_a_power_loss_setting_reaches_every_connection(tmp_path: Path, level: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_SQLITE_SYNCHRONOUS", level)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}", _env_file=None)
    assert _synchronous(settings) == LEVELS[level.upper()]


def test_an_unknown_level_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_SQLITE_SYNCHRONOUS", "OFF")  # would lose commits: not offered
    with pytest.raises(ValidationError, match="NORMAL"):
        Settings(_env_file=None)
    with pytest.raises(ValueError, match="NORMAL, FULL, EXTRA"):
        make_engine("sqlite:///x.db", sqlite_synchronous="OFF")
