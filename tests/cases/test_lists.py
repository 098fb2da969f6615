"""The case lists at /console/cases: each view with its count and order (overdue on top),
what an agent sees (theirs and the unassigned ones), taking a case, the deadline banners
on the queue page."""

from __future__ import annotations

import re

from tests.console.agents import AGENT, LEAD, OTHER
from tests.console.conftest import at_console, audit_trail, enrol
from tests.console.conftest import sqlite_live as sqlite_live  # the service on SQLite

from .lists_setup import case_of, count, events_of, put_case, rows, today


def test_each_list_with_its_count_overdue_first(sqlite_live) -> None:
    live = sqlite_live
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    late = put_case(live, due_in=-2)  # overdue, unassigned, normal
    urgent = put_case(live, due_in=10, priority="urgent")
    near = put_case(live, due_in=2, priority="low", agent=AGENT.login)
    edge = put_case(live, due_in=3, agent=OTHER.login)  # the third day still counts
    later = put_case(live, due_in=4, priority="high", agent=AGENT.login)
    done = put_case(live, due_in=-5, agent=AGENT.login, status="resolved")
    review = put_case(live, due_in=8, agent=AGENT.login, status="review_requested",
                      review=True)

    with at_console(live, LEAD) as (lead, _):
        page = lead.get("/console/cases")
        assert page.status_code == 200
        # Overdue on top, then by priority, then by due date; resolved work is in "all".
        assert rows(page.text) == [late, urgent, later, done, edge, review, near]
        counts = {v: count(page.text, v) for v in ("mine", "unassigned", "all", "near_due",
                                                   "overdue", "review")}
        assert counts == {"mine": 0, "unassigned": 2, "all": 7, "near_due": 2, "overdue": 1,
                          "review": 1}
        assert rows(lead.get("/console/cases?view=near_due").text) == [edge, near]
        assert rows(lead.get("/console/cases?view=overdue").text) == [late]
        assert rows(lead.get("/console/cases?view=review").text) == [review]
        assert rows(lead.get("/console/cases?view=all&priority=urgent").text) == [urgent]
        assert f'href="/console/cases/{late}"' in page.text

    with at_console(live, AGENT) as (agent, _):
        page = agent.get("/console/cases?view=all")
        assert edge not in rows(page.text), "another agent's case is not shown"
        assert set(rows(page.text)) == {late, urgent, near, later, done, review}
        assert rows(agent.get("/console/cases?view=mine").text) == [later, review, near]
        assert rows(agent.get("/console/cases?view=near_due").text) == [near]
        assert rows(agent.get("/console/cases?view=unassigned").text) == [late, urgent]
        assert count(page.text, "mine") == 3 and count(page.text, "near_due") == 1
        for bad in ("view=everything", "channel=fax", "priority=whenever", "page=0"):
            refused = agent.get(f"/console/cases?{bad}")
            assert refused.status_code == 422, bad
    assert today(live)  # the lists count days in the service's zone


def test_an_agent_takes_an_unassigned_case_once(sqlite_live) -> None:
    live = sqlite_live
    for who in (AGENT, OTHER):
        enrol(live, who)
    number = put_case(live, due_in=5)
    with at_console(live, AGENT) as (agent, csrf):
        listed = agent.get("/console/cases?view=unassigned").text
        assert f'action="/console/cases/{number}/take"' in listed
        taken = agent.post(f"/console/cases/{number}/take", data={"csrf": csrf})
        assert taken.status_code == 303
        assert rows(agent.get(taken.headers["location"]).text) == [number]
        assert number not in rows(agent.get("/console/cases?view=unassigned").text)
        again = agent.post(f"/console/cases/{number}/take", data={"csrf": csrf})
        assert again.status_code == 409
        assert agent.post("/console/cases/TS-NOPE/take", data={"csrf": csrf}).status_code == 404
        assert agent.post(f"/console/cases/{number}/take", data={}).status_code == 403
    with at_console(live, OTHER) as (other, csrf):
        late = other.post(f"/console/cases/{number}/take", data={"csrf": csrf})
        assert late.status_code == 409 and AGENT.name in late.text
    assert case_of(live, number).agent_id is not None
    [assigned] = events_of(live, number, "assigned")
    assert assigned.actor == f"agent:{AGENT.login}" and assigned.after["agent"] == AGENT.login
    trail = audit_trail(live, f"case:{number}")
    assert (f"agent:{AGENT.login}", "case_take", f"case:{number}") in trail
    assert (f"agent:{OTHER.login}", "case_take_refused", f"case:{number}") in trail


def test_overdue_cases_top_the_queue_and_alert_the_lead(sqlite_live) -> None:
    live = sqlite_live
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    urgent = put_case(live, due_in=9, priority="urgent")
    late = put_case(live, due_in=-1, priority="low", agent=AGENT.login)

    with at_console(live, LEAD) as (lead, _):
        queue = lead.get("/console").text
        table = queue[queue.index('id="cases"'):]
        assert table.index(late) < table.index(urgent), "the overdue case comes first"
        banners = re.findall(r'data-testid="alert"><a href="([^"]+)">([^<]+)</a>', queue)
        assert ("/console/cases?view=overdue", "1 件案件已逾期") in banners
        # The live refresh of the queue keeps the overdue count.
        assert '<b data-count="overdue">1</b>' in lead.get("/console/queue").text
        assert "1 件案件已逾期" in lead.get("/console/cases").text
    with at_console(live, AGENT) as (agent, _):
        banners = re.findall(r'data-testid="alert"><a href="([^"]+)">', agent.get("/console").text)
        assert banners == [f"/console/cases/{late}"]
    with at_console(live, OTHER) as (other, _):
        assert 'data-testid="alert"' not in other.get("/console").text
