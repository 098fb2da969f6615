"""Headless Chromium (Debian's package) driven by Playwright, against a live service."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.service.conftest import LiveServer, serving

CHROMIUM = os.environ.get("INTAKE_TEST_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium on a closed network keeps trying to reach Google's hosts.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# Module scope: Playwright's sync API keeps an event loop running in this thread while it
# is open, which other tests' asyncio.run() must not find.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: CI must run the browser tests")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    """The service on its embedded default, a SQLite file."""
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                          outbox_poll_seconds=0.1, _env_file=None)) as live:
        yield live


@pytest.fixture
def slow_site(tmp_path: Path) -> Iterator[LiveServer]:
    """The service on SQLite with a 1 s bound on every wait for the store."""
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                          db_timeout_seconds=1.0, outbox_poll_seconds=0.1,
                          _env_file=None)) as live:
        yield live
