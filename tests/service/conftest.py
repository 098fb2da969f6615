"""A real service: the FastAPI app under uvicorn on a free port, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from bot.app import Service, create_app
from bot.settings import Settings
from bot.store.db import make_engine
from bot.store.models import ChannelIdentity, Conversation


@dataclass
class LiveServer:
    url: str
    ws_url: str
    settings: Settings
    app: FastAPI

    @property
    def service(self) -> Service:
        return self.app.state.service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings: Settings) -> tuple[LiveServer, uvicorn.Server, threading.Thread]:
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", settings, app)
    return live, server, thread


def stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=20)


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[LiveServer]:
    """The service running with `settings` for the block."""
    live, server, thread = start_server(settings)
    try:
        yield live
    finally:
        stop_server(server, thread)


@contextlib.contextmanager
def conversations_locked(database_url: str, linger: float = 0.0) -> Iterator[None]:
    """Another connection holds every conversation row (SQLite: the write lock) for the
    block, and `linger` seconds after it: the store is too slow for the service."""
    locker = make_engine(database_url)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locker.begin() as conn:
            conn.execute(select(Conversation).with_for_update()).all()
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10), "could not take the lock"
        yield
    finally:
        time.sleep(linger)
        release.set()
        holder.join()
        locker.dispose()


def set_idle(live: LiveServer, visitor_id: str, days: float) -> None:
    """Move the visitor's conversation's last activity `days` back, directly in the store."""
    with live.service.sessions.begin() as s:
        conversation = s.scalar(
            select(Conversation)
            .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
            .where(ChannelIdentity.channel == "webchat",
                   ChannelIdentity.external_id == visitor_id))
        assert conversation is not None
        conversation.updated_at = datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    with serving(Settings(database_url=database_url, outbox_poll_seconds=0.1,
                          _env_file=None)) as server:
        yield server
