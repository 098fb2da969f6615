"""The console's case page over real HTTP: a web chat customer's case with its fields (masked)
and the engine's reasons, corrections with a reason, moves, assignment, deadline extensions,
internal notes, and who may see and change what."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import select

from bot.settings import Settings
from bot.store.models import Case
from tests.cases.test_cases_work_cli import filed as complain
from tests.console.agents import AGENT, LEAD, OTHER
from tests.console.conftest import Customer, at_console, audit_trail, enrol
from tests.console.conftest import sqlite_live as sqlite_live  # the service on SQLite only
from tests.service.conftest import LiveServer, serving
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

CARD = "6222021234567890128"
OPENING = (f"我是李娜，12月1日在南山支行办理存款，柜员多收了我20元手续费，态度还很差，"
           f"我的卡号{CARD}，希望退还手续费并道歉，电话13912345678")
NUMBER = re.compile(r"TS\d{8}-\d{4}")


def filed(live: LiveServer, opening: str = OPENING) -> tuple[Customer, str]:
    return complain(live, opening)


def stored(live: LiveServer, number: str) -> Case:
    with live.service.sessions() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        s.expunge(case)
        return case


def text_of(page: httpx.Response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def post(client: httpx.Client, number: str, what: str, csrf: str, **form: str
         ) -> httpx.Response:
    return client.post(f"/console/cases/{number}/{what}", data={"csrf": csrf, **form})


def test_a_filed_web_chat_case_shows_its_fields_masked_and_the_engines_reasons(
        sqlite_live: LiveServer) -> None:
    live = sqlite_live
    customer, number = filed(live)
    enrol(live, LEAD)
    case = stored(live, number)
    with at_console(live, LEAD) as (lead, _):
        page = lead.get(f"/console/cases/{number}")
    assert page.status_code == 200, page.text
    seen = text_of(page)
    assert number in seen and "李娜" in seen and "+8613912345678" in seen
    assert "存款" in seen or "账户" in seen  # the business line by its label, not its code
    assert CARD not in page.text  # the card number is masked wherever it shows
    assert "手续费" in seen
    # The engine's reasons beside category and priority.
    assert "判断依据" in seen
    for words in case.reasons.get("priority", []) + [
            w for ws in (case.reasons.get("category") or {}).values() for w in ws]:
        assert words in seen
    assert case.due_date.isoformat() in seen and "新受理" in seen
    assert "JR/T 0169-2018" in seen  # the regulatory dimensions say where their codes are
    # The conversation, with what the customer said (masked) and the bot's answers.
    assert "跨渠道对话记录" in seen and "确认" in seen
    assert ("agent:lina", "case_view", f"case:{number}") in audit_trail(live)
    assert customer.told()  # the customer's own history is untouched by a look


def test_a_correction_needs_a_reason_and_shows_in_the_history(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    _, number = filed(live)
    enrol(live, LEAD)
    with at_console(live, LEAD) as (lead, csrf):
        no_reason = post(lead, number, "fields", csrf, field="amount", value="25")
        assert no_reason.status_code == 422 and "修改须填写原因" in text_of(no_reason)
        assert stored(live, number).amount == 20

        done = post(lead, number, "fields", csrf, field="amount", value="¥1,250.50",
                    reason="客户提供的流水显示多扣 1250.50 元")
        assert done.status_code == 303
        assert done.headers["location"] == f"/console/cases/{number}"
        done = post(lead, number, "fields", csrf, field="business", value="debit_card",
                    reason=f"实为借记卡 {CARD} 的年费")
        assert done.status_code == 303

        for field, value in (("amount", "-5"), ("amount", "lots"), ("amount", "NaN"),
                             ("incident_time", "2024-13-40"), ("incident_time", "2999-01-01"),
                             ("business", "casino"), ("priority", "asap"),
                             ("phone", "12345"), ("name", ""), ("status", "closed"),
                             ("name", "x" * 201)):
            bad = post(lead, number, "fields", csrf, field=field, value=value, reason="试试")
            assert bad.status_code == 422, (field, value, bad.status_code)
        page = lead.get(f"/console/cases/{number}")
    case = stored(live, number)
    assert str(case.amount) == "1250.50" and case.business == "debit_card"
    seen = text_of(page)
    assert "1250.50 CNY" in seen
    assert "客户提供的流水显示多扣 1250.50 元" in seen  # the reason beside the field
    assert CARD not in page.text  # masked in the reason too
    history = seen[seen.index("处理记录"):]
    assert "更正字段" in history and "20.00 → 1250.50" in history
    assert "存款/账户 → 借记卡/ATM" in history
    # Newest first: the business line was corrected after the amount.
    assert history.index("借记卡/ATM") < history.index("1250.50 ")
    # The engine's reasons stay as filed.
    assert stored(live, number).reasons == case.reasons


def test_moves_assignment_and_the_customer_told_the_outcome(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    customer, number = filed(live)
    for who in (LEAD, AGENT, OTHER):
        enrol(live, who)
    with at_console(live, LEAD) as (lead, lcsrf), at_console(live, AGENT) as (agent, acsrf), \
            at_console(live, OTHER) as (other, ocsrf):
        # An agent may not assign a case to someone else, nor move one not theirs.
        assert post(agent, number, "assign", acsrf, agent=OTHER.login).status_code == 403
        refused = post(agent, number, "move", acsrf, status="in_progress")
        assert refused.status_code == 409 and "请先领取" in text_of(refused)

        # A lead assigns it to an agent; another agent then cannot see it or take it.
        assert post(lead, number, "assign", lcsrf, agent=AGENT.login).status_code == 303
        assert stored(live, number).agent_id is not None
        assert other.get(f"/console/cases/{number}").status_code == 403
        assert post(other, number, "assign", ocsrf).status_code == 403
        assert ("agent:zhou", "case_view_refused", f"case:{number}") in audit_trail(live)
        assert post(lead, number, "assign", lcsrf, agent="nobody").status_code == 404

        page = agent.get(f"/console/cases/{number}")
        assert page.status_code == 200 and "王芳" in text_of(page)

        # A move that is not allowed is refused with the moves that are.
        refused = post(agent, number, "move", acsrf, status="closed")
        assert refused.status_code == 409
        seen = text_of(refused)
        assert "不能变更为“已关闭”" in seen and "可变更为：处理中" in seen
        assert post(agent, number, "move", acsrf, status="done").status_code == 409
        assert stored(live, number).status == "new"

        assert post(agent, number, "move", acsrf, status="in_progress").status_code == 303
        no_outcome = post(agent, number, "move", acsrf, status="resolved", outcome="  ")
        assert no_outcome.status_code == 422 and "处理结果" in text_of(no_outcome)
        outcome = "已退还多收的20元手续费，并对柜员进行了批评教育。"
        assert post(agent, number, "move", acsrf, status="resolved",
                    outcome=outcome).status_code == 303
        page = agent.get(f"/console/cases/{number}")
    case = stored(live, number)
    assert case.status == "resolved" and case.outcome == outcome
    assert any(outcome in said for said in customer.told())  # on their web chat
    seen = text_of(page)
    assert outcome in seen and "已办结" in seen
    history = seen[seen.index("处理记录"):]
    assert "处理中 → 已办结" in history and "新受理 → 处理中" in history
    assert ("agent:wang", "case_move", f"case:{number}") in audit_trail(live)


def test_an_agent_takes_an_unassigned_case(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    _, number = filed(live)
    enrol(live, AGENT)
    enrol(live, OTHER)
    with at_console(live, AGENT) as (agent, csrf), at_console(live, OTHER) as (other, ocsrf):
        page = agent.get(f"/console/cases/{number}")
        assert page.status_code == 200 and "领取此案件" in text_of(page)
        assert post(agent, number, "assign", csrf).status_code == 303
        assert post(agent, number, "assign", csrf).status_code == 409  # theirs already
        assert post(other, number, "assign", ocsrf, agent=OTHER.login).status_code == 403
        assert post(other, number, "notes", ocsrf, text="看看").status_code == 403
        page = agent.get(f"/console/cases/{number}")
    assert "领取此案件" not in text_of(page)
    assert "王芳" in text_of(page)


def test_deadline_extensions(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    customer, number = filed(live)
    enrol(live, LEAD)
    enrol(live, AGENT)
    case = stored(live, number)
    received = case.filed_at.astimezone(live.settings.zone).date()
    assert case.due_date == received + timedelta(days=15)
    with at_console(live, LEAD) as (lead, lcsrf), at_console(live, AGENT) as (agent, acsrf):
        assert post(lead, number, "assign", lcsrf, agent=AGENT.login).status_code == 303
        assert post(agent, number, "extend", acsrf, level="1", reason=" ",
                    paused_days="0").status_code == 422
        for level, paused in (("3", "0"), ("x", "0"), ("1", "-1"), ("1", "400"), ("1", "1e3")):
            bad = post(agent, number, "extend", acsrf, level=level, reason="复杂",
                       paused_days=paused)
            assert bad.status_code == 422, (level, paused)
        # 60 days need a senior manager's approval: a lead records it.
        two = post(agent, number, "extend", acsrf, level="2", reason="需总行审批",
                   paused_days="0")
        assert two.status_code == 403
        assert post(agent, number, "extend", acsrf, level="1", reason="需调取监控录像核实",
                    paused_days="0").status_code == 303
        thirty = received + timedelta(days=30)
        assert stored(live, number).due_date == thirty
        page = agent.get(f"/console/cases/{number}")
        seen = text_of(page)
        assert thirty.isoformat() in seen and "已延期（第 1 级）：需调取监控录像核实" in seen
        history = seen[seen.index("处理记录"):]
        assert f"{(received + timedelta(days=15)).isoformat()} → {thirty.isoformat()}" in history
        assert any(thirty.isoformat() in said and "需调取监控录像核实" in said
                   for said in customer.told())

        # A lead extends to 60 days with days of outside appraisal not counted.
        assert post(lead, number, "extend", lcsrf, level="2", reason="需外部司法鉴定",
                    paused_days="5").status_code == 303
        assert stored(live, number).due_date == received + timedelta(days=65)
        shorter = post(lead, number, "extend", lcsrf, level="1", reason="改回", paused_days="5")
        assert shorter.status_code == 422  # never earlier
        assert stored(live, number).due_date == received + timedelta(days=65)


def test_internal_notes_stay_internal(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    customer, number = filed(live)
    enrol(live, LEAD)
    with at_console(live, LEAD) as (lead, csrf):
        assert post(lead, number, "notes", csrf, text="   ").status_code == 422
        assert post(lead, number, "notes", csrf,
                    text=f"已调取流水，卡号 {CARD} 确有两笔扣费").status_code == 303
        page = lead.get(f"/console/cases/{number}")
    seen = text_of(page)
    notes = seen[seen.index("内部备注"):seen.index("跨渠道对话记录")]
    assert "已调取流水" in notes and "不会发送给客户" in notes
    assert CARD not in page.text
    assert not any("已调取流水" in said for said in customer.told())
    assert not any("已调取流水" in m["text"] for m in customer.history())


def test_unknown_cases_bad_requests_and_sign_in(sqlite_live: LiveServer) -> None:
    live = sqlite_live
    _, number = filed(live)
    enrol(live, LEAD)
    anonymous = httpx.get(f"{live.url}/console/cases/{number}", follow_redirects=False)
    assert anonymous.status_code == 303 and "/console/login" in anonymous.headers["location"]
    with at_console(live, LEAD) as (lead, csrf):
        assert lead.get("/console/cases/TS20000101-9999").status_code == 404
        assert lead.get("/console/cases/" + "9" * 40).status_code == 404
        assert lead.get("/console/cases/%3Cscript%3E").status_code == 404
        assert post(lead, "TS20000101-9999", "notes", csrf, text="x").status_code == 404
        # Without the session's CSRF token nothing changes.
        forged = lead.post(f"/console/cases/{number}/notes", data={"text": "x"})
        assert forged.status_code == 403
        assert post(lead, number, "fields", csrf, field="description", value="x" * 10001,
                    reason="r").status_code == 422
        assert post(lead, number, "move", csrf, status="x" * 500).status_code == 409
        assert post(lead, number, "assign", csrf, agent="x" * 80).status_code == 404
        junk = lead.post(f"/console/cases/{number}/extend", content=b"\xff\xfe\x00",
                         headers={"content-type": "application/x-www-form-urlencoded",
                                  "x-csrf-token": csrf})
        assert junk.status_code == 422
    assert stored(live, number).status == "new"


def test_a_case_worked_on_both_databases(live: LiveServer) -> None:
    customer, number = filed(live)
    enrol(live, LEAD)
    with at_console(live, LEAD) as (lead, csrf):
        assert post(lead, number, "assign", csrf, agent=LEAD.login).status_code == 303
        assert post(lead, number, "fields", csrf, field="incident_time", value="2024-12-01",
                    reason="客户电话确认").status_code == 303
        assert post(lead, number, "move", csrf, status="in_progress").status_code == 303
        assert post(lead, number, "move", csrf, status="resolved",
                    outcome="已退还手续费").status_code == 303
        page = lead.get(f"/console/cases/{number}")
    assert page.status_code == 200
    case = stored(live, number)
    assert case.incident_time == date(2024, 12, 1) and case.status == "resolved"
    assert any("已退还手续费" in said for said in customer.told())
    assert "客户电话确认" in text_of(page)
    assert isinstance(case.filed_at, datetime)


def test_a_hotline_case_shows_the_calls_transcript_masked(tmp_path) -> None:
    key = "hotline-key-0123456789abcdef"
    call = ("call_id: HL-PAGE-1\ncaller: 13912345678\nstarted_at: 2026-11-28T09:00:00+08:00\n"
            "坐席：您好，请问有什么可以帮您？\n"
            f"客户：我叫王磊，我的卡号{CARD}昨天被人盗刷了三千块\n"
            "坐席：好的王先生，马上为您登记。\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                        hotline_api_key=key, outbox_poll_seconds=0.1, _env_file=None)
    with serving(settings) as live:
        answer = httpx.post(f"{live.url}/channels/hotline/transcripts", content=call.encode(),
                            headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert answer.status_code == 201, answer.text
        number = answer.json()["case_number"]
        enrol(live, LEAD)
        with at_console(live, LEAD) as (lead, _):
            page = lead.get(f"/console/cases/{number}")
    assert page.status_code == 200
    seen = text_of(page)
    transcript = seen[seen.index("热线通话转写"):]
    assert "坐席" in transcript and "客户" in transcript
    assert "昨天被人盗刷了三千块" in transcript and "马上为您登记" in transcript
    assert CARD not in page.text
    assert "王磊" in seen and "紧急" in seen
