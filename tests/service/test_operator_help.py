"""What a new operator tries first: the version, ./dev's usage, and what `intake extract`
expects when given plain text."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, input=stdin, cwd=ROOT,
                          timeout=60)


def test_intake_says_its_version() -> None:
    shown = run(sys.executable, "-m", "bot.cli", "--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"intake {version('complaint-intake')}"


def test_dev_prints_its_usage_on_help_and_refuses_an_unknown_command() -> None:
    for flag in ("--help", "-h", "help"):
        shown = run("bash", "dev", flag)
        assert shown.returncode == 0, shown.stderr
        assert "./dev serve" in shown.stdout and "./dev test" in shown.stdout
    unknown = run("bash", "dev", "deploy")
    assert unknown.returncode == 2 and "./dev serve" in unknown.stderr


def test_extract_given_plain_text_says_it_expects_json_lines() -> None:
    said = run(sys.executable, "-m", "bot.cli", "extract", stdin="昨天取款2000元被吞卡\n")
    assert said.returncode == 1 and said.stdout == ""
    assert "JSON lines" in said.stderr and '{"id": 1, "text": ' in said.stderr
