"""The reports in the console over real HTTP: the dashboard's figures for a lead (and a
refusal for an agent or a bad query), its downloads (masked, formula-safe, audited), the lead's
"recompute now" with its banner, and an agent's audited correction of a case's JR/T 0169
dimensions, which the regulatory report then counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
from sqlalchemy import select

from bench import casegen
from bot.store import agents
from bot.store.models import Case, CaseEvent
from tests.console.agents import AGENT, LEAD
from tests.console.conftest import at_console, audit_trail, enrol
from tests.console.conftest import sqlite_live as sqlite_live  # the service on SQLite
from tests.reports import expect
from tests.service.conftest import LiveServer
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

CARD = "6222021234567890123"


def seed(live: LiveServer, n: int = 400, days: int = 60) -> list[dict[str, Any]]:
    today = datetime.now(UTC).astimezone(live.settings.zone).date()
    cases = casegen.generate(n, days, today, seed=9)
    cases[0]["description"] = f"=HYPERLINK(\"http://x\") 卡号{CARD}"  # a formula, a card
    cases[1]["description"] = "ATM吞卡\x1b[31m 卡没退\x0b"  # control characters a chat may carry
    casegen.insert_at(live.settings.database_url, cases)
    return cases


def figure(html: str, name: str) -> int:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return int(found.group(1))


def table(html: str, name: str) -> dict[str, int]:
    """{data-key: the row's cases} of one of the page's tables."""
    body = re.search(rf'<table[^>]*data-table="{name}">(.*?)</table>', html, re.S)
    assert body, name
    rows = re.findall(r'<tr data-key="([^"]+)">.*?<td class="num">(\d+)</td>', body.group(1),
                      re.S)
    return {k: int(n) for k, n in rows}


def test_a_lead_sees_the_periods_figures_and_downloads_them(live: LiveServer) -> None:
    cases = seed(live)
    enrol(live, LEAD)
    today = datetime.now(UTC).astimezone(live.settings.zone).date()
    start = today - timedelta(days=29)
    mine = expect.chosen(cases, start, today)
    want = expect.figures(mine, today, today + timedelta(days=3))
    query = f"from={start.isoformat()}&to={today.isoformat()}"
    with at_console(live, LEAD) as (lead, _):
        page = lead.get(f"/console/reports?{query}")
        assert page.status_code == 200, page.text
        html = page.text
        assert figure(html, "total") == want["total"] > 0
        assert figure(html, "overdue") == want["overdue"]
        assert figure(html, "open") == want["open"]
        assert table(html, "business") == want["by_business"]
        assert table(html, "channel") == want["by_channel"]
        assert sum(table(html, "over_time").values()) == want["total"]
        # Every chart is drawn with its data, and each bar carries its value.
        for chart in ("over_time", "category", "business", "channel", "priority", "status"):
            svg = re.search(rf'<svg class="chart [a-z]+" data-chart="{chart}".*?</svg>', html,
                            re.S)
            assert svg, chart
            values = [int(v) for v in re.findall(r'data-value="(\d+)"', svg.group(0))]
            assert sum(values) == want["total"], chart
        assert 'src="http' not in html and "<script>" not in html  # nothing from elsewhere

        # Cases as CSV: every case of the period, masked, formulas defused.
        answer = lead.get(f"/console/reports/export?{query}&kind=cases&format=csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        text = answer.content.decode("utf-8")
        assert text.startswith("\ufeff") and CARD not in text
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert len(rows) == 1 + want["total"]
        numbers = {r[0] for r in rows[1:]}
        assert numbers == {c["number"] for c in mine}
        description = rows[0].index("description")
        assert all(not r[description].startswith(("=", "+", "@")) for r in rows[1:])

        # The regulatory report as XLSX opens and counts every case once.
        answer = lead.get(f"/console/reports/export?{query}&kind=regulatory&format=xlsx")
        assert answer.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        sheet = book["regulatory"]
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][-1] == "count"
        assert sum(r[-1] for r in values[1:]) == want["total"]
        by_key = {(r[1], r[3], r[5]): r[6] for r in values[1:]}
        assert len(by_key) == len(want["regulatory"])
    exported = [a for a in audit_trail(live) if a[1] == "report_export"]
    assert [a[0] for a in exported] == [f"agent:{LEAD.login}"] * 2


def test_the_first_case_exported_as_xlsx_keeps_its_text_as_text(sqlite_live: LiveServer
                                                                 ) -> None:
    live = sqlite_live
    cases = seed(live, n=50, days=10)
    enrol(live, LEAD)
    today = datetime.now(UTC).astimezone(live.settings.zone).date()
    with at_console(live, LEAD) as (lead, _):
        answer = lead.get(f"/console/reports/export?from={(today - timedelta(days=9))}"
                          f"&to={today}&kind=cases&format=xlsx")
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = book["cases"]
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == {c["number"] for c in cases}
    first = cells[cases[0]["number"]][header.index("description")]
    assert first.data_type == "s" and first.value.startswith("=HYPERLINK")  # text
    assert CARD not in first.value and first.value.endswith("*0123")  # masked, not dropped
    assert book.sheetnames == ["cases", "regulatory"]
    second = cells[cases[1]["number"]][header.index("description")].value
    assert second == "ATM吞卡[31m 卡没退"  # what a worksheet cannot hold is dropped


def test_agents_and_bad_queries_are_refused_with_a_reason(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    enrol(live, LEAD)
    enrol(live, AGENT)
    with at_console(live, AGENT) as (agent, _):
        assert agent.get("/console/reports").status_code == 403
        refused = agent.get("/console/reports/export?kind=cases&format=csv")
        assert refused.status_code == 403 and "组长" in refused.text
    assert ("agent:wang", "report_export_refused", "reports") in audit_trail(live)
    with at_console(live, LEAD) as (lead, _):
        for query, words in (("from=2026-13-01", "from"),
                             ("from=2026-12-05&to=2026-12-01", "结束日"),
                             ("business=cars", "business"), ("by=month", "day"),
                             ("from=2020-01-01&to=2026-01-01", "1098"),
                             ("to=0001-01-05", "1098"), ("from=0001-01-01&to=0001-01-02",
                                                         "1098")):
            answer = lead.get(f"/console/reports?{query}")
            assert answer.status_code == 422, query
            assert words in answer.text, (query, answer.text[-400:])
        for query in ("kind=agents&format=csv", "kind=cases&format=pdf"):
            assert lead.get(f"/console/reports/export?{query}").status_code == 422
    signed_out = httpx.get(f"{live.url}/console/reports?from=2026-01-01", timeout=10)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/console/login?next=")


def test_an_agent_corrects_the_regulatory_dimensions_with_a_reason(live: LiveServer) -> None:
    seed(live, n=30, days=5)
    enrol(live, LEAD)
    enrol(live, AGENT)
    with live.service.sessions.begin() as session:
        case = session.scalars(select(Case).order_by(Case.id)).first()
        assert case is not None
        number, before = case.number, dict(case.regulatory)
        case.agent_id = _agent_id(session, AGENT.login)  # the agent's own case
    path = f"/console/cases/{number}/regulatory"
    with at_console(live, AGENT) as (agent, csrf):
        # No reason: refused, nothing changes.
        answer = agent.post(path, data={"csrf": csrf, "channel": "counter", "note": " "})
        assert answer.status_code == 422
        answer = agent.post(path, data={"csrf": csrf, "reason": "made_up", "note": "x"})
        assert answer.status_code == 422
        answer = agent.post(path, data={"csrf": csrf, "channel": "counter",
                                        "business_type": "loans", "reason": "pricing_fees",
                                        "note": "客户在柜台办理的贷款，卡号6222021234567890123"})
        assert answer.status_code == 303
        page = agent.get(f"/console/cases/{number}").text
        assert 'data-dimension="channel" data-key="counter"' in page
        assert 'data-testid="edited-regulatory"' in page
    with live.service.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        assert (case.reg_channel, case.reg_business, case.reg_reason) == \
            ("counter", "loans", "pricing_fees")
        events = list(session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "regulatory_changed")))
    assert len(events) == 1
    event = events[0]
    assert event.actor == f"agent:{AGENT.login}"
    assert event.before == {k: before[k] for k in event.before}
    assert event.after["channel"] == "counter" and CARD not in event.after["reason"]
    # The regulatory report counts the case where the agent put it.
    with at_console(live, LEAD) as (lead, _):
        today = datetime.now(UTC).astimezone(live.settings.zone).date()
        html = lead.get(f"/console/reports?from={today - timedelta(days=4)}&to={today}").text
        assert 'data-key="counter|loans|pricing_fees"' in html


def _agent_id(session: Any, login: str) -> int:
    found = agents.by_login(session, login)
    assert found is not None
    return found.id


def test_a_lead_recomputes_the_groups_and_is_alerted_to_a_growing_one(
        sqlite_live: LiveServer) -> None:
    live = sqlite_live
    today = datetime.now(UTC).astimezone(live.settings.zone).date()
    others, atm = casegen.atm_scenario(today)
    casegen.insert_at(live.settings.database_url, others + atm)
    enrol(live, LEAD)
    enrol(live, AGENT)
    with at_console(live, AGENT) as (agent, csrf):
        assert agent.post("/console/reports/refresh", data={"csrf": csrf}).status_code == 403
    with at_console(live, LEAD) as (lead, csrf):
        before = lead.get("/console/cases").text
        assert "/console/reports#clusters" not in before
        answer = lead.post("/console/reports/refresh", data={"csrf": csrf})
        assert answer.status_code == 303
        html = lead.get(f"/console/reports?from={today - timedelta(days=89)}&to={today}").text
        row = re.search(r'<tr data-key="debit_card\|atm\|吞卡" class="growing major">(.*?)</tr>',
                        html, re.S)
        assert row, "the ATM group, growing"
        assert 'data-customers="28"' in row.group(1)
        # Links to its cases, the latest 20, and how many more there are.
        links = re.findall(r'href="/console/cases/([^"]+)"', row.group(1))
        assert len(links) == 20 and set(links) <= {c["number"] for c in atm}
        assert "等另 10 件" in row.group(1)
        banners = lead.get("/console/cases").text
        assert re.search(r'data-testid="alert"><a href="/console/reports#clusters">1 个同类投诉聚类'
                         r'正在快速增长', banners)
    assert any(a[1] == "cluster_alert" for a in audit_trail(live))
    assert any(a[1] == "reports_refresh" for a in audit_trail(live))
