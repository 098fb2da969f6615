"""A real service: the FastAPI app under uvicorn on a free port, on SQLite or PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI

from bot.app import Service, create_app
from bot.settings import Settings


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


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    settings = Settings(database_url=database_url, outbox_poll_seconds=0.1, _env_file=None)
    server_info, server, thread = start_server(settings)
    try:
        yield server_info
    finally:
        stop_server(server, thread)
