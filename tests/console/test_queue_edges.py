"""What a busy day at the console brings: a waiting customer who turns out urgent, an agent
on a busy queue who stays online, an unattended console that signs out, an agent who leaves,
a customer whose other conversation is another agent's, a page whose conversation was taken."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from websockets.sync.client import connect

from bot.cli import main as intake
from bot.console import routes
from bot.settings import Settings
from bot.store import customers
from bot.store.models import AgentSession, Conversation, Customer
from tests.console.agents import AGENT, LEAD, OTHER, api
from tests.console.conftest import Customer as WebCustomer
from tests.console.conftest import at_console, enrol
from tests.service.conftest import LiveServer, start_server, stop_server


def waiting_entry(live: LiveServer, token: str, conversation_id: int) -> dict:
    with api(live, token) as client:
        queue = client.get("/api/v1/queue").json()
    (entry,) = [e for e in queue["waiting"] if e["conversation_id"] == conversation_id]
    return entry


def test_a_waiting_customer_who_turns_out_urgent_moves_to_the_front(live, tokens) -> None:
    early = WebCustomer(live)
    early.say("转人工")
    later = WebCustomer(live)
    later.say("我要投诉，转人工")
    assert not waiting_entry(live, tokens[AGENT.login], later.conversation_id)["urgent"]
    answer = later.say("我的银行卡刚刚被盗刷了，有人在转走我的钱")
    assert any("资金" in r["text"] or "优先" in r["text"] for r in answer["replies"])
    entry = waiting_entry(live, tokens[AGENT.login], later.conversation_id)
    assert entry["urgent"] and entry["reason"] == "urgent"
    with api(live, tokens[AGENT.login]) as client:
        order = [e["conversation_id"] for e in client.get("/api/v1/queue").json()["waiting"]]
    assert order == [later.conversation_id, early.conversation_id]


def test_an_agent_on_a_busy_queue_stays_online(sqlite_live, monkeypatch) -> None:
    live = sqlite_live
    enrol(live, AGENT)
    monkeypatch.setattr(routes, "PRESENCE_SECONDS", 0.5)
    with at_console(live, AGENT) as (client, _csrf):
        cookie = f"intake_console={client.cookies['intake_console']}"
        with live.service.sessions.begin() as s:  # signed in long ago, by the clock
            s.execute(update(AgentSession).values(present_at=datetime.now(UTC)
                                                  - timedelta(hours=1)))
        host = live.url.removeprefix("http://")
        with connect(f"ws://{host}/console/live", additional_headers={"Cookie": cookie},
                     open_timeout=10) as socket:
            waiting = WebCustomer(live)
            waiting.say("转人工")
            deadline = time.monotonic() + 3
            kinds = []
            while time.monotonic() < deadline:  # notices far more often than the beat
                waiting.say("还在吗？")
                kinds.append(json.loads(socket.recv(timeout=2))["kind"])
            with live.service.sessions() as s:
                present = s.scalar(select(AgentSession.present_at))
    assert "message" in kinds
    assert present is not None and present > datetime.now(UTC) - timedelta(seconds=5)


def test_an_unattended_console_signs_out_though_its_page_refreshes(sqlite_live) -> None:
    live = sqlite_live
    enrol(live, AGENT)
    with at_console(live, AGENT) as (client, _csrf):
        idle = timedelta(minutes=live.settings.console_idle_minutes)
        with live.service.sessions.begin() as s:
            s.execute(update(AgentSession).values(
                last_seen_at=datetime.now(UTC) - idle + timedelta(seconds=2)))
        refreshed = client.get("/console/queue", headers={"HX-Request": "true"})
        assert refreshed.status_code == 200
        time.sleep(2.5)
        assert client.get("/console/queue", headers={"HX-Request": "true"}).status_code == 401
        assert client.get("/console").status_code == 303


def test_a_disabled_agents_conversations_go_back_to_the_queue(sqlite_live, monkeypatch,
                                                               capsys) -> None:
    live = sqlite_live
    token = enrol(live, AGENT)
    customer = WebCustomer(live)
    customer.say("转人工")
    with api(live, token) as client:
        assert client.post(f"/api/v1/conversations/{customer.conversation_id}/take"
                           ).status_code == 200
    assert customer.say("你好？")["replies"] == []  # the agent has it: the bot is silent
    monkeypatch.setenv("INTAKE_DATABASE_URL", live.settings.database_url)
    assert intake(["agents", "disable", AGENT.login]) == 0
    assert "1 conversation(s) back in the queue" in capsys.readouterr().out
    enrol(live, OTHER)
    with api(live, enrol(live, LEAD)) as lead:
        queue = lead.get("/api/v1/queue").json()
    assert [e["conversation_id"] for e in queue["waiting"]] == [customer.conversation_id]
    assert customer.say("有人吗？")["replies"] != []  # nobody has it: the bot answers again


def test_an_agent_sees_none_of_a_customers_conversation_another_agent_has(live, tokens
                                                                         ) -> None:
    first, second = WebCustomer(live), WebCustomer(live)
    first.say("转人工")
    second.say("转人工")
    second.say("这是我跟另一位专员说的私密内容")
    ids = [first.conversation_id, second.conversation_id]
    with live.service.sessions.begin() as s:  # one customer, verified on both visits
        now = datetime.now(UTC)
        for conversation_id in ids:
            owner = s.scalar(select(Conversation.customer_id)
                             .where(Conversation.id == conversation_id))
            customers.verify_phone(s, owner, "+8613912345678", now)
    with live.service.sessions() as s:
        assert len(set(s.scalars(select(Customer.id)
                                 .join(Conversation, Conversation.customer_id == Customer.id)
                                 .where(Conversation.id.in_(ids))))) == 1
    with api(live, tokens[OTHER.login]) as other, api(live, tokens[AGENT.login]) as agent, \
            api(live, tokens[LEAD.login]) as lead:
        assert other.post(f"/api/v1/conversations/{second.conversation_id}/take"
                          ).status_code == 200
        seen = agent.get(f"/api/v1/conversations/{first.conversation_id}").json()
        assert "私密内容" not in json.dumps(seen, ensure_ascii=False)
        everything = lead.get(f"/api/v1/conversations/{first.conversation_id}").json()
        assert "私密内容" in json.dumps(everything, ensure_ascii=False)


def test_an_open_page_says_when_another_agent_took_its_conversation(live, tokens) -> None:
    customer = WebCustomer(live)
    customer.say("转人工")
    cid = customer.conversation_id
    with at_console(live, AGENT) as (page, _csrf):
        assert 'id="take"' in page.get(f"/console/conversations/{cid}").text
        with api(live, tokens[OTHER.login]) as other:
            assert other.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        refreshed = page.get(f"/console/conversations/{cid}/live",
                             headers={"HX-Request": "true"})
    assert refreshed.status_code == 403
    assert OTHER.name in refreshed.text and 'id="take"' not in refreshed.text


def test_a_canned_title_taken_in_that_language_is_refused_not_a_crash(sqlite_live) -> None:
    live = sqlite_live
    enrol(live, LEAD)
    with at_console(live, LEAD) as (client, csrf):
        form = {"csrf": csrf, "lang": "zh", "title": "问候", "text": "您好"}
        answer = client.post("/console/canned", data=form)
        assert answer.status_code == 409 and "问候" in answer.text
        assert client.post("/console/canned", data={**form, "lang": "en"}).status_code == 303


def test_parallel_wrong_passwords_do_not_get_past_the_limit(sqlite_live) -> None:
    live = sqlite_live
    enrol(live, AGENT)

    def guess(n: int) -> int:
        return httpx.post(f"{live.url}/console/login", timeout=30,
                          data={"login": AGENT.login, "password": f"guess-{n:04d}"}).status_code

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(guess, range(24)))
    assert answers.count(401) <= 10 and set(answers) <= {401, 429}
    right = httpx.post(f"{live.url}/console/login", timeout=30,
                       data={"login": AGENT.login, "password": AGENT.password})
    assert right.status_code == 429


def test_the_service_stops_promptly_with_consoles_open(tmp_path) -> None:
    """A restart must not wait for every open console to go away by itself."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}", _env_file=None)
    live, server, thread = start_server(settings)
    try:
        enrol(live, AGENT)
        with at_console(live, AGENT) as (client, _csrf):
            cookie = f"intake_console={client.cookies['intake_console']}"
        with connect(f"{live.ws_url}/console/live", additional_headers={"Cookie": cookie},
                     open_timeout=10):
            time.sleep(0.3)
            started = time.monotonic()
            stop_server(server, thread)
            stopped = time.monotonic() - started
    finally:
        stop_server(server, thread)
    assert not thread.is_alive() and stopped < 5
