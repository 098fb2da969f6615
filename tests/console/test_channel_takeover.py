"""An agent takes over a conversation on a real channel: the service under uvicorn, the fake
Telegram Bot API and the fake WeChat API on 127.0.0.1 speaking their wire formats, the real
client libraries pointed at them, and the console's JSON API driving the agent's side."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.store.models import Case, Message, OutboxItem
from tests.console.agents import AGENT, add_agent, api, signed_in
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.service.conftest import LiveServer
from tests.service.test_telegram_service import CHAT, NUMBER, OPENING, hook
from tests.service.test_telegram_service import Service as TelegramService
from tests.service.test_telegram_service import settings_for as telegram_settings
from tests.service.test_wechat_service import USER, WeChat, file_a_complaint, wait_until
from tests.service.test_wechat_service import Service as WeChatService
from tests.service.test_wechat_service import settings_for as wechat_settings

REPLY = "您好，我是王芳，已经为您查询了这笔ATM交易，款项将在3个工作日内退回原卡。"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token") as fake:
        yield fake


@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


def waiting_conversation(client: httpx.Client, channel: str) -> int:
    """The id of the one conversation of `channel` waiting for a person."""
    queue = client.get("/api/v1/queue")
    assert queue.status_code == 200, queue.text
    waiting = [e for e in queue.json()["waiting"] if e["channel"] == channel]
    assert len(waiting) == 1, queue.json()
    return waiting[0]["conversation_id"]


def view(client: httpx.Client, conversation_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/conversations/{conversation_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def delivery(client: httpx.Client, conversation_id: int, message_id: int) -> dict[str, Any]:
    [row] = [m for m in view(client, conversation_id)["messages"] if m["id"] == message_id]
    return row["delivery"]


def delivered(client: httpx.Client, conversation_id: int, message_id: int) -> bool:
    return delivery(client, conversation_id, message_id)["state"] == "delivered"


def take(client: httpx.Client, conversation_id: int) -> dict[str, Any]:
    taken = client.post(f"/api/v1/conversations/{conversation_id}/take")
    assert taken.status_code == 200, taken.text
    assert taken.json()["conversation"]["status"] == "handoff"
    return taken.json()


def say(client: httpx.Client, conversation_id: int, text: str) -> dict[str, Any]:
    answer = client.post(f"/api/v1/conversations/{conversation_id}/messages",
                         json={"text": text})
    assert answer.status_code == 201, answer.text
    message = answer.json()["message"]
    assert message["text"] == text and message["direction"] == "out"
    assert message["sender"] == f"agent:{AGENT.login}"
    return message


def all_sent(live: LiveServer, fake: FakeTelegram) -> int:
    """How many messages the fake Bot API got, once the outbox has nothing left to send
    (Telegram's replies to one chat are paced at about one a second)."""
    def idle() -> bool:
        with live.service.sessions() as s:
            return not s.scalar(select(func.count()).select_from(OutboxItem)
                                .where(OutboxItem.status == "pending"))
    wait_until(idle, timeout=15)
    return len(fake.sent)


def console_open(live: LiveServer) -> str:
    """The agent exists, has the console open (so counts as online) and an API token."""
    token = add_agent(live, AGENT)
    browser, _ = signed_in(live, AGENT)
    browser.close()
    return token


# ---- Telegram ---------------------------------------------------------------------------


def test_an_agent_takes_over_a_telegram_chat_and_hands_it_back(telegram, tmp_path,
                                                               database_url):
    tg = telegram
    settings = telegram_settings(tg, tmp_path / "unused.sqlite", webhook=True).model_copy(
        update={"database_url": database_url})
    with TelegramService(settings) as live:
        token = console_open(live)
        assert hook(live, tg.text_update(CHAT, OPENING, push=False)).json() == {"ok": True}
        first = all_sent(live, tg)
        assert hook(live, tg.text_update(CHAT, "转人工", push=False)).status_code == 200
        before = all_sent(live, tg)
        assert any("人工" in m["text"] for m in tg.sent[first:before])  # queued for a person

        with api(live, token) as client:
            conversation_id = waiting_conversation(client, "telegram")
            take(client, conversation_id)
            joined = tg.wait_for_sent(before + 1, timeout=10)[before]
            assert joined["chat_id"] == CHAT and AGENT.name in joined["text"]

            message = say(client, conversation_id, REPLY)
            assert message["delivery"]["state"] in ("queued", "delivered")
            sent = tg.wait_for_sent(before + 2, timeout=10)[before + 1]
            assert (sent["chat_id"], sent["text"]) == (CHAT, REPLY)
            wait_until(lambda: delivered(client, conversation_id, message["id"]), timeout=5)
            assert delivery(client, conversation_id, message["id"])["error"] is None

            # While the agent has it, the bot is silent; the agent sees the message.
            quiet = len(tg.calls_to("sendMessage"))
            question = "好的，那退款到账后会有短信通知吗？"
            assert hook(live, tg.text_update(CHAT, question, push=False)).status_code == 200
            time.sleep(1.5)
            assert len(tg.calls_to("sendMessage")) == quiet
            shown = view(client, conversation_id)
            assert shown["conversation"]["status"] == "handoff"
            last = shown["messages"][-1]  # nothing was answered after it
            assert (last["direction"], last["text"]) == ("in", question)

            released = client.post(f"/api/v1/conversations/{conversation_id}/release")
            assert released.status_code == 200, released.text
            back = all_sent(live, tg)
            assert back > before + 2  # the customer is told the bot carries on

        # Handed back: the bot answers the customer's next message again.
        assert hook(live, tg.text_update(CHAT, "确认", push=False)).status_code == 200
        answer = tg.wait_for_sent(back + 1, timeout=10)[back]
        assert answer["chat_id"] == CHAT and NUMBER.search(answer["text"])  # filed


# ---- WeChat -----------------------------------------------------------------------------


def test_an_agent_replies_to_a_wechat_user_through_the_customer_service_api(wechat,
                                                                            database_url):
    with WeChatService(wechat_settings(wechat, database_url)) as live:
        token = console_open(live)
        chat = WeChat(live)
        summary = chat.say(OPENING)
        assert summary is not None and "张伟" in summary
        queued = chat.say("转人工")
        assert queued is not None and "人工" in queued

        with api(live, token) as client:
            conversation_id = waiting_conversation(client, "wechat")
            take(client, conversation_id)
            joined = wechat.wait_for_sent(1, timeout=10)[0]
            assert joined.openid == USER and AGENT.name in joined.content

            message = say(client, conversation_id, REPLY)
            assert message["delivery"]["state"] in ("queued", "delivered")
            sent = wechat.wait_for_sent(2, timeout=10)[1]
            assert (sent.openid, sent.content) == (USER, REPLY)
            wait_until(lambda: delivered(client, conversation_id, message["id"]), timeout=5)

            # The customer's answer while the agent has it: no bot reply, passive or sent.
            assert chat.say("好的，谢谢") is None
            time.sleep(0.5)
            assert len(wechat.sent) == 2
            shown = view(client, conversation_id)
            last = shown["messages"][-1]
            assert (last["direction"], last["text"]) == ("in", "好的，谢谢")
            assert shown["conversation"]["reachable"] is True


def test_a_wechat_reply_outside_the_48_hour_window_is_kept_as_failed_and_flagged(
        wechat, database_url):
    with WeChatService(wechat_settings(wechat, database_url)) as live:
        token = console_open(live)
        chat = WeChat(live)
        file_a_complaint(chat)
        assert "人工" in chat.say("转人工")

        with api(live, token) as client:
            conversation_id = waiting_conversation(client, "wechat")
            take(client, conversation_id)
            joined = wechat.wait_for_sent(1, timeout=10)[0]
            assert AGENT.name in joined.content

            # The customer last wrote 49 hours ago.
            with live.service.sessions.begin() as s:
                inbound = s.scalars(select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.direction == "in")).all()
                assert inbound
                for m in inbound:
                    m.created_at = m.created_at - timedelta(hours=49)
            assert view(client, conversation_id)["conversation"]["reachable"] is False

            message = say(client, conversation_id, REPLY)
            assert message["delivery"]["state"] == "failed"
            assert message["delivery"]["error"].startswith("window_closed")
            time.sleep(1.5)  # many dispatcher polls at 0.1 s
            assert REPLY not in wechat.messages_to(USER)
            assert len(wechat.sent) == 1

            shown = view(client, conversation_id)
            conversation = shown["conversation"]
            assert conversation["callback_reason"] == "window_closed"
            assert conversation["reachable"] is False
            [row] = [m for m in shown["messages"] if m["id"] == message["id"]]
            assert row["delivery"]["state"] == "failed" and row["text"] == REPLY
            [case] = shown["cases"]
            assert case["callback_reason"] == "window_closed"

        with live.service.sessions() as s:
            filed = s.scalars(select(Case)).one()
        assert filed.callback_reason == "window_closed"
