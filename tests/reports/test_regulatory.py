"""The JR/T 0169 table: one data file names every key the engine can give a case, with a code
an institution can correct in a file of its own; a correction needs a known key and a reason.
And cases filed before the reports get their report columns from the migration."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from bot.reports import regulatory as jrt
from bot.store.db import alembic_config, migrate
from workflow.classify import REGULATORY_CHANNELS, regulatory_keys


def _engine_keys() -> dict[str, set[str]]:
    """Every key workflow/classify.py can put in a case's `regulatory`, read here from its
    vocabulary on the test's own (classify.regulatory_keys is what the loader checks)."""
    vocab = tomllib.loads(resources.files("workflow").joinpath("data/vocab.toml")
                          .read_text("utf-8"))["regulatory"]
    return {
        "channel": {*REGULATORY_CHANNELS, vocab["unknown_channel"]},
        "business_type": {*vocab["business_map"].values(), *vocab["business_override"]},
        "reason": {*vocab["reasons"], *vocab["fallback"].values(), "other"},
    }


def test_the_table_names_every_key_the_engine_gives_with_a_unique_code() -> None:
    assert {k: set(v) for k, v in regulatory_keys().items()} == _engine_keys()
    table = jrt.load()
    for dimension, keys in _engine_keys().items():
        named = set(table.keys(dimension))
        assert keys <= named, (dimension, keys - named)
        codes = [table.entry(dimension, k).code for k in named]
        assert len(codes) == len(set(codes)), dimension
        for key in named:
            entry = table.entry(dimension, key)
            assert entry.zh and entry.en and entry.code
    # "other" is 99, or 9 at a one-digit level (BRIEF.md): the one code known here.
    assert table.entry("business_type", "other").code == "99"
    assert table.entry("reason", "other").code == "99"
    assert table.entry("channel", "unknown").code == "9"
    assert table.entry("reason", "made_up").code == "?"  # unknown keys show, never crash


def test_an_institution_corrects_codes_in_its_own_file(tmp_path: Path) -> None:
    shipped = resources.files("bot.reports").joinpath("data/jrt0169.toml").read_text("utf-8")
    mine = tmp_path / "jrt.toml"
    mine.write_text(shipped.replace('[reason.funds_safety]\ncode = "11"',
                                    '[reason.funds_safety]\ncode = "0801"'), "utf-8")
    table = jrt.load(str(mine))
    assert table.entry("reason", "funds_safety").code == "0801"
    assert table.source == str(mine.resolve())
    broken = tmp_path / "broken.toml"
    broken.write_text('[channel.counter]\ncode = "1"\nzh = "柜面"\n', "utf-8")
    with pytest.raises(jrt.BadTable, match=r"\[channel.counter\] lacks en"):
        jrt.load(str(broken))
    lacking = tmp_path / "lacking.toml"
    lacking.write_text(shipped.replace('[reason.pricing_fees]\ncode = "08"\nzh = "定价收费"\n'
                                       'en = "Pricing and fees"\n', ""), "utf-8")
    with pytest.raises(jrt.BadTable, match=r"\[reason\] lacks pricing_fees"):
        jrt.load(str(lacking))
    twice = tmp_path / "twice.toml"
    twice.write_text(shipped.replace('[reason.funds_safety]\ncode = "11"',
                                     '[reason.funds_safety]\ncode = "12"'), "utf-8")
    with pytest.raises(jrt.BadTable, match="code 12 to both"):
        jrt.load(str(twice))
    with pytest.raises(jrt.BadTable, match="cannot read"):
        jrt.load(str(tmp_path / "missing.toml"))


def test_the_migration_fills_the_report_columns_of_older_cases(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
    filed = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 01:30 on 1 December in Shanghai
    answered = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    resolved = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    meta = sa.MetaData()
    meta.reflect(engine, only=("customers", "cases", "case_events"))
    customers, cases, events = (meta.tables[t] for t in ("customers", "cases", "case_events"))
    with engine.begin() as conn:
        conn.execute(customers.insert(), [{"id": 1, "created_at": filed, "updated_at": filed}])
        base = {"customer_id": 1, "language": "zh", "description": "多收手续费",
                "category": "product", "secondary_categories": [], "priority": "normal",
                "reasons": {}, "missing": [], "due_date": date(2026, 12, 16),
                "filed_at": filed, "updated_at": filed, "paused_days": 0,
                "review_requested": False}
        conn.execute(cases.insert(), [
            {**base, "id": 1, "number": "TS20261201-0001", "channel": "webchat",
             "status": "resolved", "regulatory": {"channel": "counter",
                                                  "business_type": "bank_cards",
                                                  "reason": "pricing_fees"}},
            {**base, "id": 2, "number": "TS20261201-0002", "channel": "hotline",
             "status": "new", "regulatory": {}}])
        conn.execute(events.insert(), [
            {"case_id": 1, "actor": "customer", "action": "filed", "after": None, "at": filed},
            {"case_id": 1, "actor": "agent:wang", "action": "status_changed",
             "after": {"status": "in_progress"}, "at": answered},
            {"case_id": 1, "actor": "agent:wang", "action": "status_changed",
             "after": {"status": "resolved", "outcome": "退回"}, "at": resolved}])
    migrate(engine)
    with engine.connect() as conn:
        rows = {r.number: r for r in conn.execute(sa.text(
            "SELECT number, filed_on, filed_by_bot, first_response_at, resolved_at, "
            "reg_channel, reg_business, reg_reason FROM cases"))}

    def at(value: object) -> datetime:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    chat, call = rows["TS20261201-0001"], rows["TS20261201-0002"]
    assert str(chat.filed_on)[:10] == "2026-12-01"  # the local day, not UTC's
    assert bool(chat.filed_by_bot) is True and bool(call.filed_by_bot) is False
    assert at(chat.first_response_at) == answered and at(chat.resolved_at) == resolved
    assert at(call.first_response_at) == filed and call.resolved_at is None
    assert (chat.reg_channel, chat.reg_business, chat.reg_reason) == \
        ("counter", "bank_cards", "pricing_fees")
    assert call.reg_channel is None


def test_a_wrong_institution_file_stops_the_service_and_the_report(tmp_path: Path) -> None:
    broken = tmp_path / "jrt.toml"
    broken.write_text("[channel]\n", "utf-8")
    env = {**os.environ, "INTAKE_DATABASE_URL": f"sqlite:///{tmp_path / 'intake.db'}",
           "INTAKE_REGULATORY_FILE": str(broken)}
    for args in (["serve", "--port", "1"], ["report"]):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert "[channel] names no entries" in done.stderr
