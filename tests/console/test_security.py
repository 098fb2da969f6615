"""Who gets into the console and what a hostile page or customer can do to it, against the
real service over HTTP: sessions, CSRF, lock-out, escaping, tokens kept only as hashes."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bot.cli import main as intake
from bot.console.auth import COOKIE
from bot.store import agents
from bot.store.models import AgentSession, ApiToken

from .agents import AGENT, LEAD, OTHER, api
from .conftest import Customer, at_console, audit_trail, enrol

XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"


def browser(live) -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=10, follow_redirects=False)


def log_in(client: httpx.Client, login: str, password: str) -> httpx.Response:
    return client.post("/console/login", data={"login": login, "password": password})


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, "the page carries its CSRF token"
    return match.group(1)


def state_of(live, token: str, cid: int) -> dict:
    with api(live, token) as client:
        answer = client.get(f"/api/v1/conversations/{cid}")
    assert answer.status_code == 200, answer.text
    return answer.json()["conversation"]


def api_calls(cid: int) -> list[tuple[str, str, dict | None]]:
    base = f"/api/v1/conversations/{cid}"
    return [("GET", "/api/v1/queue", None), ("GET", base, None),
            ("POST", f"{base}/take", None), ("POST", f"{base}/messages", {"text": "hi"}),
            ("POST", f"{base}/release", None), ("POST", f"{base}/close", None),
            ("POST", f"{base}/reassign", {"agent": LEAD.login})]


# ---- signed out ---------------------------------------------------------------------------


def test_every_page_needs_a_session(sqlite_live):
    customer = Customer(sqlite_live)
    customer.say("转人工")
    cid = customer.conversation_id
    pages = ["/console", "/console/queue", f"/console/conversations/{cid}",
             f"/console/conversations/{cid}/live", "/console/canned"]
    with browser(sqlite_live) as client:
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 303, page
            assert answer.headers["location"].startswith("/console/login"), page
        for page in pages:
            answer = client.get(page, headers={"HX-Request": "true"})
            assert answer.status_code == 401, page
        for action in ("take", "messages", "release", "close", "reassign"):
            answer = client.post(f"/console/conversations/{cid}/{action}",
                                 data={"csrf": "x", "text": "hi", "agent": LEAD.login})
            assert answer.status_code == 303, action
            assert answer.headers["location"].startswith("/console/login"), action
        assert client.get("/console/login").status_code == 200


def test_every_api_route_needs_a_live_token(sqlite_live):
    live = sqlite_live
    lead_token = enrol(live, LEAD)
    gone = enrol(live, OTHER)
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id
    with api(live, gone) as client:
        assert client.get("/api/v1/queue").status_code == 200
    with at_console(live, OTHER) as (console, _):
        with live.service.sessions.begin() as s:
            agents.disable(s, agents.by_login(s, OTHER.login), datetime.now(UTC))
        assert console.get("/console").status_code == 303, "disabling ends the session"

    wrong = "ik_" + "A" * 43
    for authorization in (None, f"Bearer {wrong}", "Bearer nonsense", f"Basic {lead_token}",
                          lead_token, f"Bearer {gone}"):
        headers = {"Authorization": authorization} if authorization else {}
        for method, path, body in api_calls(cid):
            answer = httpx.request(method, live.url + path, json=body, headers=headers,
                                   timeout=10)
            assert answer.status_code == 401, (authorization, method, path, answer.text)
            assert answer.headers["www-authenticate"].lower().startswith("bearer")
    assert state_of(live, lead_token, cid)["waiting"] is True, "nothing changed"


# ---- CSRF and who sees what -----------------------------------------------------------------


def test_console_changes_need_the_sessions_csrf_token(sqlite_live):
    live = sqlite_live
    lead_token = enrol(live, LEAD)
    enrol(live, AGENT)
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id
    take = f"/console/conversations/{cid}/take"

    before = customer.told()
    with at_console(live, AGENT) as (client, csrf):
        forged = csrf[:-1] + ("A" if csrf[-1] != "A" else "B")
        refused = [
            client.post(take),
            client.post(take, data={"csrf": ""}),
            client.post(take, data={"csrf": forged}),
            client.post(take, headers={"X-CSRF-Token": "not-the-token"}),
            client.post(take, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}),
            client.post(take, headers={"X-CSRF-Token": csrf, "Origin": "null"}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert state_of(live, lead_token, cid)["waiting"] is True, "nothing changed"
        assert customer.told() == before, "the customer was told nothing"

        taken = client.post(take, data={"csrf": csrf}, headers={"Origin": live.url})
        assert taken.status_code == 303
        assert taken.headers["location"] == f"/console/conversations/{cid}"
        assert state_of(live, lead_token, cid)["agent"] == AGENT.name

        reply = f"/console/conversations/{cid}/messages"
        assert client.post(reply, data={"text": "别信这条"}).status_code == 403
        assert client.post(reply, data={"text": "您好"},
                           headers={"X-CSRF-Token": csrf}).status_code == 303
        assert customer.told()[-1] == "您好"

        assert client.post("/console/logout").status_code == 403, "a foreign page cannot " \
            "sign the agent out"
        assert client.get("/console").status_code == 200


def test_an_agent_cannot_open_another_agents_conversation(sqlite_live):
    live = sqlite_live
    lead_token, agent_token = enrol(live, LEAD), enrol(live, AGENT)
    other_token = enrol(live, OTHER)
    customer = Customer(live)
    customer.say("转人工")
    customer.say("我的信用卡年费被多扣了200元")
    cid = customer.conversation_id
    with api(live, agent_token) as agent:
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200

    with at_console(live, OTHER) as (other, csrf):
        for page in (f"/console/conversations/{cid}", f"/console/conversations/{cid}/live"):
            answer = other.get(page)
            assert answer.status_code == 403, page
            assert AGENT.name in answer.text
            assert "年费被多扣" not in answer.text
        answer = other.post(f"/console/conversations/{cid}/messages",
                            data={"csrf": csrf, "text": "插话"})
        assert answer.status_code == 403
    with api(live, other_token) as client:
        answer = client.get(f"/api/v1/conversations/{cid}")
        assert answer.status_code == 403 and AGENT.name in answer.json()["detail"]
    assert "插话" not in customer.told()

    with at_console(live, LEAD) as (lead, _):
        page = lead.get(f"/console/conversations/{cid}")
        assert page.status_code == 200 and "年费被多扣" in page.text
    with api(live, lead_token) as client:
        assert client.get(f"/api/v1/conversations/{cid}").status_code == 200


# ---- log-in ------------------------------------------------------------------------------


def test_wrong_passwords_lock_that_login_only(live):
    enrol(live, AGENT)
    enrol(live, OTHER)
    with browser(live) as client:
        answers = [log_in(client, AGENT.login, f"wrong password {n}").status_code
                   for n in range(10)]
        assert answers[:9] == [401] * 9
        last = log_in(client, AGENT.login, "wrong password 10")
        assert 429 in (answers[9], last.status_code)
        assert int(last.headers["retry-after"]) > 0

        for login in (AGENT.login, AGENT.login.upper()):
            locked = log_in(client, login, AGENT.password)
            assert locked.status_code == 429, login
            assert COOKIE not in locked.cookies
        assert client.get("/console").status_code == 303

        assert log_in(client, OTHER.login, OTHER.password).status_code == 303
        assert client.get("/console").status_code == 200
    assert ("login:wang", "login_failed", "agent:wang") in audit_trail(live)


def test_recent_failures_lock_that_login_and_that_address(sqlite_live):
    """The lock on failures already in the store: 10 for a login, 50 from an address (50
    real ones would cost 50 password hashes)."""
    live = sqlite_live
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    now = datetime.now(UTC)
    with live.service.sessions.begin() as s:
        for n in range(10):
            agents.record_attempt(s, AGENT.login, "10.1.2.3", False, now - timedelta(minutes=n))
        # 50 failures spread over logins (none of them locked by itself), from elsewhere
        for n in range(50):
            agents.record_attempt(s, f"guess{n % 10}", "10.1.2.3", False, now)
    with browser(live) as client:
        for login in (AGENT.login, AGENT.login.upper()):
            locked = log_in(client, login, AGENT.password)
            assert locked.status_code == 429, login
            assert int(locked.headers["retry-after"]) > 0
        assert client.get("/console").status_code == 303
        assert log_in(client, OTHER.login, OTHER.password).status_code == 303, \
            "another login, and failures from another address, do not lock this one"
    with live.service.sessions.begin() as s:
        for n in range(50):
            agents.record_attempt(s, f"guess{n % 7}", "127.0.0.1", False, now)
    with browser(live) as client:
        assert log_in(client, LEAD.login, LEAD.password).status_code == 429


# ---- sessions ------------------------------------------------------------------------------


def _back(live, minutes: float) -> None:
    """Every session's last use `minutes` earlier, in the store."""
    with live.service.sessions.begin() as s:
        s.execute(update(AgentSession).values(
            last_seen_at=datetime.now(UTC) - timedelta(minutes=minutes)))


def test_session_cookie_logout_and_idle_sessions(live):
    enrol(live, AGENT)
    with browser(live) as client:
        answer = client.post("/console/login", data={
            "login": AGENT.login, "password": AGENT.password, "next": "//evil.example/x"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console", "no redirect off the console"
        [cookie] = [c for c in answer.headers.get_list("set-cookie")
                    if c.startswith(f"{COOKIE}=")]
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attributes and "samesite=lax" in attributes
        token = client.cookies[COOKIE]
        with live.service.sessions() as s:
            stored = list(s.scalars(select(AgentSession)))
        assert token not in [r.token_hash for r in stored] + [r.csrf_token for r in stored]

        page = client.get("/console")
        assert page.status_code == 200
        out = client.post("/console/logout", data={"csrf": csrf_of(page)})
        assert out.status_code == 303
    with browser(live) as stale:
        stale.cookies.set(COOKIE, token)
        assert stale.get("/console").status_code == 303, "the old cookie no longer works"
        assert stale.get("/console/queue", headers={"HX-Request": "true"}).status_code == 401

    idle = live.settings.console_idle_minutes
    with browser(live) as client:
        assert log_in(client, AGENT.login, AGENT.password).status_code == 303
        _back(live, idle - 1)
        assert client.get("/console").status_code == 200, "used in time: still signed in"
        _back(live, idle + 1)
        answer = client.get("/console")
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/console/login")


# ---- hostile content -----------------------------------------------------------------------


def test_complaint_markup_is_shown_as_text(sqlite_live):
    live = sqlite_live
    enrol(live, LEAD)
    customer = Customer(live)
    customer.say("转人工")
    customer.say(XSS)
    cid = customer.conversation_id

    with at_console(live, LEAD) as (lead, _):
        for path in ("/console", "/console/queue", f"/console/conversations/{cid}",
                     f"/console/conversations/{cid}/live"):
            page = lead.get(path)
            assert page.status_code == 200, path
            assert ESCAPED in page.text, path
            assert "<script>alert" not in page.text and "<img" not in page.text, path
            assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page.text)), \
                f"{path}: no inline script"
            policy = page.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
            assert page.headers["x-content-type-options"] == "nosniff"


def test_api_tokens_are_kept_only_as_hashes(sqlite_live, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]):
    live = sqlite_live
    enrol(live, AGENT)
    monkeypatch.setenv("INTAKE_DATABASE_URL", live.settings.database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env file configures the run
    capsys.readouterr()
    assert intake(["agents", "token", AGENT.login]) == 0
    token = capsys.readouterr().out.splitlines()[-1]

    with api(live, token) as client:
        assert client.get("/api/v1/queue").status_code == 200
    with live.service.sessions() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    assert token not in hashes and not [h for h in hashes if token in h or h in token]
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
