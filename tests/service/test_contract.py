"""The OpenAPI document states the real contract: every body an endpoint reads and every error
it answers, so integrators and schema-driven fuzzers see what the service does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.app import create_app
from bot.settings import Settings
from tests.service.conftest import start_server, stop_server

# Each endpoint's error statuses, as the service answers them (see the tests of each).
EXPECTED = {
    ("post", "/channels/webchat/messages"): {"400", "401", "409", "413", "422", "503"},
    ("get", "/channels/webchat/history"): {"400", "401", "422", "503"},
    ("post", "/channels/telegram/webhook"): {"400", "403", "404", "413", "503"},
    ("get", "/channels/wechat"): {"400", "403", "404"},
    ("post", "/channels/wechat"): {"400", "403", "404", "413"},
    ("post", "/channels/hotline/transcripts"): {"401", "403", "404", "413", "422", "503"},
    ("get", "/healthz"): {"503"},
}


def test_every_body_and_error_is_declared(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                              hotline_api_key=SecretStr("k" * 16), _env_file=None))
    paths = app.openapi()["paths"]
    for (method, path), codes in EXPECTED.items():
        operation = paths[path][method]
        assert codes <= set(operation["responses"]), (method, path)
        for code in codes:
            body = operation["responses"][code]["content"]["application/json"]["schema"]
            assert body["$ref"].endswith("/ErrorBody"), (path, code)
        if method == "post":
            assert operation["requestBody"]["required"] is True
            assert operation["requestBody"]["content"], path
    assert "Retry-After" in paths["/channels/webchat/messages"]["post"]["responses"]["503"][
        "headers"]
    message = paths["/channels/webchat/messages"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert set(message["required"]) == {"visitor_id", "text", "client_message_id"}


@pytest.mark.parametrize("docs", [True, False])
def test_docs_can_be_turned_off(tmp_path: Path, docs: bool) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", docs=docs,
                        _env_file=None)
    live, server, thread = start_server(settings)
    try:
        for path in ("/docs", "/redoc", "/openapi.json"):
            status = httpx.get(f"{live.url}{path}", timeout=30).status_code
            assert status == (200 if docs else 404), path
        assert httpx.get(f"{live.url}/healthz", timeout=30).status_code == 200
    finally:
        stop_server(server, thread)
