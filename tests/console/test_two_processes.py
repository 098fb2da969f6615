"""Two service processes on one PostgreSQL store: what one process accepts reaches a console
connected to the other (LISTEN/NOTIFY), within 2 seconds."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from bench.common import Server
from bot.console import secrets
from bot.store import agents
from bot.store.db import make_engine, make_sessionmaker, migrate
from tests.conftest import _postgresql_database
from tests.console.agents import AGENT

ROOT = Path(__file__).parents[2]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Several service processes share a PostgreSQL store (SQLite serves one process)."""
    yield from _postgresql_database()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_services(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    db = make_engine(postgres_url)
    migrate(db)
    with make_sessionmaker(db).begin() as session:
        agents.add(session, login=AGENT.login, name=AGENT.name, role=AGENT.role, lang="zh",
                   password_hash=secrets.hash_password(AGENT.password), now=datetime.now(UTC))
    db.dispose()
    env = {**os.environ, "INTAKE_DATABASE_URL": postgres_url, "INTAKE_LOG_LEVEL": "WARNING"}
    servers, urls = [], []
    try:
        for name in ("a", "b"):
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            server = Server(name, [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                            env, tmp_path / f"{name}.log", cwd=tmp_path)
            servers.append(server)
            server.start(lambda url=url: _ready(url), timeout=60)
            urls.append(url)
        yield urls[0], urls[1]
    finally:
        for server in servers:
            server.stop()


def _ready(url: str) -> str | None:
    try:
        answer = httpx.get(url + "/healthz", timeout=2)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if answer.status_code == 200 else str(answer.status_code)


def test_a_handoff_on_one_process_reaches_a_console_on_the_other(
        two_services: tuple[str, str]) -> None:
    first, second = two_services
    with httpx.Client(base_url=second, timeout=10) as browser:
        answer = browser.post("/console/login", data={"login": AGENT.login,
                                                      "password": AGENT.password})
        assert answer.status_code == 303
        cookie = f"intake_console={browser.cookies['intake_console']}"
    host = second.removeprefix("http://")
    with connect(f"ws://{host}/console/live", additional_headers={"Cookie": cookie},
                 open_timeout=10) as live:
        time.sleep(0.3)  # the socket is subscribed
        visitor = "twoprocesses-visitor-0001"
        started = time.monotonic()
        answer = httpx.post(f"{first}/channels/webchat/messages", timeout=10, json={
            "visitor_id": visitor, "text": "转人工", "client_message_id": "m1"})
        assert answer.status_code == 200
        accepted = time.monotonic()
        notice = None
        while time.monotonic() - accepted < 2.0:
            try:
                frame = json.loads(live.recv(timeout=max(0.01, 2.0 - (time.monotonic()
                                                                        - accepted))))
            except TimeoutError:
                break
            if frame.get("kind") == "handoff":
                notice = frame
                break
        arrived = time.monotonic()
        assert notice is not None, "no handoff notice within 2 s of the handoff"
        # NOTIFY goes out at the commit, before the customer's answer: the notice is often
        # there already when the answer arrives.
        print(f"\nthe handoff's notice reached the other process's console "
              f"{(arrived - started) * 1000:.0f} ms after the customer's message was sent "
              f"(the answer took {(accepted - started) * 1000:.0f} ms)")
        assert notice["conversation_id"] > 0

    # The console on the second process lists what the first one queued.
    with httpx.Client(base_url=second, timeout=10) as browser:
        browser.post("/console/login", data={"login": AGENT.login, "password": AGENT.password})
        page = browser.get("/console")
        assert "转人工" in page.text
