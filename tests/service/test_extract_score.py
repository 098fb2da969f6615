"""`intake extract FILE --score [--json]`: per-field right/scored and urgent recall and
false-urgent rate, as ../shared/eval/README.md specifies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LINES = [
    {"id": "u1", "text": "there's a payment on my statement I didn't make",
     "expect": {"urgent": True}},
    {"id": "u2", "text": "I can't find my phone and the app is on it", "expect": {"urgent": True}},
    {"id": "u3", "text": "what is the exchange rate today?", "expect": {"urgent": True}},
    {"id": "n1", "text": "how long does a new card take to arrive?", "expect": {"urgent": False}},
    {"id": "n2", "text": "My card was stolen yesterday", "expect": {"urgent": False}},
    {"id": "f1", "text": "我是张伟，手机13912345678，昨天取款2000元被多扣了",
     "now": "2026-11-28T10:00:00+08:00",
     "expect": {"name": "张伟", "phone": "+8613912345678", "amount": 2000,
                "incident_time": "2026-11-26"}},
]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "lines.jsonl"
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in LINES) + "\n",
                    encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot.cli", "extract", str(data), *args],
                          capture_output=True, text=True, timeout=120)


def test_score_as_json(tmp_path: Path) -> None:
    done = run(tmp_path, "--score", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["urgent"] == {"recall": round(2 / 3, 4), "false_rate": 0.5,
                                "positives": 3, "negatives": 2}
    assert report["fields"]["name"] == {"right": 1, "scored": 1}
    assert report["fields"]["amount"] == {"right": 1, "scored": 1}
    # The date is the day before `now`: 2026-11-27, not the gold's 26th.
    assert report["fields"]["incident_time"] == {"right": 0, "scored": 1}
    wrong = {(f["id"], f["field"]) for f in report["failures"]}
    assert wrong == {("u3", "urgent"), ("n2", "urgent"), ("f1", "incident_time")}


def test_score_as_a_table(tmp_path: Path) -> None:
    done = run(tmp_path, "--score")
    assert done.returncode == 0, done.stderr
    assert "recall 0.667 of 3" in done.stdout and "false-urgent rate 0.500 of 2" in done.stdout
    assert "u3: urgent expected True, got False" in done.stdout
