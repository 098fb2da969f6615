"""Migrating the store is silent: neither `intake serve` nor a command that migrates a fresh
database prints Alembic's INFO lines ("Context impl SQLiteImpl.", "Running upgrade ..."),
unless INTAKE_LOG_LEVEL=DEBUG asks for them."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CALL = Path(__file__).parents[1] / "data" / "hotline" / "en_car_loan_fee.json"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return {**clean, "INTAKE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", **extra}


def intake(environ: dict[str, str], *args: str) -> str:
    """The command's stdout and stderr together."""
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=environ, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def alembic_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "alembic" in line]


def test_commands_that_migrate_say_nothing_of_it(tmp_path: Path) -> None:
    # import-transcripts sets up logging (INFO) before it migrates the fresh store.
    assert alembic_lines(intake(env(tmp_path), "import-transcripts", str(CALL))) == []
    (tmp_path / "other").mkdir()
    assert alembic_lines(intake(env(tmp_path / "other"), "cases", "list")) == []


def test_at_debug_the_migration_is_logged(tmp_path: Path) -> None:
    said = intake(env(tmp_path, INTAKE_LOG_LEVEL="DEBUG"), "import-transcripts", str(CALL))
    assert any("Running upgrade" in line for line in alembic_lines(said))


def test_serve_starts_without_alembic_lines(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert server.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout],
                     daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("running on" in line.lower() for line in seen):
            assert time.monotonic() < deadline and server.poll() is None, seen
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert alembic_lines("".join(seen)) == [], seen
