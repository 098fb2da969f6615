"""Fixtures for the console tests: the real service (`live`, on SQLite and PostgreSQL, from
tests/service), agents with API tokens, and web chat customers talking to it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.console import secrets
from bot.settings import Settings
from bot.store import agents
from bot.store.models import AuditEvent, ChannelIdentity, Conversation
from tests.service.conftest import LiveServer, serving
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

from .agents import AGENT, LEAD, OTHER, Someone, signed_in, webchat_say

HISTORY = "/channels/webchat/history"


@lru_cache(maxsize=1)
def _password_hash(password: str) -> str:
    # argon2 costs ~0.2 s a hash: one for every agent of the run (they share the password).
    return secrets.hash_password(password)


def enrol(live: LiveServer, who: Someone) -> str:
    """`tests.console.agents.add_agent` with the password hashed once per run: the agent
    in the service's store; their API token."""
    now = datetime.now(UTC)
    token = secrets.new_token(secrets.API_PREFIX)
    with live.service.sessions.begin() as session:
        agent = agents.add(session, login=who.login, name=who.name, role=who.role, lang="zh",
                           password_hash=_password_hash(who.password), now=now)
        agents.add_token(session, agent, secrets.token_hash(token), now)
    return token


@pytest.fixture
def tokens(live: LiveServer) -> dict[str, str]:
    """LEAD, AGENT and OTHER in the store: their API tokens by login."""
    return {who.login: enrol(live, who) for who in (LEAD, AGENT, OTHER)}


@pytest.fixture
def sqlite_live(tmp_path: Path) -> Iterator[LiveServer]:
    """The service on SQLite only, for what does not depend on the database."""
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                          outbox_poll_seconds=0.1, _env_file=None)) as server:
        yield server


@contextlib.contextmanager
def at_console(live: LiveServer, who: Someone) -> Iterator[tuple[httpx.Client, str]]:
    """`signed_in` for the block: the logged-in client (closed afterwards), its CSRF token."""
    client, csrf = signed_in(live, who)
    try:
        yield client, csrf
    finally:
        client.close()


class Customer:
    """A web chat visitor: says things over HTTP, reads their chat history."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.visitor = uuid.uuid4().hex  # as the widget makes one: 128 random bits
        self.sent = 0

    def say(self, text: str) -> dict:
        self.sent += 1
        return webchat_say(self.live, self.visitor, text, self.sent)

    def history(self) -> list[dict]:
        answer = httpx.get(self.live.url + HISTORY, headers={"X-Visitor-Id": self.visitor},
                           timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["messages"]

    def told(self) -> list[str]:
        """What the service has sent the customer, oldest first."""
        return [m["text"] for m in self.history() if m["direction"] == "out"]

    @property
    def conversation_id(self) -> int:
        with self.live.service.sessions() as s:
            found = s.scalar(
                select(Conversation.id)
                .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
                .where(ChannelIdentity.channel == "webchat",
                       ChannelIdentity.external_id == self.visitor))
        assert found is not None, "the customer has no conversation"
        return found


def audit_trail(live: LiveServer, subject: str | None = None) -> list[tuple[str, str, str]]:
    """(actor, action, subject) of the audit events, oldest first."""
    with live.service.sessions() as s:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject is not None:
            query = query.where(AuditEvent.subject == subject)
        return [(e.actor, e.action, e.subject or "") for e in s.scalars(query)]
