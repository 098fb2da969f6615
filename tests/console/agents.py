"""Agents for the console tests, created the way `intake agents add` does, and logged-in
HTTP clients for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import httpx

from bot.console import secrets
from bot.store import agents
from tests.service.conftest import LiveServer

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Someone:
    login: str
    name: str
    role: str
    password: str = PASSWORD


LEAD = Someone("lina", "李娜", "lead")
AGENT = Someone("wang", "王芳", "agent")
OTHER = Someone("zhou", "Zhou Jie", "agent")


@lru_cache(maxsize=4)
def _password_hash(password: str) -> str:
    # argon2 costs ~0.2 s a hash: one per password for the whole run.
    return secrets.hash_password(password)


def add_agent(live: LiveServer, who: Someone, lang: str = "zh") -> str:
    """Create the agent in the service's store; their API token."""
    now = datetime.now(UTC)
    token = secrets.new_token(secrets.API_PREFIX)
    with live.service.sessions.begin() as session:
        agent = agents.add(session, login=who.login, name=who.name, role=who.role, lang=lang,
                           password_hash=_password_hash(who.password), now=now)
        agents.add_token(session, agent, secrets.token_hash(token), now)
    return token


def api(live: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def signed_in(live: LiveServer, who: Someone) -> tuple[httpx.Client, str]:
    """A browser-like client logged in at /console, and its CSRF token."""
    client = httpx.Client(base_url=live.url, timeout=10, follow_redirects=False)
    answer = client.post("/console/login", data={"login": who.login, "password": who.password})
    assert answer.status_code == 303, answer.text
    page = client.get("/console")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, "the console page carries its CSRF token"
    return client, match.group(1)


def webchat_say(live: LiveServer, visitor: str, text: str, n: int) -> dict:
    answer = httpx.post(f"{live.url}/channels/webchat/messages", timeout=10, json={
        "visitor_id": visitor, "text": text, "client_message_id": f"m{n}"})
    assert answer.status_code == 200, answer.text
    return answer.json()
