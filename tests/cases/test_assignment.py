"""Automatic assignment: off until a lead turns it on; each new case (web chat, hotline)
goes to the available, enabled agent with the fewest open cases, equals taking turns;
cases filed at the same moment do not both go to the same agent. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bot.cases import assignment
from bot.store import agents, cases, customers
from tests.cases.test_cases_work_cli import filed
from tests.console.agents import AGENT, LEAD, OTHER
from tests.console.conftest import at_console, audit_trail, enrol
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

from .lists_setup import case_of, events_of, today

HOTLINE = Path(__file__).resolve().parents[1] / "data" / "hotline"


def assignee(live, number: str) -> str | None:
    agent_id = case_of(live, number).agent_id
    if agent_id is None:
        return None
    with live.service.sessions() as session:
        found = agents.get(session, agent_id)
        assert found is not None
        return found.login


def set_available(live, who, on: bool) -> None:
    with at_console(live, who) as (client, csrf):
        answer = client.post("/console/availability",
                             data={"csrf": csrf, "available": "1" if on else "0"})
        assert answer.status_code == 303


def test_new_cases_go_to_the_least_loaded_available_agent_in_turn(live) -> None:
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    _, first = filed(live)
    assert assignee(live, first) is None, "automatic assignment is off until a lead turns it on"

    with at_console(live, AGENT) as (agent, csrf):
        refused = agent.post("/console/options/auto-assign", data={"csrf": csrf, "on": "1"})
        assert refused.status_code == 403
        assert agent.post(f"/console/cases/{first}/take", data={"csrf": csrf}).status_code == 303
        page = agent.get("/console/cases").text
        assert 'data-auto-assign="0"' in page and 'data-available="0"' in page
    with at_console(live, LEAD) as (lead, csrf):
        assert lead.post("/console/options/auto-assign",
                         data={"csrf": csrf, "on": "maybe"}).status_code == 422
        assert lead.post("/console/options/auto-assign",
                         data={"csrf": csrf, "on": "1"}).status_code == 303
        assert 'data-auto-assign="1"' in lead.get("/console/cases").text
    assert (f"agent:{AGENT.login}", "auto_assign_refused", "option:auto_assign") in \
        audit_trail(live)
    assert (f"agent:{LEAD.login}", "auto_assign", "option:auto_assign") in audit_trail(live)
    for who in (AGENT, OTHER):
        set_available(live, who, True)

    # AGENT has one open case, OTHER none: the next goes to OTHER; then they are equal and
    # take turns.
    dealt = [assignee(live, filed(live)[1]) for _ in range(3)]
    assert dealt == [OTHER.login, AGENT.login, OTHER.login]
    with at_console(live, AGENT) as (agent, _):
        assert 'data-available="1"' in agent.get("/console/cases").text
    _, number = filed(live)
    [event] = events_of(live, number, "assigned")
    assert event.actor == "system" and event.after["agent"] == AGENT.login

    # Unavailable and disabled agents are passed by; with nobody left, it stays unassigned.
    set_available(live, AGENT, False)
    _, number = filed(live)
    assert assignee(live, number) == OTHER.login
    with live.service.sessions.begin() as session:
        other = agents.by_login(session, OTHER.login)
        assert other is not None
        agents.disable(session, other, datetime.now(UTC))
    call = (HOTLINE / "zh_rude_teller.vtt").read_bytes()
    result = live.service.hotline.ingest(call, "zh_rude_teller.vtt")
    assert result.status == "filed" and assignee(live, result.case_number) is None

    set_available(live, AGENT, True)
    call = (HOTLINE / "zh_fraud_debit_card.json").read_bytes()
    result = live.service.hotline.ingest(call, "zh_fraud_debit_card.json")
    assert result.status == "filed" and assignee(live, result.case_number) == AGENT.login


def test_cases_filed_at_the_same_moment_go_to_different_agents(live) -> None:
    """The first filing holds its transaction open after its pick; the second, filed
    meanwhile, must wait for it and see its assignment, not pick on stale counts."""
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    with at_console(live, LEAD) as (lead, csrf):
        lead.post("/console/options/auto-assign", data={"csrf": csrf, "on": "1"})
    for who in (AGENT, OTHER):
        set_available(live, who, True)
    picked: dict[str, str | None] = {}
    first_picked = threading.Event()

    def file_one(name: str, linger: float) -> None:
        now = datetime.now(UTC)
        with live.service.sessions.begin() as session:
            identity = customers.identity_for(session, "webchat", uuid.uuid4().hex, now)
            case = cases.file(session, {"description": "多收手续费", "language": "zh"},
                              number=f"TS{uuid.uuid4().hex[:10].upper()}",
                              customer_id=identity.customer_id, conversation_id=None,
                              channel="webchat", now=now, due=today(live))
            chosen = assignment.on_filed(session, case, now)
            picked[name] = chosen.login if chosen else None
            if linger:
                first_picked.set()
                threading.Event().wait(linger)  # still uncommitted while the other files

    first = threading.Thread(target=file_one, args=("first", 0.8))
    first.start()
    assert first_picked.wait(20)
    second = threading.Thread(target=file_one, args=("second", 0))
    second.start()
    first.join(30)
    second.join(30)
    assert set(picked.values()) == {AGENT.login, OTHER.login}, picked
