"""The web chat path end to end over real HTTP and WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.settings import Settings
from bot.store import cases
from bot.store.models import (
    AuditEvent,
    Case,
    CaseEvent,
    ChannelIdentity,
    Conversation,
    Customer,
    Message,
    OutboxItem,
)
from channels.webchat import message_key

from .conftest import (
    LiveServer,
    conversations_locked,
    serving,
    set_idle,
    start_server,
    stop_server,
)

NUMBER = re.compile(r"TS\d{8}-\d{4}")
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")
CARD = "6222021234567890123"
WS = "/channels/webchat/ws"
HISTORY = "/channels/webchat/history"


def visitor() -> str:
    """A visitor id as the widget makes one: 128 random bits."""
    return uuid.uuid4().hex


def post(client: httpx.Client, visitor_id: str, text: str, mid: str | None = None) -> dict:
    r = client.post("/channels/webchat/messages", json={
        "visitor_id": visitor_id, "text": text, "client_message_id": mid or uuid.uuid4().hex})
    assert r.status_code == 200, r.text
    return r.json()


def history(client: httpx.Client, visitor_id: str) -> httpx.Response:
    return client.get(HISTORY, headers={"X-Visitor-Id": visitor_id})


def count(live, model, *where) -> int:
    with live.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def hello(ws: ClientConnection, visitor_id: str) -> None:
    ws.send(json.dumps({"type": "hello", "visitor_id": visitor_id}))
    assert json.loads(ws.recv(timeout=10)) == {"type": "ready"}


def closed_with(ws: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """The close code and reason the server sent; fails on a drop without a close frame."""
    deadline = time.monotonic() + timeout
    try:
        while True:  # frames before the close (an error, a late reply) are passed over
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
    assert rcvd is not None, "the connection was dropped without a close frame"
    return rcvd.code, rcvd.reason


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
    assert row["channel"] == "webchat" and row["status"] == "new"
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
        v = f"visitor-{i:04d}-{uuid.uuid4().hex}"
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


VALID = "3f2b8c1e9d4a4e5b8c7d1a2b3c4d5e6f"


def _body(**fields: object) -> bytes:
    data = {"visitor_id": VALID, "text": "hi", "client_message_id": "x", **fields}
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def _raw(text_json: str) -> bytes:
    """A body with `text_json` spliced in, unchecked, as the text's JSON value."""
    return ('{"visitor_id": "' + VALID + '", "text": ' + text_json
            + ', "client_message_id": "x"}').encode()


@pytest.mark.parametrize(("body", "status", "detail"), [
    (b"{not json", 400, "not valid JSON"),
    (_body(visitor_id="ab"), 422, "visitor_id"),
    # Short or guessable ids are refused: an id is the chat's only credential.
    (_body(visitor_id="abcd1234"), 422, "visitor_id"),
    (_body(visitor_id="visitor-0001"), 422, "visitor_id"),
    (_body(visitor_id="a" * 21), 422, "visitor_id"),
    (_body(visitor_id="a" * 65), 422, "visitor_id"),
    (_body(visitor_id=VALID[:-1] + "/"), 422, "visitor_id"),
    (_body(text=""), 422, "text"),
    (_body(text="\u0000"), 422, "text"),   # nothing left once the NUL is removed
    (_body(client_message_id=None), 422, "client_message_id"),
    (_body(client_message_id="x" * 65), 422, "client_message_id"),
    (json.dumps(["a list"]).encode(), 422, "JSON object"),
    # Hostile JSON: a clear 400, never a 500 (or a crash of the worker).
    (b"[" * 10000, 400, "nested too deeply"),
    (b"[" * 100 + b"]" * 100, 400, "nested too deeply"),
    (_raw("1" * 5000), 400, "5000 digits"),
    (_raw("1" + "0" * 400 + ".5"), 400, "a number has"),
    (_raw("1e999"), 400, "out of range"),
    (_raw("NaN"), 400, "NaN"),
    (_raw("-Infinity"), 400, "Infinity"),
    (_raw('"\\ud800 alone"'), 400, "surrogate"),
    (b"\xff\xfe{", 400, "JSON"),
])
def test_malformed_payloads_get_a_clear_4xx_and_store_nothing(live, body, status, detail):
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/channels/webchat/messages", content=body,
                        headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert count(live, Message) == 0 and count(live, Customer) == 0


def test_a_nul_in_the_text_is_removed_on_every_store(live):
    v = visitor()
    body = ('{"visitor_id": "' + v + '", "text": "柜员\\u0000态度\\u0000很差", '
            '"client_message_id": "nul-1", "x\\u0000": "a\\u0000b"}').encode()
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/channels/webchat/messages", content=body,
                        headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        shown = history(client, v).json()["messages"]
    with live.service.sessions() as s:
        stored = s.scalar(select(Message).where(Message.direction == "in"))
    assert stored.text == "柜员态度很差"
    assert "\x00" not in json.dumps(stored.raw)
    assert shown[0]["text"] == "柜员态度很差" and shown[0]["client_message_id"] == "nul-1"


def test_an_oversized_body_is_refused_whole(live):
    big = json.dumps({"visitor_id": VALID, "text": "投诉" * 40000,
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
        reply = post(client, v, f"我的卡号{CARD}被盗刷了，身份证11010519491231002X，"
                                "验证码是771234")
    assert "密码" in reply["replies"][0]["text"]
    with live.service.sessions() as s:
        stored = s.scalar(select(Message).where(Message.direction == "in"))
        conversation = s.scalar(select(Conversation))
    dumped = json.dumps([stored.text, stored.raw, conversation.state], ensure_ascii=False)
    for secret in (CARD, "11010519491231002X", "771234"):
        assert secret not in dumped
    assert "0123" in stored.text  # the card's last four stay, so an agent can tell cards apart


def test_websocket_conversation_and_history(live):
    v = visitor()
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, v)
        ws.send(json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "w1"}))
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "replies" and frame["in_reply_to"] == "w1"
        assert frame["replies"][0]["text"] == "请简要描述发生了什么事情。"
        ws.send("not json")
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
        ws.send(json.dumps({"type": "message", "text": "", "client_message_id": "w2"}))
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and "text" in error["detail"]
        assert error["in_reply_to"] == "w2" and not error.get("retry")
        # A hello is said once: later ones are no messages.
        ws.send(json.dumps({"type": "hello", "visitor_id": visitor()}))
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
    with httpx.Client(base_url=live.url) as client:
        shown = history(client, v).json()
        bad = history(client, "x")
    assert [m["direction"] for m in shown["messages"]] == ["in", "out"]
    assert shown["messages"][0]["client_message_id"] == "w1"
    assert bad.status_code == 422
    assert count(live, Customer) == 1


def test_history_takes_the_visitor_id_in_a_header_never_in_the_url(live):
    v = visitor()
    with httpx.Client(base_url=live.url) as client:
        post(client, v, "我要投诉！", mid="h-1")
        good = history(client, v)
        in_url = client.get(HISTORY, params={"visitor_id": v}, headers={"X-Visitor-Id": v})
        url_only = client.get(HISTORY, params={"visitor_id": v})
        missing = client.get(HISTORY)
        short = history(client, "abcd1234")
        unknown = history(client, visitor())
    assert good.status_code == 200
    assert [m["client_message_id"] for m in good.json()["messages"][:1]] == ["h-1"]
    assert in_url.status_code == 400 and "X-Visitor-Id" in in_url.json()["detail"]
    # The old widget's request: refused with the reason, never answered.
    assert url_only.status_code == 400 and "X-Visitor-Id" in url_only.json()["detail"]
    assert missing.status_code == 422 and "X-Visitor-Id" in missing.json()["detail"]
    assert short.status_code == 422 and "visitor_id" in short.json()["detail"]
    assert unknown.status_code == 200 and unknown.json() == {"messages": []}


def test_a_socket_with_the_visitor_id_in_its_url_is_closed(live):
    v = visitor()
    with connect(f"{live.ws_url}{WS}?visitor_id={v}") as ws:
        code, reason = closed_with(ws)
    assert code == 1008 and "URL" in reason
    assert count(live, Customer) == 0


@pytest.mark.parametrize("first", [
    json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "m1"}),
    json.dumps({"type": "hello", "visitor_id": "abcd1234"}),
    json.dumps({"type": "hello"}),
    json.dumps({"type": "hello", "visitor_id": 12345678901234567890123}),
    json.dumps(["hello"]),
])
def test_a_socket_whose_first_frame_is_no_valid_hello_is_closed(live, first):
    with connect(f"{live.ws_url}{WS}") as ws:
        ws.send(first)
        code, _ = closed_with(ws)
    assert code == 1008
    assert count(live, Message) == 0 and count(live, Customer) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no store involved
def test_a_socket_that_never_says_hello_is_closed(live):
    with connect(f"{live.ws_url}{WS}") as ws:
        started = time.monotonic()
        code, reason = closed_with(ws, timeout=20)
    assert code == 1008 and "hello" in reason
    assert 5 < time.monotonic() - started < 15


@pytest.mark.parametrize(("frame", "code"), [
    (b"\x00\x01binary", 1003),
    (json.dumps({"type": "message", "text": "投诉" * 12000, "client_message_id": "big"}), 1009),
    ("[" * 10000, 1007),
    (json.dumps({"type": "message", "text": f"卡号{CARD}被盗刷", "client_message_id": "deep",
                 "extra": json.loads("[" * 100 + "]" * 100)}), 1007),
    ('{"type": "message", "text": "卡号' + CARD + '", "client_message_id": "nan", "n": NaN}',
     1007),
    ('{"type": "message", "text": ' + "9" * 5000 + ', "client_message_id": "long"}', 1007),
    ('{"type": "message", "text": "\\udc00", "client_message_id": "surrogate"}', 1007),
])
def test_a_hostile_frame_closes_the_socket_with_its_code(live, frame, code):
    v = visitor()
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, v)
        ws.send(frame)
        got, reason = closed_with(ws)
    assert got == code
    assert CARD not in reason
    assert count(live, Message) == 0
    # The visitor is not shut out: a new socket works.
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, v)
        ws.send(json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "ok"}))
        assert json.loads(ws.recv(timeout=10))["in_reply_to"] == "ok"


def test_a_hostile_first_frame_closes_with_its_code_too(live):
    for frame, code in ((b"\x00", 1003), ("[" * 10000, 1007), ("x" * 70000, 1009)):
        with connect(f"{live.ws_url}{WS}") as ws:
            ws.send(frame)
            assert closed_with(ws)[0] == code


def test_an_idle_visitor_id_has_expired(live):
    old, fresh = visitor(), visitor()
    with httpx.Client(base_url=live.url) as client:
        post(client, old, "我要投诉！", mid="o-1")
        post(client, fresh, "我要投诉！", mid="f-1")
        set_idle(live, old, days=31)
        set_idle(live, fresh, days=29)
        stored = count(live, Message)
        refused = client.post("/channels/webchat/messages", json={
            "visitor_id": old, "text": "还在吗", "client_message_id": "o-2"})
        resent = client.post("/channels/webchat/messages", json={
            "visitor_id": old, "text": "我要投诉！", "client_message_id": "o-1"})
        old_history = history(client, old)
        assert count(live, Message) == stored
        # A visitor idle less long carries on, and so does a new id.
        assert history(client, fresh).status_code == 200
        post(client, fresh, "还在吗", mid="f-2")
        post(client, visitor(), "我要投诉！")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert resent.status_code == 401
    assert old_history.status_code == 401 and "expired" in old_history.json()["detail"]
    assert "messages" not in old_history.json()

    with connect(f"{live.ws_url}{WS}") as ws:
        ws.send(json.dumps({"type": "hello", "visitor_id": old}))
        code, reason = closed_with(ws)
    assert code == 4401 and "expired" in reason
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, fresh)


def test_a_visitor_id_expiring_on_an_open_socket_closes_it(live):
    v = visitor()
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, v)
        ws.send(json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "s1"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "replies"
        set_idle(live, v, days=31)
        ws.send(json.dumps({"type": "message", "text": "还在吗", "client_message_id": "s2"}))
        code, _ = closed_with(ws)
    assert code == 4401
    assert count(live, Message, Message.direction == "in") == 1


def test_the_idle_limit_is_a_setting(database_url):
    settings = Settings(database_url=database_url, webchat_idle_days=2,
                        outbox_poll_seconds=0.1, _env_file=None)
    live, server, thread = start_server(settings)
    try:
        v = visitor()
        with httpx.Client(base_url=live.url) as client:
            post(client, v, "我要投诉！")
            set_idle(live, v, days=1.5)
            assert history(client, v).status_code == 200
            set_idle(live, v, days=2.5)
            assert history(client, v).status_code == 401
    finally:
        stop_server(server, thread)


def test_two_visitors_may_use_the_same_client_message_id(live):
    owner, other = visitor(), visitor()
    with httpx.Client(base_url=live.url) as client:
        first = client.post("/channels/webchat/messages", json={
            "visitor_id": owner, "client_message_id": "shared-id-1",
            "text": "我是张伟，手机13912345678，昨天信用卡年费多扣了300元，请退给我"})
        second = client.post("/channels/webchat/messages", json={
            "visitor_id": other, "client_message_id": "shared-id-1", "text": "我要投诉！"})
        again = client.post("/channels/webchat/messages", json={
            "visitor_id": other, "client_message_id": "shared-id-1", "text": "我要投诉！"})
        owner_history = history(client, owner).json()["messages"]
        other_history = history(client, other).json()["messages"]
    assert first.status_code == 200 and "张伟" in json.dumps(first.json(), ensure_ascii=False)
    assert second.status_code == 200, second.text
    assert second.json()["duplicate"] is False
    assert second.json()["replies"][0]["text"] == "请简要描述发生了什么事情。"
    assert "张伟" not in second.text and "13912345678" not in second.text
    assert again.json()["duplicate"] is True and again.json()["replies"] == second.json()["replies"]
    assert [m["client_message_id"] for m in owner_history if m["direction"] == "in"] == [
        "shared-id-1"]
    assert [m["text"] for m in other_history if m["direction"] == "in"] == ["我要投诉！"]
    assert other_history[0]["client_message_id"] == "shared-id-1"
    assert "张伟" not in json.dumps(other_history, ensure_ascii=False)
    with live.service.sessions() as s:
        keys = set(s.scalars(select(Message.external_id).where(Message.direction == "in")))
    # Stored namespaced by visitor, and the visitor id (a credential) is not in the key.
    assert keys == {message_key(owner, "shared-id-1"), message_key(other, "shared-id-1")}
    assert not any(owner in k or other in k for k in keys)


def test_the_same_client_message_id_over_two_sockets(live):
    a, b = visitor(), visitor()
    with connect(f"{live.ws_url}{WS}") as wa, connect(f"{live.ws_url}{WS}") as wb:
        hello(wa, a)
        hello(wb, b)
        for ws in (wa, wb):
            ws.send(json.dumps({"type": "message", "text": "我要投诉！",
                                "client_message_id": "c1"}))
        for ws in (wa, wb):
            frame = json.loads(ws.recv(timeout=10))
            assert frame["type"] == "replies" and frame["in_reply_to"] == "c1"
    assert count(live, Message, Message.direction == "in") == 2


@pytest.fixture
def slow_store(database_url: str) -> Iterator[LiveServer]:
    """The service with a 1 s bound on every wait for the store."""
    with serving(Settings(database_url=database_url, db_timeout_seconds=1.0,
                          outbox_poll_seconds=0.1, _env_file=None)) as live:
        yield live


def test_a_store_outage_on_the_socket_asks_the_widget_to_send_again(slow_store, database_url):
    live, v = slow_store, visitor()
    with connect(f"{live.ws_url}{WS}") as ws:
        hello(ws, v)
        ws.send(json.dumps({"type": "message", "text": "我要投诉！", "client_message_id": "o1"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "replies"
        # Another connection holds the conversation (SQLite: the write lock).
        with conversations_locked(database_url):
            ws.send(json.dumps({"type": "message", "text": "柜员态度很差",
                                "client_message_id": "o2"}))
            frame = json.loads(ws.recv(timeout=15))
        assert frame["type"] == "error" and frame["retry"] is True
        assert frame["in_reply_to"] == "o2"
        # Sent again once the store is back: answered, and stored once.
        ws.send(json.dumps({"type": "message", "text": "柜员态度很差", "client_message_id": "o2"}))
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "replies" and answer["in_reply_to"] == "o2"
    assert count(live, Message, Message.direction == "in") == 2


def test_status_is_told_only_to_the_case_owner(live):
    with httpx.Client(base_url=live.url) as client:
        owner = visitor()
        post(client, owner, OPENING)
        number = NUMBER.search(post(client, owner, "确认")["replies"][0]["text"]).group(0)
        stranger = post(client, visitor(), f"查询进度 {number}")
        mine = post(client, owner, f"查询进度 {number}")
    # Another identity is asked for the phone number on the case, nothing more.
    asked = stranger["replies"][0]["text"]
    assert "手机号码" in asked and "已受理" not in asked and "2000" not in asked
    assert number in mine["replies"][0]["text"] and "已受理" in mine["replies"][0]["text"]


def test_status_from_another_device_on_the_phone_number_links_nothing(live):
    with httpx.Client(base_url=live.url) as client:
        owner = visitor()
        post(client, owner, OPENING)
        filed = post(client, owner, "确认")["replies"][0]["text"]
        number = NUMBER.search(filed).group(0)
        due = re.search(r"\d{4}-\d{2}-\d{2}", filed).group(0)

        # A new browser: asked for the phone on the case; the right one answers the
        # status and due date only.
        other = visitor()
        assert "手机号码" in post(client, other, f"查询进度 {number}")["replies"][0]["text"]
        right = post(client, other, "13912345678")["replies"][0]["text"]
        assert number in right and "已受理" in right and due in right
        assert "2000" not in right and "张伟" not in right

        # Wrong phone: nothing told.
        post(client, other, f"查询进度 {number}")
        wrong = post(client, other, "13800000000")["replies"][0]["text"]
        assert "不匹配" in wrong and "已受理" not in wrong and due not in wrong

        # Third try answered; a fourth within the hour is refused, even with the right phone.
        post(client, other, f"status {number}")
        assert "已受理" in post(client, other, "139 1234 5678")["replies"][0]["text"]
        post(client, other, f"查询进度 {number}")
        refused = post(client, other, "13912345678")["replies"][0]["text"]
        assert "次数过多" in refused and "已受理" not in refused

        # Another identity has its own allowance; the owner is never limited.
        third = visitor()
        post(client, third, f"查询进度 {number}")
        assert "已受理" in post(client, third, "13912345678")["replies"][0]["text"]
        assert "已受理" in post(client, owner, f"查询进度 {number}")["replies"][0]["text"]

    with live.service.sessions() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        # Nothing linked: the case and its customer are the owner's alone.
        customers_ = s.scalar(select(func.count()).select_from(Customer))
        identities = s.scalars(select(ChannelIdentity).order_by(ChannelIdentity.id)).all()
        assert len(identities) == 3 and customers_ == 3
        assert case.customer_id == identities[0].customer_id  # the owner's, first to write
        assert len({i.customer_id for i in identities}) == 3
        lookups = s.scalars(select(AuditEvent).where(AuditEvent.subject == f"case:{number}")
                            .order_by(AuditEvent.id)).all()
    assert [e.detail["result"] for e in lookups] == [
        "answered", "mismatch", "answered", "limited", "answered", "owner"]
    assert {e.action for e in lookups} == {"status_by_phone", "status_lookup"}
    # Never the visitor id (the web chat's only credential) in the audit trail.
    assert all(other not in e.actor and owner not in e.actor for e in lookups)


def test_a_typed_phone_links_no_two_visitors(live):
    # A phone number typed into a chat is not verified: the same one typed by two visitors
    # makes two customers, and neither reads the other's case.
    numbers = []
    with httpx.Client(base_url=live.url) as client:
        for v in (visitor(), secrets.token_urlsafe(16)):
            post(client, v, OPENING)
            numbers.append(NUMBER.search(post(client, v, "确认")["replies"][0]["text"]).group(0))
        stranger = post(client, v, f"查询进度 {numbers[0]}")
    with live.service.sessions() as s:
        owners = set(s.scalars(select(Case.customer_id)))
        customers = s.scalar(select(func.count()).select_from(Customer))
    assert len(owners) == 2 and customers == 2
    assert "手机号码" in stranger["replies"][0]["text"]  # not told, asked to prove it


def test_health_and_metrics(live):
    with httpx.Client(base_url=live.url) as client:
        post(client, visitor(), "我要投诉！")
        health = client.get("/healthz").json()
        metrics = client.get("/metrics").text
    assert health == {"status": "ok", "database": "ok"}
    assert 'intake_messages_in_total{channel="webchat"} 1.0' in metrics
    assert "intake_outbox_backlog 0.0" in metrics
    assert "intake_engine_step_seconds_count 1.0" in metrics
