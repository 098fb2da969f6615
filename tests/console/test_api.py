"""The console's JSON API (/api/v1) against the real service over HTTP, on SQLite and
PostgreSQL: a customer asks for a person, an agent takes over, talks to them, hands back or
closes; what the customer sees on the web chat; the audit trail."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from sqlalchemy import select

from bot.store.models import AuditEvent
from workflow import catalog

from .agents import AGENT, LEAD, OTHER, api
from .conftest import Customer, at_console, audit_trail

URGENT = "我的卡被盗刷了5000元"
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")
CARD = "6222 0212 3456 7890 128"
CASE_NUMBER = re.compile(r"TS\d{8}-\d{4}")


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def waiting_ids(client) -> list[int]:
    answer = client.get("/api/v1/queue")
    assert answer.status_code == 200, answer.text
    return [e["conversation_id"] for e in answer.json()["waiting"]]


def test_the_queue_lists_who_waits_urgent_first(live, tokens):
    plain = Customer(live)
    plain.say("转人工")
    urgent = Customer(live)
    urgent.say(URGENT)  # later, but urgent: ahead of the plain one

    with api(live, tokens[AGENT.login]) as agent:
        answer = agent.get("/api/v1/queue")
    assert answer.status_code == 200, answer.text
    queue = answer.json()
    assert [e["conversation_id"] for e in queue["waiting"]] == [
        urgent.conversation_id, plain.conversation_id]
    assert queue["counts"]["waiting"] == 2 and queue["counts"]["urgent"] == 1
    assert queue["held"] == []

    first, second = queue["waiting"]
    assert first["urgent"] is True and first["priority"] == "urgent"
    assert first["last_customer_text"] == URGENT
    assert second["channel"] == "webchat" and second["state"] == "waiting"
    assert second["last_customer_text"] == "转人工"
    assert second["urgent"] is False and "priority" in second
    assert isinstance(second["customer"], str) and second["customer"]
    assert datetime.fromisoformat(second["waiting_since"]) < datetime.fromisoformat(
        first["waiting_since"])


def test_taking_over_tells_the_customer_and_keeps_others_out(live, tokens):
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id

    with api(live, tokens[AGENT.login]) as agent, api(live, tokens[OTHER.login]) as other:
        taken = agent.post(f"/api/v1/conversations/{cid}/take")
        assert taken.status_code == 200, taken.text
        assert taken.json()["conversation"]["agent"] == AGENT.name
        assert taken.json()["conversation"]["status"] == "handoff"
        assert AGENT.name in customer.told()[-1]

        second = other.post(f"/api/v1/conversations/{cid}/take")
        assert second.status_code == 409
        assert AGENT.name in second.json()["detail"]

        assert cid not in waiting_ids(agent)
        assert cid not in waiting_ids(other)
        held = agent.get("/api/v1/queue").json()["held"]
        assert [(e["conversation_id"], e["agent"]) for e in held] == [(cid, AGENT.name)]


def test_while_an_agent_has_it_the_bot_is_silent_and_the_agent_talks(live, tokens):
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id

    with api(live, tokens[AGENT.login]) as agent:
        early = agent.post(f"/api/v1/conversations/{cid}/messages", json={"text": "您好"})
        assert early.status_code == 409, "a reply needs the conversation taken first"
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200

        asked = customer.say("你们怎么还不处理？")
        assert asked["replies"] == [], "the bot stays silent while an agent has it"
        view = agent.get(f"/api/v1/conversations/{cid}").json()
        assert view["messages"][-1]["direction"] == "in"
        assert view["messages"][-1]["text"] == "你们怎么还不处理？"

        sent = agent.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": "您好，我是王芳，正在为您核实。"})
        assert sent.status_code == 201, sent.text
        message = sent.json()["message"]
        assert message["delivery"]["state"] == "queued"
        assert message["sender"] == f"agent:{AGENT.login}" and message["who"] == AGENT.name
        assert customer.told()[-1] == "您好，我是王芳，正在为您核实。"

        assert agent.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": ""}).status_code == 422
        assert agent.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": "  \n "}).status_code == 422
        assert agent.post(f"/api/v1/conversations/{cid}/messages", json={}).status_code == 422
        broken = agent.post(f"/api/v1/conversations/{cid}/messages", content=b'{"text": "hi',
                            headers={"Content-Type": "application/json"})
        assert broken.status_code == 400
        assert set(broken.json()) == {"detail"}

        carded = agent.post(f"/api/v1/conversations/{cid}/messages",
                            json={"text": f"请核对卡号 {CARD}"})
        assert carded.status_code == 201, carded.text
        for shown in (carded.json()["message"]["text"],
                      agent.get(f"/api/v1/conversations/{cid}").json()["messages"][-1]["text"],
                      customer.told()[-1]):
            assert shown.startswith("请核对卡号")
            assert digits(CARD) not in digits(shown) and "6222" not in shown


def test_handing_back_and_closing(live, tokens):
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id

    with api(live, tokens[AGENT.login]) as agent, api(live, tokens[LEAD.login]) as lead:
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        released = agent.post(f"/api/v1/conversations/{cid}/release")
        assert released.status_code == 200, released.text
        assert catalog.text("zh", "handed_back") in customer.told()
        assert customer.say("我的信用卡年费被多扣了200元")["replies"], "the bot answers again"
        assert cid not in waiting_ids(agent)

        customer.say("转人工")
        assert cid in waiting_ids(agent)
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        closed = agent.post(f"/api/v1/conversations/{cid}/close")
        assert closed.status_code == 200, closed.text
        assert customer.told()[-1] == catalog.text("zh", "agent.closed")
        assert lead.get(f"/api/v1/conversations/{cid}").json()["conversation"]["status"] \
            == "closed"
        assert lead.post(f"/api/v1/conversations/{cid}/close").status_code == 409

        again = customer.say("你好")
        assert again["replies"], "a message after closing starts afresh with the bot"
        view = lead.get(f"/api/v1/conversations/{cid}").json()["conversation"]
        assert view["status"] == "bot" and view["waiting"] is False and view["agent"] is None


def test_a_lead_reassigns_a_conversation(live, tokens):
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id

    with api(live, tokens[AGENT.login]) as agent, api(live, tokens[OTHER.login]) as other, \
            api(live, tokens[LEAD.login]) as lead:
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        assert other.get(f"/api/v1/conversations/{cid}").status_code == 403

        refused = agent.post(f"/api/v1/conversations/{cid}/reassign",
                             json={"agent": OTHER.login})
        assert refused.status_code == 403, "only a lead reassigns"
        assert agent.get(f"/api/v1/conversations/{cid}").status_code == 200

        moved = lead.post(f"/api/v1/conversations/{cid}/reassign", json={"agent": OTHER.login})
        assert moved.status_code == 200, moved.text
        assert OTHER.name in customer.told()[-1]

        mine = other.get(f"/api/v1/conversations/{cid}")
        assert mine.status_code == 200
        assert mine.json()["conversation"]["agent"] == OTHER.name
        gone = agent.get(f"/api/v1/conversations/{cid}")
        assert gone.status_code == 403
        assert OTHER.name in gone.json()["detail"]
        assert other.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": "您好"}).status_code == 201
        assert agent.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": "您好"}).status_code == 403

        back = other.post(f"/api/v1/conversations/{cid}/reassign", json={"agent": AGENT.login})
        assert back.status_code == 403, "an agent cannot pass a conversation on"


def test_with_nobody_online_the_customer_is_called_back(live, tokens):
    customer = Customer(live)
    asked = customer.say("转人工")
    told = " ".join(r["text"] for r in asked["replies"])
    assert "联系" in told or "回电" in told
    assert "分钟" not in told

    # The bot goes on collecting the complaint; the case it files is flagged.
    assert customer.say(OPENING)["waiting_for"] == "confirm"
    filed = customer.say("确认")
    number = CASE_NUMBER.search(" ".join(r["text"] for r in filed["replies"])).group(0)
    with api(live, tokens[AGENT.login]) as agent:
        view = agent.get(f"/api/v1/conversations/{customer.conversation_id}").json()
    assert view["conversation"]["callback_reason"] is not None
    [case] = view["cases"]
    assert case["number"] == number and case["callback_reason"] is not None


def test_with_an_agent_at_the_console_the_customer_is_told_the_wait(live, tokens):
    with at_console(live, AGENT):
        asked = Customer(live).say("转人工")
    told = " ".join(r["text"] for r in asked["replies"])
    assert "分钟" in told
    assert "回电" not in told


def test_the_openapi_document_declares_the_api(live):
    answer = httpx.get(f"{live.url}/openapi.json", timeout=10)
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    expected = {
        "/api/v1/queue": "get",
        "/api/v1/conversations/{conversation_id}": "get",
        "/api/v1/conversations/{conversation_id}/take": "post",
        "/api/v1/conversations/{conversation_id}/messages": "post",
        "/api/v1/conversations/{conversation_id}/release": "post",
        "/api/v1/conversations/{conversation_id}/close": "post",
        "/api/v1/conversations/{conversation_id}/reassign": "post",
    }
    assert {p for p in paths if p.startswith("/api/v1/")} == set(expected)
    for path, method in expected.items():
        operation = paths[path][method]
        assert "401" in operation["responses"], f"{method} {path} declares no 401"
        assert "token" in operation["responses"]["401"]["description"]
    assert "requestBody" in paths["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert not [p for p in paths if p.startswith("/console")], "the pages are not the API"


def test_every_action_is_audited(live, tokens):
    customer = Customer(live)
    customer.say("转人工")
    cid = customer.conversation_id
    subject = f"conversation:{cid}"

    with api(live, tokens[AGENT.login]) as agent, api(live, tokens[OTHER.login]) as other:
        assert agent.post(f"/api/v1/conversations/{cid}/take").status_code == 200
        assert other.post(f"/api/v1/conversations/{cid}/take").status_code == 409
        assert agent.post(f"/api/v1/conversations/{cid}/messages",
                          json={"text": "保密的答复内容"}).status_code == 201
        assert agent.post(f"/api/v1/conversations/{cid}/release").status_code == 200

    wang, zhou = f"agent:{AGENT.login}", f"agent:{OTHER.login}"
    assert audit_trail(live, subject) == [
        (wang, "take", subject), (zhou, "take_refused", subject), (wang, "reply", subject),
        (wang, "release", subject)]
    with live.service.sessions() as s:
        details = [str(e.detail) for e in
                   s.scalars(select(AuditEvent).where(AuditEvent.subject == subject))]
    assert not [d for d in details if "保密的答复内容" in d], "the audit keeps no message text"
