"""`intake report` in the terminal, on SQLite and PostgreSQL: one JSON object with every
figure (checked against the test's own counts), the groups and the regulatory table; CSV and
XLSX exports with a progress bar for large ones; clear refusals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import Engine, select

from bench import casegen
from bot.store.models import AuditEvent
from tests.reports import expect


def intake(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTAKE_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "bot.cli", "report", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_report_in_json_csv_and_xlsx(engine: Engine, database_url: str,
                                         tmp_path: Path) -> None:
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    cases = casegen.generate(1500, 60, today, seed=21)
    casegen.insert(engine, cases)
    start = today - timedelta(days=44)
    mine = expect.chosen(cases, start, today)
    want = expect.figures(mine, today, today + timedelta(days=3))
    period = ["--from", start.isoformat(), "--to", today.isoformat()]

    done = intake(database_url, *period, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total"] == want["total"] > 1000
    for name in ("category", "business", "channel", "priority"):
        assert report[f"by_{name}"] == want[f"by_{name}"], name
    assert report["overdue"] == want["overdue"]
    assert sum(r["count"] for r in report["regulatory"]) == want["total"]
    assert {(r["channel"], r["business_type"], r["reason"]): r["count"]
            for r in report["regulatory"]} == want["regulatory"]
    assert all(r["channel_code"] and r["reason_label"] for r in report["regulatory"])
    assert report["clusters"], "the generated complaints form groups"
    for group in report["clusters"]:
        assert {"customers", "amount", "first", "last", "cases"} <= set(group)
        assert start.isoformat() <= group["first"] <= group["last"] <= today.isoformat()
        assert 5 <= group["case_count"] == len(group["cases"])
        assert group["customers"] <= group["case_count"]
        assert set(group["cases"]) <= {c["number"] for c in mine}

    out = tmp_path / "cases.csv"
    done = intake(database_url, *period, "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "rows" in done.stderr and "%" in done.stderr  # the progress bar, on stderr
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + want["total"]
    assert {r[0] for r in rows[1:]} == {c["number"] for c in mine}
    assert "6222021234567890123" not in out.read_text("utf-8")

    book_path = tmp_path / "regulatory.xlsx"
    done = intake(database_url, *period, "--format", "xlsx", "--kind", "regulatory",
                  "--out", str(book_path), "--lang", "en")
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(book_path, read_only=True)["regulatory"]
    values = list(sheet.iter_rows(values_only=True))
    assert sum(r[-1] for r in values[1:]) == want["total"]
    assert "Safety of funds" in {r[5] for r in values[1:]}

    summary = intake(database_url, *period)
    assert summary.returncode == 0, summary.stderr
    assert f"Cases received {start.isoformat()} to {today.isoformat()}: {want['total']}" in \
        summary.stdout
    # Each report taken out of the store is in the audit trail, as the console's are.
    with engine.connect() as conn:
        taken = conn.execute(select(AuditEvent.actor, AuditEvent.detail)
                             .where(AuditEvent.action == "report_export")
                             .order_by(AuditEvent.id)).all()
    assert [(a, d["format"]) for a, d in taken] == [
        ("cli", "json"), ("cli", "csv"), ("cli", "xlsx"), ("cli", "text")]


def test_refusals_say_what_is_wrong(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    no_file = intake(url, "--format", "xlsx")
    assert no_file.returncode == 2 and "--out" in no_file.stderr
    bad = intake(url, "--from", "2026-02-30")
    assert bad.returncode == 2 and "not a date" in bad.stderr
    backwards = intake(url, "--from", "2026-12-05", "--to", "2026-12-01")
    assert backwards.returncode == 2 and "before it starts" in backwards.stderr
    unknown = intake(url, "--format", "pdf")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    filtered = intake(url, "--business", "cars")
    assert filtered.returncode == 2 and "unknown business 'cars'" in filtered.stderr
