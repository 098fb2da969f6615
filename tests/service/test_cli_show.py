"""`intake cases show NUMBER` as an operator reads it: headed sections, times in the
institution's time zone, "-" for what is empty, long texts wrapped to the terminal, ID and
card numbers masked; `--json` as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from datetime import UTC, date, datetime
from itertools import takewhile
from pathlib import Path

from bot.store import cases, customers
from bot.store.db import make_engine, make_sessionmaker, migrate
from workflow.extract.sensitive import redact

NUMBER = "TS20260302-0001"
CARD = "6222021234567890128"
# 07:30 on 2 March in Shanghai: the day and the hour differ from UTC's.
FILED = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
DESCRIPTION = f"客户卡号 {CARD}，" + "柜员多收了我二十元手续费，态度还很差，" * 8


def seeded(tmp_path: Path) -> str:
    """A SQLite store with one web chat case, filed at FILED; its URL."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    try:
        migrate(engine)
        with make_sessionmaker(engine).begin() as session:
            identity = customers.identity_for(session, "webchat", "visitor-show-1", FILED)
            draft = {"name": "李娜", "phone": "+8613800138000", "business": "deposit",
                     "description": DESCRIPTION, "priority": "normal", "language": "zh",
                     "amount": 20}
            cases.file(session, draft, number=NUMBER, customer_id=identity.customer_id,
                       conversation_id=None, channel="webchat", now=FILED,
                       due=date(2026, 3, 17))
    finally:
        engine.dispose()
    return url


def show(url: str, *args: str, number: str = NUMBER, columns: int = 80) -> str:
    env = {**os.environ, "INTAKE_DATABASE_URL": url, "INTAKE_TIMEZONE": "Asia/Shanghai",
           "COLUMNS": str(columns)}
    shown = subprocess.run([sys.executable, "-m", "bot.cli", "cases", "show", number, *args],
                           capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_show_is_readable(tmp_path: Path) -> None:
    url = seeded(tmp_path)
    text = show(url)
    lines = text.splitlines()
    assert lines[0].startswith(f"Case {NUMBER}") and "Asia/Shanghai" in lines[0]
    for heading in ("Details", "Identities", "History"):
        assert heading in lines, heading
    assert "None" not in text and "[]" not in text and "{}" not in text
    field = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines
             if line.startswith("  ") and not line.startswith("   ") and len(line.split()) > 1}
    assert field["filed_at"] == "2026-03-02 07:30"  # local, as `intake cases list` shows it
    assert field["branch"] == "-" and field["incident_time"] == "-"
    assert field["review_requested"] == "no"
    history = lines[lines.index("History") + 1]
    assert history.split()[:4] == ["2026-03-02", "07:30", "customer", "filed"]
    assert CARD not in text and CARD[-4:] in text  # masked as before

    narrow = show(url, columns=60).splitlines()
    assert all(columns(line) <= 60 for line in narrow), narrow
    # The description goes on over several lines under its own column, and nothing is lost.
    at = next(i for i, line in enumerate(narrow) if line.startswith("  description "))
    column = narrow[at].index(narrow[at].split()[1])
    rest = list(takewhile(lambda line: line[:column].isspace() and line.strip(),
                          narrow[at + 1:]))
    assert len(rest) >= 3
    flowed = narrow[at][column:] + "".join(line[column:] for line in rest)
    assert flowed.replace(" ", "") == redact(DESCRIPTION).replace(" ", "")


def test_show_json_is_unchanged(tmp_path: Path) -> None:
    detail = json.loads(show(seeded(tmp_path), "--json"))
    assert detail["number"] == NUMBER and detail["filed_at"] == "2026-03-01T23:30:00+00:00"
    assert detail["branch"] is None and detail["review_requested"] is False
    assert detail["description"] == DESCRIPTION  # stored as given; masking is the text view's
    assert [(e["at"], e["actor"], e["action"]) for e in detail["events"]] == [
        ("2026-03-01T23:30:00+00:00", "customer", "filed")]
    assert detail["identities"] == [
        {"channel": "webchat", "external_id": "visitor-show-1", "display_name": None}]
    assert detail["transcript"] is None


def test_show_a_hotline_call_with_its_transcript(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    call = Path(__file__).parents[1] / "data" / "hotline" / "en_car_loan_fee.json"
    env = {**os.environ, "INTAKE_DATABASE_URL": url}
    imported = subprocess.run([sys.executable, "-m", "bot.cli", "import-transcripts", str(call),
                               "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert imported.returncode == 0, imported.stderr
    (filed,) = json.loads(imported.stdout)["files"]
    lines = show(url, number=filed["case_number"]).splitlines()
    transcript = lines[lines.index("Call transcript") + 1:]
    field = {line.split()[0]: line.split(maxsplit=1)[1] for line in transcript[:6]}
    assert field["started_at"] == "2026-11-20 11:00"  # 03:00Z, in Shanghai
    assert field["call_id"] == "HL-20261120-0311" and field["agent_id"] == "K2002"
    assert any(line.split()[:1] == ["agent"] and "Kevin speaking" in line
               for line in transcript)


def test_cases_commands_fail_with_a_sentence_not_a_traceback(tmp_path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    for extra, code, said in (
        ({"INTAKE_ANSWER_DAYS": "0"}, 2, "intake cases list: bad configuration"),
        ({"INTAKE_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.db'}"}, 1,
         "intake cases list: cannot open the store: unable to open database file"),
    ):
        done = subprocess.run([sys.executable, "-m", "bot.cli", "cases", "list"],
                              capture_output=True, text=True, env={**clean, **extra},
                              timeout=120)
        assert done.returncode == code
        assert said in done.stderr and "Traceback" not in done.stderr
