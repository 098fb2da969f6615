"""Fixtures for the console tests: the real service (`live`, on SQLite and PostgreSQL, from
tests/service), agents with API tokens, and web chat customers talking to it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.store.models import AuditEvent, ChannelIdentity, Conversation
from tests.service.conftest import LiveServer, serving
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

from .agents import AGENT, LEAD, OTHER, Someone, add_agent, signed_in, webchat_say

HISTORY = "/channels/webchat/history"


def enrol(live: LiveServer, who: Someone) -> str:
    """The agent in the service's store (console in Chinese); their API token."""
    return add_agent(live, who)


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
