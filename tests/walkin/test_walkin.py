"""Walk-in complaints at a branch counter, over real HTTP on SQLite and PostgreSQL: the
engine prefills the form from the customer's words, staff complete it, and the case is filed
with channel `branch`, the usual number and the usual deadline."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bot.store.models import Case, CaseEvent, Customer
from tests.console.agents import AGENT, LEAD, OTHER
from tests.console.conftest import at_console, audit_trail, enrol
from tests.console.conftest import live as live  # the service, on SQLite and PostgreSQL
from tests.console.conftest import sqlite_live as sqlite_live
from tests.service.conftest import LiveServer
from workflow.engine import Engine, build_case

WORDS = "我是张伟，手机13812345678，昨天在南山支行ATM取款2000元被吞卡，要求退还"
NUMBER = re.compile(r"TS(\d{8})-\d{4}")


def today(live: LiveServer):
    return datetime.now(UTC).astimezone(live.settings.zone).date()


def value_of(page: str, name: str) -> str | None:
    """What the form shows in the input, textarea or select named `name`."""
    found = re.search(rf'<input[^>]*\bname="{name}"[^>]*\bvalue="([^"]*)"', page)
    if found:
        return html.unescape(found.group(1))
    found = re.search(rf'<textarea[^>]*\bname="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    if found:
        return html.unescape(found.group(1))
    select_ = re.search(rf'<select[^>]*\bname="{name}"[^>]*>(.*?)</select>', page, re.S)
    if select_:
        chosen = re.search(r'<option value="([^"]*)" selected', select_.group(1))
        return chosen.group(1) if chosen else ""
    return None


def form_of(page: str) -> dict[str, str]:
    names = ("csrf", "description", "name", "phone", "business", "incident_time", "amount",
             "currency", "branch", "resolution", "language", "incident_time_text",
             "incident_time_from")
    return {n: value_of(page, n) or "" for n in names}


def case_count(live: LiveServer) -> int:
    with live.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(Case)) or 0


def prefilled(client: httpx.Client, csrf: str, words: str) -> str:
    answer = client.post("/console/walk-in/prefill", data={"csrf": csrf, "description": words})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_engine_prefills_the_form_and_the_case_is_filed(live: LiveServer) -> None:
    enrol(live, AGENT)
    with at_console(live, AGENT) as (client, csrf):
        page = client.get("/console/walk-in")
        assert page.status_code == 200 and 'name="description"' in page.text

        page = prefilled(client, csrf, WORDS)
        form = form_of(page)
        assert form["name"] == "张伟"
        assert form["phone"] == "+8613812345678"
        assert form["branch"] == "南山支行"
        assert form["amount"] == "2000" and form["currency"] == "CNY"
        assert form["business"] == "debit_card"
        assert form["incident_time"] == (today(live) - timedelta(days=1)).isoformat()
        assert form["resolution"] == "要求退还"
        assert form["description"] == WORDS
        # The business line's label comes from the customer catalog, the engine's labels
        # are shown with the words behind them.
        assert "借记卡" in page
        assert 'id="walkin-category" data-value="service"' in page
        assert 'id="walkin-priority" data-value="normal"' in page
        assert "吞卡" in page
        assert case_count(live) == 0  # prefilling files nothing

        answer = client.post("/console/walk-in", data=form)
        assert answer.status_code == 303, answer.text
        target = answer.headers["location"]
        found = NUMBER.search(target)
        assert found and target == f"/console/walk-in/filed/{found.group(0)}"
        number = found.group(0)
        assert found.group(1) == today(live).strftime("%Y%m%d")

        receipt = client.get(target)
        assert receipt.status_code == 200
        assert number in receipt.text
        due = (today(live) + timedelta(days=15)).isoformat()
        assert due in receipt.text
        assert f'href="/console/cases/{number}"' in receipt.text

    # The engine's own reading of the same words: the case carries its labels.
    expected = build_case(Engine().step(None, WORDS, datetime.now(UTC).astimezone(
        live.settings.zone)).state)
    with live.service.sessions() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        assert case.channel == "branch" and case.branch == "南山支行"
        assert case.conversation_id is None
        assert case.status == "new"
        assert case.due_date == today(live) + timedelta(days=15)
        assert (case.name, case.phone, case.business) == ("张伟", "+8613812345678",
                                                          "debit_card")
        assert case.amount == 2000 and case.currency == "CNY"
        assert case.incident_time == today(live) - timedelta(days=1)
        assert case.incident_time_text == "昨天"
        assert case.description == WORDS
        assert (case.category, case.priority) == (expected["category"], expected["priority"])
        assert case.reasons["business"] == expected["reasons"]["business"]
        assert case.missing == [] and case.callback_reason is None
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert [(e.actor, e.action) for e in events] == [("agent:wang", "filed")]
        customer = s.get(Customer, case.customer_id)
        assert customer is not None and customer.phone == "+8613812345678"
        assert customer.phone_verified_at is None  # typed at the counter: links no one
    assert ("agent:wang", "walk_in_filed", f"case:{number}") in audit_trail(live)


def test_a_card_number_is_masked_and_an_urgent_case_stays_urgent(live: LiveServer) -> None:
    enrol(live, AGENT)
    words = "我的卡6222021234567890128昨天被盗刷了5000元，不是本人操作"
    with at_console(live, AGENT) as (client, csrf):
        page = prefilled(client, csrf, words)
        assert "6222021234567890128" not in page
        form = form_of(page) | {"name": "李四", "phone": "13900001111",
                                "branch": "福田支行 6222021234567890128"}
        assert form["business"] == "debit_card"
        form["description"] = words  # as if pasted again, unmasked
        answer = client.post("/console/walk-in", data=form)
        assert answer.status_code == 303, answer.text
        number = NUMBER.search(answer.headers["location"]).group(0)  # type: ignore[union-attr]
    with live.service.sessions() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        for text in (case.description, case.branch):
            assert "6222021234567890128" not in text and "0128" in text
        assert case.priority == "urgent" and "盗刷" in " ".join(case.reasons["priority"])
        assert case.category == "product"
        # No resolution given: the case is filed and an agent calls to complete it.
        assert case.missing == ["resolution"] and case.callback_reason == "fields_missing"


def test_missing_and_invalid_fields_are_refused_and_nothing_is_filed(
        sqlite_live: LiveServer) -> None:
    live = sqlite_live
    enrol(live, AGENT)
    with at_console(live, AGENT) as (client, csrf):
        answer = client.post("/console/walk-in", data={"csrf": csrf, "description": "柜员态度差"})
        assert answer.status_code == 422
        for field in ("name", "phone", "business", "branch"):
            assert f'data-testid="problem-{field}"' in answer.text
        assert value_of(answer.text, "description") == "柜员态度差"  # nothing lost

        answer = client.post("/console/walk-in", data={"csrf": csrf, "name": "张伟"})
        assert answer.status_code == 422 and 'data-testid="problem-description"' in answer.text

        tomorrow = (today(live) + timedelta(days=1)).isoformat()
        bad = {"csrf": csrf, "description": "柜员态度差", "name": "张伟", "phone": "12345",
               "business": "lottery", "branch": "南山支行", "amount": "-5",
               "incident_time": tomorrow}
        answer = client.post("/console/walk-in", data=bad)
        assert answer.status_code == 422
        for field in ("phone", "business", "amount", "incident_time"):
            assert f'data-testid="problem-{field}"' in answer.text
        for when in ("2025-13-40", "yesterday"):
            answer = client.post("/console/walk-in", data=bad | {"incident_time": when})
            assert 'data-testid="problem-incident_time"' in answer.text
        answer = client.post("/console/walk-in", data=bad | {
            "phone": "13812345678", "business": "deposit", "amount": "12", "incident_time": "",
            "currency": "XYZ", "branch": "支" * 201})
        assert answer.status_code == 422
        assert 'data-testid="problem-currency"' in answer.text
        assert 'data-testid="problem-branch"' in answer.text
        answer = client.post("/console/walk-in/prefill", data={"csrf": csrf, "description": ""})
        assert answer.status_code == 422
    assert case_count(live) == 0


def test_signed_out_and_forged_requests_file_nothing(live: LiveServer) -> None:
    for who in (AGENT, OTHER, LEAD):
        enrol(live, who)
    anonymous = httpx.Client(base_url=live.url, timeout=10)
    answer = anonymous.get("/console/walk-in")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fwalk-in"
    complete = {"description": WORDS, "name": "张伟", "phone": "13812345678",
                "business": "debit_card", "branch": "南山支行"}
    for path in ("/console/walk-in", "/console/walk-in/prefill"):
        answer = anonymous.post(path, data=complete)
        assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
    anonymous.close()
    with at_console(live, AGENT) as (client, csrf):
        answer = client.post("/console/walk-in", data=complete)
        assert answer.status_code == 403
        answer = client.post("/console/walk-in", data=complete | {"csrf": "forged"})
        assert answer.status_code == 403
        answer = client.post("/console/walk-in", data=complete | {"csrf": csrf},
                             headers={"Origin": "https://evil.example"})
        assert answer.status_code == 403
        assert case_count(live) == 0
        answer = client.post("/console/walk-in", data=complete | {"csrf": csrf})
        assert answer.status_code == 303
        receipt = answer.headers["location"]
    # The receipt is the filer's and the leads'; another agent is refused, an unknown
    # number is not found.
    with at_console(live, OTHER) as (client, _):
        assert client.get(receipt).status_code == 403
        assert client.get("/console/walk-in/filed/TS20000101-0001").status_code == 404
    with at_console(live, LEAD) as (client, _):
        assert client.get(receipt).status_code == 200
    assert case_count(live) == 1


def test_a_returning_walk_in_customer_is_found_by_phone(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    enrol(live, AGENT)
    with at_console(live, AGENT) as (client, csrf):
        numbers = []
        for words in (WORDS, "我是张伟，手机13812345678，柜员态度很差，要求道歉"):
            form = form_of(prefilled(client, csrf, words)) | {"branch": "南山支行",
                                                                 "business": "debit_card"}
            answer = client.post("/console/walk-in", data=form)
            assert answer.status_code == 303, answer.text
            numbers.append(NUMBER.search(answer.headers["location"]).group(0))  # type: ignore
    assert numbers[0] != numbers[1]
    with live.service.sessions() as s:
        owners = {c.customer_id for c in s.scalars(select(Case))}
    assert len(owners) == 1
