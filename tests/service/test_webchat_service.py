"""The web chat path end to end over real HTTP and WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from websockets.sync.client import connect

from bot.store import cases
from bot.store.models import Case, CaseEvent, Conversation, Customer, Message, OutboxItem

NUMBER = re.compile(r"TS\d{8}-\d{4}")
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")


def visitor() -> str:
    return "v" + uuid.uuid4().hex[:20]


def post(client: httpx.Client, visitor_id: str, text: str, mid: str | None = None) -> dict:
    r = client.post("/channels/webchat/messages", json={
        "visitor_id": visitor_id, "text": text, "client_message_id": mid or uuid.uuid4().hex})
    assert r.status_code == 200, r.text
    return r.json()


def count(live, model, *where) -> int:
    with live.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_a_complaint_is_filed_and_its_number_shown(live):
    with httpx.Client(base_url=live.url) as client:
        v = visitor()
        first = post(client, v, OPENING)
        assert first["waiting_for"] == "confirm"
        assert first["replies"][-1]["quick_replies"][0]["label"] == "确认"
        done = post(client, v, "确认")
        number = NUMBER.search(done["replies"][0]["text"]).group(0)
    with live.service.sessions() as s:
        case = cases.by_number(s, number)
        row = cases.to_dict(case)
        assert [e.action for e in cases.events(s, case.id)] == ["filed"]
    assert row["name"] == "张伟" and row["phone"] == "+8613912345678"
    assert row["business"] == "debit_card" and row["amount"] == 2000
    assert row["channel"] == "webchat" and row["status"] == "open"
    assert row["due_date"] > row["filed_at"][:10]
    assert count(live, Message) == 4 + len(first["replies"]) - 1 + len(done["replies"]) - 1


def test_a_resent_message_gets_the_same_answer_and_stores_nothing_new(live):
    with httpx.Client(base_url=live.url) as client:
        v = visitor()
        answers = [post(client, v, "我要投诉！", mid="same-id-1") for _ in range(3)]
    assert answers[0]["replies"] == answers[1]["replies"] == answers[2]["replies"]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert count(live, Message, Message.direction == "in") == 1
    assert count(live, OutboxItem) == len(answers[0]["replies"])


def test_twenty_messages_at_once_into_one_conversation(live):
    v = visitor()

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
            return await asyncio.gather(*[
                client.post("/channels/webchat/messages", json={
                    "visitor_id": v, "text": f"补充说明第{i}条：柜员态度很差",
                    "client_message_id": f"m-{i}"}) for i in range(20)])

    responses = asyncio.run(fire())
    assert all(r.status_code == 200 for r in responses)
    assert count(live, Message, Message.direction == "in") == 20
    with live.service.sessions() as s:
        conversation = s.scalar(select(Conversation))
        # Every message went through the engine once, one after the other.
        assert conversation.version == 20
        assert conversation.state["turn"] == 20
        outs = s.scalar(select(func.count()).select_from(Message)
                        .where(Message.direction == "out"))
        assert outs == sum(len(r.json()["replies"]) for r in responses)


def test_two_hundred_conversations_in_parallel_file_unique_cases(live):
    async def customer(client: httpx.AsyncClient, i: int) -> str:
        v = f"visitor-{i:04d}-{uuid.uuid4().hex[:6]}"
        opening = OPENING.replace("13912345678", f"139{i:08d}")
        for text in (opening, "确认"):
            r = await client.post("/channels/webchat/messages", json={
                "visitor_id": v, "text": text, "client_message_id": uuid.uuid4().hex})
            assert r.status_code == 200, r.text
        return NUMBER.search(r.json()["replies"][0]["text"]).group(0)

    async def run() -> list[str]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=live.url, timeout=120, limits=limits) as client:
            return await asyncio.gather(*[customer(client, i) for i in range(200)])

    numbers = asyncio.run(run())
    assert len(set(numbers)) == 200
    assert count(live, Case) == 200
    assert count(live, CaseEvent) == 200


@pytest.mark.parametrize(("body", "status", "detail"), [
    (b"{not json", 400, "not valid JSON"),
    (json.dumps({"visitor_id": "ab", "text": "hi", "client_message_id": "x"}).encode(), 422,
     "visitor_id"),
    (json.dumps({"visitor_id": "visitor-0001", "text": "", "client_message_id": "x"}).encode(),
     422, "text"),
    (json.dumps({"visitor_id": "visitor-0001", "text": "hi"}).encode(), 422,
     "client_message_id"),
    (json.dumps(["a list"]).encode(), 422, "JSON object"),
])
def test_malformed_payloads_get_a_clear_4xx_and_store_nothing(live, body, status, detail):
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/channels/webchat/messages", content=body,
                        headers={"content-type": "application/json"})
    assert r.status_code == status
    assert detail in r.json()["detail"]
    assert count(live, Message) == 0 and count(live, Customer) == 0


def test_an_oversized_body_is_refused_whole(live):
    big = json.dumps({"visitor_id": "visitor-0001", "text": "投诉" * 40000,
                      "client_message_id": "big"}).encode()
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/channels/webchat/messages", content=big,
                        headers={"content-type": "application/json"})
        chunked = client.post("/channels/webchat/messages", content=iter([big[:50000],
                                                                           big[50000:]]),
                              headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert chunked.status_code == 413
    assert count(live, Message) == 0


def test_sensitive_numbers_are_masked_in_what_is_stored(live):
    with httpx.Client(base_url=live.url) as client:
        v = visitor()
        reply = post(client, v, "我的卡号6222021234567890123被盗刷了，身份证11010519491231002X，"
                                "验证码是771234")
    assert "密码" in reply["replies"][0]["text"]
    with live.service.sessions() as s:
        stored = s.scalar(select(Message).where(Message.direction == "in"))
        conversation = s.scalar(select(Conversation))
    dumped = json.dumps([stored.text, stored.raw, conversation.state], ensure_ascii=False)
    for secret in ("6222021234567890123", "11010519491231002X", "771234"):
        assert secret not in dumped
    assert "0123" in stored.text  # the card's last four stay, so an agent can tell cards apart


def test_websocket_conversation_and_history(live):
    v = visitor()
    with connect(f"{live.ws_url}/channels/webchat/ws?visitor_id={v}") as ws:
        ws.send(json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "w1"}))
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "replies" and frame["in_reply_to"] == "w1"
        assert frame["replies"][0]["text"] == "请简要描述发生了什么事情。"
        ws.send("not json")
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
        ws.send(json.dumps({"type": "message", "text": "", "client_message_id": "w2"}))
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and "text" in error["detail"]
    with httpx.Client(base_url=live.url) as client:
        history = client.get("/channels/webchat/history", params={"visitor_id": v}).json()
        bad = client.get("/channels/webchat/history", params={"visitor_id": "x"})
    assert [m["direction"] for m in history["messages"]] == ["in", "out"]
    assert history["messages"][0]["client_message_id"] == "w1"
    assert bad.status_code == 422


def test_status_is_told_only_to_the_case_owner(live):
    with httpx.Client(base_url=live.url) as client:
        owner = visitor()
        post(client, owner, OPENING)
        number = NUMBER.search(post(client, owner, "确认")["replies"][0]["text"]).group(0)
        stranger = post(client, visitor(), f"查询进度 {number}")
        mine = post(client, owner, f"查询进度 {number}")
    assert "没有找到" in stranger["replies"][0]["text"]
    assert number in mine["replies"][0]["text"] and "处理中" in mine["replies"][0]["text"]


def test_the_same_phone_on_two_identities_is_one_customer(live):
    with httpx.Client(base_url=live.url) as client:
        for v in (visitor(), visitor()):
            post(client, v, OPENING)
            post(client, v, "确认")
    with live.service.sessions() as s:
        owners = set(s.scalars(select(Case.customer_id)))
        identities = s.scalar(select(func.count()).select_from(Customer))
    assert len(owners) == 1 and identities == 1


def test_health_and_metrics(live):
    with httpx.Client(base_url=live.url) as client:
        post(client, visitor(), "我要投诉！")
        health = client.get("/healthz").json()
        metrics = client.get("/metrics").text
    assert health == {"status": "ok", "database": "ok"}
    assert 'intake_messages_in_total{channel="webchat"} 1.0' in metrics
    assert "intake_outbox_backlog 0.0" in metrics
    assert "intake_engine_step_seconds_count 1.0" in metrics


def test_another_visitors_message_id_is_refused_not_answered(live):
    with httpx.Client(base_url=live.url) as client:
        first = client.post("/channels/webchat/messages", json={
            "visitor_id": "visitor-owner-1", "client_message_id": "shared-id-1",
            "text": "我是张伟，手机13912345678，昨天信用卡年费多扣了300元，请退给我"})
        assert first.status_code == 200 and "张伟" in json.dumps(first.json(), ensure_ascii=False)
        other = client.post("/channels/webchat/messages", json={
            "visitor_id": "visitor-other-2", "client_message_id": "shared-id-1",
            "text": "你好"})
        assert other.status_code == 409
        assert "张伟" not in other.text and "13912345678" not in other.text
