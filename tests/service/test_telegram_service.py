"""The Telegram channel end to end: the real python-telegram-bot client against a fake Bot API
on 127.0.0.1 that speaks Telegram's JSON, and the real service over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.settings import Settings
from bot.store.models import Case, ChannelIdentity, Customer, Message, OutboxItem
from tests.fakes.telegram_api import FakeTelegram
from tests.service.conftest import LiveServer, start_server, stop_server

SECRET = "hook-secret_42"
CHAT = 700123
NUMBER = re.compile(r"TS\d{8}-\d{4}")
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！😡")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token") as fake:
        yield fake


def settings_for(tg: FakeTelegram, db: Path, *, webhook: bool) -> Settings:
    return Settings(database_url=f"sqlite:///{db}", telegram_token=tg.token,
                    telegram_api_base=tg.base_url, outbox_poll_seconds=0.1,
                    telegram_webhook_secret=SECRET if webhook else None, _env_file=None)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.live: LiveServer | None = None

    def __enter__(self) -> LiveServer:
        self.live, self._server, self._thread = start_server(self.settings)
        return self.live

    def __exit__(self, *exc: object) -> None:
        stop_server(self._server, self._thread)


def hook(live: LiveServer, update: dict, secret: str | None = SECRET) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return httpx.post(f"{live.url}/channels/telegram/webhook", json=update, headers=headers,
                      timeout=30)


def settled_outbox(live: LiveServer) -> OutboxItem:
    """The one outbox row, once the dispatcher has recorded what happened to it."""
    for _ in range(100):
        with live.service.sessions() as s:  # fresh each time: SQLite sessions hold the lock
            item = s.scalar(select(OutboxItem))
        if item.status != "pending":
            return item
        time.sleep(0.05)
    return item


def count(live: LiveServer, model, *where) -> int:
    with live.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_a_whole_complaint_by_webhook(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        assert hook(live, tg.text_update(CHAT, "/start", push=False)).status_code == 200
        greeting = tg.wait_for_sent(2, timeout=10)
        assert "投诉" in greeting[0]["text"]
        assert hook(live, tg.text_update(CHAT, OPENING, push=False)).json() == {"ok": True}
        summary = tg.wait_for_sent(3, timeout=10)[-1]
        assert "张伟" in summary["text"]
        buttons = [b for row in summary["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["callback_data"] for b in buttons] == ["确认", "修改"]
        hook(live, tg.callback_update(CHAT, "确认", summary["message_id"], push=False))
        filed = tg.wait_for_sent(4, timeout=10)[-1]
        number = NUMBER.search(filed["text"]).group(0)
        assert tg.calls_to("answerCallbackQuery")
        with live.service.sessions() as s:
            case = s.scalar(select(Case))
        assert case.number == number and case.channel == "telegram"
        assert case.phone == "+8613912345678"


def test_a_whole_complaint_by_long_polling(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=False)):
        tg.text_update(CHAT, OPENING)
        summary = tg.wait_for_sent(1, timeout=15)[-1]
        tg.callback_update(CHAT, "确认", summary["message_id"])
        filed = tg.wait_for_sent(2, timeout=15)[-1]
    assert NUMBER.search(filed["text"])


def test_a_redelivered_update_is_answered_once(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        update = tg.text_update(CHAT, "我要投诉！", push=False)
        assert [hook(live, update).status_code for _ in range(3)] == [200, 200, 200]
        tg.wait_for_sent(1, timeout=10)
        time.sleep(0.5)
        assert len(tg.sent) == 1
        assert count(live, Message, Message.direction == "in") == 1


def test_a_wrong_secret_is_refused_and_nothing_stored(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        update = tg.text_update(CHAT, "我要投诉！", push=False)
        assert hook(live, update, secret="wrong").status_code == 403
        assert hook(live, update, secret=None).status_code == 403
        bad = httpx.post(f"{live.url}/channels/telegram/webhook", content=b"{oops",
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert bad.status_code == 400
        assert count(live, Message) == 0
    assert tg.sent == []


def test_a_429_is_honoured_then_the_reply_goes_out(tg, tmp_path):
    tg.fail_next("sendMessage", status=429, retry_after=1)
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        started = time.monotonic()
        hook(live, tg.text_update(CHAT, "我要投诉！", push=False))
        tg.wait_for_sent(1, timeout=15)
        assert time.monotonic() - started >= 1.0
        item = settled_outbox(live)
        assert item.status == "delivered" and item.attempts == 2


def test_replies_wait_out_an_outage_of_the_bot_api(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        tg.down()
        # The update is committed and acknowledged even though nothing can be sent.
        assert hook(live, tg.text_update(CHAT, "我要投诉！", push=False)).status_code == 200
        time.sleep(2.5)
        assert tg.sent == []
        with live.service.sessions() as s:
            item = s.scalar(select(OutboxItem))
        assert item.status == "pending" and item.attempts >= 1 and item.last_error
        tg.up()
        sent = tg.wait_for_sent(1, timeout=20)
    assert sent[0]["text"] == "请简要描述发生了什么事情。"


def test_a_restart_while_polling_loses_and_repeats_nothing(tg, tmp_path):
    settings = settings_for(tg, tmp_path / "db.sqlite", webhook=False)
    tg.text_update(CHAT, "我要投诉！")
    tg.text_update(CHAT + 1, "我要投诉！")
    with Service(settings) as live:
        tg.wait_for_sent(2, timeout=15)
        assert count(live, Message, Message.direction == "in") == 2
    tg.text_update(CHAT + 2, "我要投诉！")
    with Service(settings) as live:
        tg.wait_for_sent(3, timeout=15)
        time.sleep(1.0)
        assert count(live, Message, Message.direction == "in") == 3
    assert sorted(m["chat_id"] for m in tg.sent) == [CHAT, CHAT + 1, CHAT + 2]


def test_a_photo_is_kept_as_evidence(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        hook(live, tg.text_update(CHAT, "我要投诉！", push=False))
        tg.wait_for_sent(1, timeout=10)
        hook(live, tg.photo_update(CHAT, caption="ATM吞了我的卡", push=False))
        replies = tg.wait_for_sent(3, timeout=10)
        assert "证据" in replies[1]["text"]
        with live.service.sessions() as s:
            stored = s.scalars(select(Message).where(Message.direction == "in")
                               .order_by(Message.id)).all()
        assert stored[-1].text == "ATM吞了我的卡"
        assert stored[-1].raw["message"]["photo"][-1]["file_id"]


def test_a_group_chat_is_refused_politely(tg, tmp_path):
    group = -100555
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        hook(live, tg.text_update(group, "我的卡被盗刷了，卡号6222021234567890123",
                                  chat_type="group", user_id=CHAT, push=False))
        # The card number earns the usual warning; the complaint is then refused.
        warning, refusal = tg.wait_for_sent(2, timeout=10)
        assert "密码" in warning["text"]
        assert refusal["chat_id"] == group and "私聊" in refusal["text"]
        assert count(live, Case) == 0
        with live.service.sessions() as s:
            stored = s.scalar(select(Message).where(Message.direction == "in"))
        assert "6222021234567890123" not in stored.text


def test_an_edit_updates_the_stored_text_before_filing(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        first = tg.text_update(CHAT, "我是张伟，手机13912345678", push=False)
        hook(live, first)
        tg.wait_for_sent(1, timeout=10)
        edit = tg.edited_update(CHAT, first["message"]["message_id"],
                                "我是张伟，手机13900001111", push=False)
        assert hook(live, edit).status_code == 200
        tg.wait_for_sent(2, timeout=10)
        with live.service.sessions() as s:
            original = s.scalar(select(Message).where(Message.direction == "in")
                                .order_by(Message.id))
            conversation_state = s.scalar(select(Case.id))
        assert original.text == "我是张伟，手机13900001111"
        assert original.raw["earlier_texts"] == ["我是张伟，手机13912345678"]
        assert conversation_state is None


def test_typing_someone_elses_phone_links_nothing_and_shows_no_case(tg, tmp_path):
    """A typed phone is a claim: a second visitor who files with the Telegram customer's
    number and confirms is not merged into that customer and cannot read their case."""
    db = tmp_path / "db.sqlite"
    visitor = "attacker-" + "x" * 24
    with Service(settings_for(tg, db, webhook=True)) as live:
        hook(live, tg.text_update(CHAT, OPENING, first_name="伟", push=False))
        summary = tg.wait_for_sent(1, timeout=10)[-1]
        hook(live, tg.callback_update(CHAT, "确认", summary["message_id"], push=False))
        number = NUMBER.search(tg.wait_for_sent(2, timeout=10)[-1]["text"]).group(0)
        answers = []
        for text, mid in ((OPENING.replace("昨天", "今天"), "w1"), ("确认", "w2"),
                          (f"查询进度 {number}", "w3")):
            r = httpx.post(f"{live.url}/channels/webchat/messages", json={
                "visitor_id": visitor, "text": text, "client_message_id": mid}, timeout=30)
            assert r.status_code == 200, r.text
            answers.append(" ".join(reply["text"] for reply in r.json()["replies"]))
        with live.service.sessions() as s:
            cases = list(s.scalars(select(Case).order_by(Case.id)))
    assert len(cases) == 2 and cases[0].customer_id != cases[1].customer_id
    assert cases[1].phone == "+8613912345678"       # the case keeps the phone it was given
    assert NUMBER.search(answers[1]) is not None    # the attacker's own case was filed
    # Asked for the phone on the case before anything is told (issue 13's lookup from
    # another device answers only the status and due date, and links nothing).
    assert number in answers[2] and "手机号码" in answers[2] and "答复期限" not in answers[2]


def contact_update(tg: FakeTelegram, chat: int, phone: str, *, owner: int | None) -> dict:
    """A message sharing a contact card; `owner` is the Telegram user the card belongs to."""
    update = tg.text_update(chat, "x", first_name="伟", push=False)
    message = update["message"]
    del message["text"]
    message["contact"] = {"phone_number": phone, "first_name": "伟",
                          **({"user_id": owner} if owner is not None else {})}
    return update


def test_a_contact_shared_from_ones_own_account_links_telegram_and_the_hotline(tg, tmp_path):
    import json
    import os
    import subprocess
    import sys

    db = tmp_path / "db.sqlite"
    key = "hotline-key-0123456789"
    settings = settings_for(tg, db, webhook=True).model_copy(
        update={"hotline_api_key": SecretStr(key)})
    turn = {"speaker": "customer", "text": "我叫张伟，信用卡年费多扣了三百"}
    call = json.dumps({"call_id": "HL-7", "caller": "13912345678",
                       "started_at": "2026-11-27T10:00:00+08:00", "turns": [turn]},
                      ensure_ascii=False).encode()
    with Service(settings) as live:
        # Someone else's card forwarded into the chat proves nothing about the sender.
        assert hook(live, contact_update(tg, CHAT + 1, "8613912345678",
                                         owner=CHAT + 99)).status_code == 200
        # The user's own number, shared with Telegram's request_contact button.
        assert hook(live, contact_update(tg, CHAT, "8613912345678",
                                         owner=CHAT)).status_code == 200
        filed = httpx.post(f"{live.url}/channels/hotline/transcripts", content=call,
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert filed.status_code == 201, filed.text
        with live.service.sessions() as s:
            case = s.scalar(select(Case))
            verified = s.scalar(select(Customer).where(Customer.id == case.customer_id))
            forwarded = s.scalar(select(ChannelIdentity).where(
                ChannelIdentity.external_id == str(CHAT + 1)))
            forwarded_customer = s.get(Customer, forwarded.customer_id)
    assert verified.phone == "+8613912345678" and verified.phone_verified_at is not None
    assert forwarded_customer.phone_verified_at is None
    env = {**os.environ, "INTAKE_DATABASE_URL": f"sqlite:///{db}"}
    shown = subprocess.run([sys.executable, "-m", "bot.cli", "cases", "show", case.number,
                            "--json"], env=env, capture_output=True, text=True, timeout=60)
    identities = json.loads(shown.stdout)["identities"]
    assert [(i["channel"], i["external_id"]) for i in identities] == [
        ("telegram", str(CHAT)), ("hotline", "13912345678")]


def test_asked_for_the_phone_the_user_can_share_their_own_number(tg, tmp_path):
    with Service(settings_for(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        hook(live, tg.text_update(CHAT, "我叫张伟，昨天信用卡被多扣了年费三百元，请退还",
                                  push=False))
        asked = tg.wait_for_sent(1, timeout=10)[-1]
        button = asked["reply_markup"]["keyboard"][0][0]
        assert button["request_contact"] is True and "手机号" in button["text"]
        assert hook(live, contact_update(tg, CHAT, "8613912345678", owner=CHAT)
                    ).status_code == 200
        summary = tg.wait_for_sent(2, timeout=10)[-1]
        with live.service.sessions() as s:
            customer = s.scalar(select(Customer))
    assert "139 1234 5678" in summary["text"] and "确认" in summary["text"]
    assert "keyboard" not in (summary.get("reply_markup") or {})  # the confirm buttons
    assert customer.phone_verified_at is not None
