"""The call-back list: hotline calls with fields to confirm are listed with the number to
ring; an agent records the call; the case leaves the list when the customer was reached
and nothing is missing; what does not fit is refused, not stored."""

from __future__ import annotations

import re
from pathlib import Path

from tests.console.agents import AGENT, LEAD, OTHER
from tests.console.conftest import at_console, audit_trail, enrol
from tests.console.conftest import sqlite_live as sqlite_live  # the service on SQLite

from .lists_setup import case_of, events_of, put_case

HOTLINE = Path(__file__).resolve().parents[1] / "data" / "hotline"


def imported(live, name: str) -> str:
    result = live.service.hotline.ingest((HOTLINE / name).read_bytes(), name)
    assert result.status == "filed", result
    return result.case_number


def listed(html: str) -> list[str]:
    return re.findall(r'<section class="card callback" data-case="([^"]+)"', html)


def section(html: str, number: str) -> str:
    start = html.index(f'data-case="{number}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_a_call_back_recorded_until_nothing_is_missing(sqlite_live) -> None:
    live = sqlite_live
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    noname = imported(live, "zh_atm_card_retained_noname.json")  # the name is missing
    nophone = imported(live, "zh_surrender_in_person_nophone.vtt")  # the phone is missing
    complete = imported(live, "zh_rude_teller.vtt")  # nothing missing: not listed
    assert case_of(live, noname).missing == ["name"]

    with at_console(live, AGENT) as (agent, csrf):
        page = agent.get("/console/callbacks").text
        assert set(listed(page)) == {noname, nophone} and complete not in page
        card = section(page, noname)
        assert "+8615300004444" in card or "15300004444" in card  # the number to ring
        assert 'name="name"' in card and 'name="phone"' not in card
        assert 'name="phone"' in section(page, nophone)

        # Nobody answered: the case stays, with the attempt shown.
        missed = agent.post(f"/console/callbacks/{noname}",
                            data={"csrf": csrf, "outcome": "no_answer", "note": "响铃无人接"})
        assert missed.status_code == 303
        card = section(agent.get("/console/callbacks").text, noname)
        assert 'data-outcome="no_answer"' in card and "响铃无人接" in card

        # What does not fit is refused and changes nothing.
        for form, status in (({"outcome": "maybe"}, 422),
                             ({"outcome": "no_answer", "name": "张伟"}, 422),
                             ({"outcome": "reached", "phone": "12345"}, 409),
                             ({"outcome": "reached", "note": "x" * 2001}, 422)):
            answer = agent.post(f"/console/callbacks/{noname}", data={"csrf": csrf, **form})
            assert answer.status_code == status, (form, answer.status_code)
        bad_phone = agent.post(f"/console/callbacks/{nophone}",
                               data={"csrf": csrf, "outcome": "reached", "phone": "不知道"})
        assert bad_phone.status_code == 422
        assert agent.post(f"/console/callbacks/{complete}",
                          data={"csrf": csrf, "outcome": "reached"}).status_code == 409
        assert agent.post("/console/callbacks/TS-NONE",
                          data={"csrf": csrf, "outcome": "reached"}).status_code == 404
        assert case_of(live, noname).name is None

        # Reached, the name confirmed: the case leaves the list with the name set.
        reached = agent.post(f"/console/callbacks/{noname}",
                             data={"csrf": csrf, "outcome": "reached", "name": "  张伟 ",
                                   "note": "客户确认姓名"})
        assert reached.status_code == 303
        assert listed(agent.get("/console/callbacks").text) == [nophone]
        # Reached but asked to call again: the phone is confirmed, the case stays listed.
        again = agent.post(f"/console/callbacks/{nophone}",
                           data={"csrf": csrf, "outcome": "call_again",
                                 "phone": "139 1234 5678"})
        assert again.status_code == 303
        assert listed(agent.get("/console/callbacks").text) == [nophone]

    case = case_of(live, noname)
    assert (case.name, case.missing, case.callback_reason) == ("张伟", [], None)
    calls = events_of(live, noname, "callback")
    assert [c.after["outcome"] for c in calls] == ["no_answer", "reached"]
    assert calls[-1].before["fields"] == {"name": None}
    assert calls[-1].after["fields"] == {"name": "张伟"} and calls[-1].after["missing"] == []
    assert events_of(live, noname, "callback_cleared")
    later = case_of(live, nophone)
    assert later.phone == "+8613912345678" and later.missing == []
    assert later.callback_reason == "fields_missing"
    trail = audit_trail(live, f"case:{noname}")
    assert trail.count((f"agent:{AGENT.login}", "callback", f"case:{noname}")) == 2
    assert (f"agent:{AGENT.login}", "callback_refused", f"case:{noname}") in trail


def test_an_agent_sees_their_own_call_backs_and_the_unassigned(sqlite_live) -> None:
    live = sqlite_live
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    number = imported(live, "zh_atm_card_retained_noname.json")
    with at_console(live, OTHER) as (other, csrf):
        assert other.post(f"/console/cases/{number}/take", data={"csrf": csrf}).status_code \
            == 303
    put_case(live, due_in=5)  # no call-back needed: never on the list
    with at_console(live, AGENT) as (agent, csrf):
        assert number not in agent.get("/console/callbacks").text
        refused = agent.post(f"/console/callbacks/{number}",
                             data={"csrf": csrf, "outcome": "reached", "name": "张伟"})
        assert refused.status_code == 403
    with at_console(live, LEAD) as (lead, _):
        assert listed(lead.get("/console/callbacks").text) == [number]
        assert lead.get("/console/callbacks?page=x").status_code == 422
