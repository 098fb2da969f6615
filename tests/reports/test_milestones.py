"""What the reports measure is kept on each case as it happens: the day of receipt, whether
the bot filed it with no person in the conversation, a person's first answer (a move of the
case, a reply in the conversation; a hotline call from the start), the resolution (cleared on
reopening), and the JR/T 0169 dimensions as columns."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bot.store.models import Case, CaseEvent
from tests.cases.test_cases_work_cli import complain, filed
from tests.console.agents import LEAD, api
from tests.console.conftest import Customer, at_console, enrol
from tests.console.conftest import sqlite_live as sqlite_live  # the service on SQLite
from tests.service.conftest import LiveServer
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

HOTLINE = Path(__file__).resolve().parents[1] / "data" / "hotline"


def stored(live: LiveServer, number: str) -> Case:
    with live.service.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        session.expunge(case)
        return case


def moved_at(live: LiveServer, number: str) -> list[datetime]:
    with live.service.sessions() as session:
        return list(session.scalars(
            select(CaseEvent.at).join(Case, Case.id == CaseEvent.case_id)
            .where(Case.number == number, CaseEvent.action == "status_changed")
            .order_by(CaseEvent.id)))


def test_a_bot_filed_case_keeps_its_first_answer_and_resolution(live: LiveServer) -> None:
    _, number = filed(live)
    case = stored(live, number)
    assert case.filed_by_bot is True
    assert case.filed_on == case.filed_at.astimezone(live.settings.zone).date()
    assert case.filed_on.strftime("%Y%m%d") in number
    assert (case.reg_channel, case.reg_business, case.reg_reason) == (
        case.regulatory["channel"], case.regulatory["business_type"],
        case.regulatory["reason"])
    assert case.first_response_at is None and case.resolved_at is None

    enrol(live, LEAD)
    path = f"/console/cases/{number}/move"
    with at_console(live, LEAD) as (lead, csrf):
        assert lead.post(path, data={"csrf": csrf, "status": "in_progress"}).status_code == 303
        first = stored(live, number).first_response_at
        assert first is not None and first == moved_at(live, number)[0]
        answer = lead.post(path, data={"csrf": csrf, "status": "resolved",
                                       "outcome": "已退还手续费"})
        assert answer.status_code == 303
        case = stored(live, number)
        assert case.resolved_at == moved_at(live, number)[-1]
        assert case.first_response_at == first  # the first answer stays the first
        answer = lead.post(path, data={"csrf": csrf, "status": "reopened",
                                       "note": "客户补充了新情况"})
        assert answer.status_code == 303
    assert stored(live, number).resolved_at is None  # open again: not resolved


def test_a_person_in_the_conversation_marks_the_case_and_answers_it(
        sqlite_live: LiveServer) -> None:
    live = sqlite_live
    token = enrol(live, LEAD)
    customer = Customer(live)
    customer.say("你好")
    cid = customer.conversation_id
    with api(live, token) as lead:
        # A lead steps in before the complaint is told, then hands back to the bot.
        assert lead.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        assert lead.post(f"/api/v1/conversations/{cid}/messages",
                         json={"text": "您好，请讲"}).status_code == 201
        assert lead.post(f"/api/v1/conversations/{cid}/release").status_code == 200
        number = complain(customer)
        case = stored(live, number)
        assert case.filed_by_bot is False  # a person took part before it was filed
        assert case.first_response_at is None  # nobody has answered the complaint yet
        # The same customer's next complaint, taken by the bot alone, is the bot's.
        again = complain(customer, "另外，我的信用卡年费300元没有提前告知就扣了，要求退还")
        assert again != number and stored(live, again).filed_by_bot is True
        # The lead's reply after filing is the complaint's first answer.
        assert lead.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        sent = lead.post(f"/api/v1/conversations/{cid}/messages",
                         json={"text": "已收到您的投诉，正在核实"})
        assert sent.status_code == 201
    case = stored(live, number)
    assert case.first_response_at is not None and case.first_response_at > case.filed_at


def test_a_hotline_call_is_answered_by_a_person_from_the_start(sqlite_live: LiveServer
                                                               ) -> None:
    live = sqlite_live
    env = {**os.environ, "INTAKE_DATABASE_URL": live.settings.database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "import-transcripts",
                           str(HOTLINE / "en_car_loan_fee.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    with live.service.sessions() as session:
        case = session.scalar(select(Case).where(Case.channel == "hotline"))
        assert case is not None
    assert case.first_response_at == case.filed_at
    assert case.filed_by_bot is False and case.filed_on is not None
