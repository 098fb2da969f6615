"""Replies queued in the outbox reach the customer: retried, recorded, and kept across restarts."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from websockets.sync.client import connect

from bot.dispatcher import Dispatcher, backoff
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import conversations, customers, outbox
from bot.store.db import make_engine, make_sessionmaker, migrate
from channels.base import DeliveryError, Outbound
from tests.service.conftest import start_server, stop_server


def queue_agent_message(sessions, visitor_id: str, text: str) -> int:
    """Put a message in the outbox as an agent's reply would be."""
    now = datetime.now(UTC)
    with sessions.begin() as s:
        identity = customers.identity_for(s, "webchat", visitor_id, now)
        conversation = conversations.open_locked(s, identity, now)
        message = conversations.add_message(s, conversation, direction="out",
                                            sender="agent:li", text=text, now=now)
        item = outbox.enqueue(s, message, recipient=visitor_id,
                              payload={"text": text, "quick_replies": []}, now=now)
        s.flush()
        return item.id


def test_a_queued_reply_is_pushed_when_the_visitor_connects(live):
    visitor = "visitor-" + uuid.uuid4().hex
    item_id = queue_agent_message(live.service.sessions, visitor, "您好，我是客服小李。")
    with connect(f"{live.ws_url}/channels/webchat/ws") as ws:
        ws.send(json.dumps({"type": "hello", "visitor_id": visitor}))
        assert json.loads(ws.recv(timeout=15)) == {"type": "ready"}
        frame = json.loads(ws.recv(timeout=15))
    assert frame["type"] == "message"
    assert frame["replies"][0]["text"] == "您好，我是客服小李。"
    status = None
    for _ in range(100):
        # A fresh session each time: on SQLite an open transaction would hold the write lock.
        with live.service.sessions() as s:
            item = outbox.get(s, item_id)
            status, delivered_at = item.status, item.delivered_at
        if status == "delivered":
            break
        time.sleep(0.05)
    assert status == "delivered" and delivered_at is not None


def test_replies_survive_a_restart(database_url):
    settings = Settings(database_url=database_url, outbox_poll_seconds=0.1, _env_file=None)
    live, server, thread = start_server(settings)
    visitor = "visitor-" + uuid.uuid4().hex
    try:
        with httpx.Client(base_url=live.url) as client:
            r = client.post("/channels/webchat/messages", json={
                "visitor_id": visitor, "text": "我要投诉！", "client_message_id": "r1"})
            assert r.status_code == 200
        queue_agent_message(live.service.sessions, visitor, "稍后客服会联系您。")
    finally:
        stop_server(server, thread)
    # The service stopped with the reply still queued; the next one delivers it.
    live, server, thread = start_server(settings)
    try:
        with connect(f"{live.ws_url}/channels/webchat/ws") as ws:
            ws.send(json.dumps({"type": "hello", "visitor_id": visitor}))
            assert json.loads(ws.recv(timeout=15)) == {"type": "ready"}
            frame = json.loads(ws.recv(timeout=15))
        assert frame["replies"][0]["text"] == "稍后客服会联系您。"
        with httpx.Client(base_url=live.url) as client:
            history = client.get("/channels/webchat/history",
                                 headers={"X-Visitor-Id": visitor}).json()["messages"]
        assert [m["text"] for m in history][-1] == "稍后客服会联系您。"
    finally:
        stop_server(server, thread)


class FlakyChannel:
    """An external channel that is down for a while (it stands in for a remote API)."""

    channel = "flaky"

    def __init__(self, failures: int, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.delivered: list[Outbound] = []

    async def send(self, message: Outbound) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("503 from the channel", permanent=self.permanent, retry_after=0)
        self.delivered.append(message)


def _flaky_row(sessions) -> int:
    now = datetime.now(UTC)
    with sessions.begin() as s:
        identity = customers.identity_for(s, "flaky", "user-1", now)
        conversation = conversations.open_locked(s, identity, now)
        message = conversations.add_message(s, conversation, direction="out", sender="bot",
                                            text="您好", now=now)
        item = outbox.enqueue(s, message, recipient="user-1",
                              payload={"text": "您好", "quick_replies": []}, now=now)
        s.flush()
        return item.id


def test_a_failed_send_is_retried_until_delivered_and_then_never_again(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    item_id = _flaky_row(sessions)
    channel = FlakyChannel(failures=2)
    dispatcher = Dispatcher(sessions, {"flaky": channel}, Settings(_env_file=None), Metrics())
    for _ in range(5):
        asyncio.run(dispatcher.dispatch_once())
    with sessions() as s:
        item = outbox.get(s, item_id)
        assert item.status == "delivered" and item.attempts == 3 and item.last_error is None
    assert [m.text for m in channel.delivered] == ["您好"]
    engine.dispose()


def test_a_send_that_cannot_succeed_is_recorded_as_failed(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    item_id = _flaky_row(sessions)
    channel = FlakyChannel(failures=1, permanent=True)
    dispatcher = Dispatcher(sessions, {"flaky": channel}, Settings(_env_file=None), Metrics())
    asyncio.run(dispatcher.dispatch_once())
    asyncio.run(dispatcher.dispatch_once())
    with sessions() as s:
        item = outbox.get(s, item_id)
        assert item.status == "failed" and item.last_error == "503 from the channel"
    assert channel.delivered == []
    engine.dispose()


def test_backoff_grows_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == 600


class OneChatDown:
    """A channel whose API refuses one chat for a while; the others are fine."""

    channel = "flaky"

    def __init__(self, down_for: str, failures: int) -> None:
        self.down_for = down_for
        self.failures = failures
        self.delivered: list[tuple[str, str]] = []

    async def send(self, message: Outbound) -> None:
        if message.user_id == self.down_for and self.failures > 0:
            self.failures -= 1
            raise DeliveryError("chat busy", retry_after=0)
        self.delivered.append((message.user_id, message.text))


def test_one_stuck_chat_holds_up_no_other_and_keeps_its_order(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        for user in ("a", "b"):
            identity = customers.identity_for(s, "flaky", user, now)
            conversation = conversations.open_locked(s, identity, now)
            for n in (1, 2):
                message = conversations.add_message(s, conversation, direction="out",
                                                    sender="bot", text=f"{user}{n}", now=now)
                outbox.enqueue(s, message, recipient=user,
                               payload={"text": f"{user}{n}", "quick_replies": []}, now=now)
    channel = OneChatDown("a", failures=1)
    dispatcher = Dispatcher(sessions, {"flaky": channel}, Settings(_env_file=None), Metrics())
    asyncio.run(dispatcher.dispatch_once())
    assert channel.delivered == [("b", "b1"), ("b", "b2")]
    asyncio.run(dispatcher.dispatch_once())
    assert channel.delivered[2:] == [("a", "a1"), ("a", "a2")]
    engine.dispose()
