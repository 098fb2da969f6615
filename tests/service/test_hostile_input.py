"""Hostile and odd bodies on every channel get a clear 4xx, the same on SQLite and PostgreSQL;
what is accepted is stored without what PostgreSQL cannot keep (NUL), and a real failure is a
500 that closes the connection."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from bot.settings import Settings
from bot.store.models import ChannelIdentity, Message
from tests.fakes import wechat_push as wx
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.service.conftest import LiveServer, start_server, stop_server

SECRET = "hook-secret_42"
HOTLINE_KEY = "hotline-key-0123456789"
WECHAT_TOKEN = "intake-wechat-token"
ACCOUNT = "gh_0123456789ab"
CARD = "6222021234567890123"


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[LiveServer, FakeTelegram]]:
    with FakeTelegram(token="123456:TEST-token") as tg, FakeWeChat() as wechat:
        settings = Settings(
            database_url=database_url, outbox_poll_seconds=0.1, _env_file=None,
            telegram_token=tg.token, telegram_api_base=tg.base_url,
            telegram_webhook_secret=SECRET, hotline_api_key=SecretStr(HOTLINE_KEY),
            wechat_token=WECHAT_TOKEN, wechat_appid=wechat.appid, wechat_secret=wechat.secret,
            wechat_api_base=wechat.base_url)
        live, server, thread = start_server(settings)
        try:
            yield live, tg
        finally:
            stop_server(server, thread)


def _nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = {"a": leaf}
    return leaf


def _hostile_json(valid: dict) -> list[tuple[str, bytes]]:
    """Bodies that broke the service before: each is a valid message made hostile."""
    text_key = "text" if "text" in valid else None
    raw = json.dumps(valid, ensure_ascii=False)
    bodies = [
        ("deep array", b"[" * 10_000 + b"]" * 10_000),
        ("deep extra field with a card number", json.dumps(
            {**valid, **({text_key: f"卡号{CARD}被盗刷"} if text_key else {}),
             "extra": _nested(450, "x")}).encode()),
        ("5000-digit number", raw[:-1].encode() + b', "n": ' + b"9" * 5000 + b"}"),
        ("NaN", raw[:-1].encode() + b', "n": NaN}'),
        ("Infinity", raw[:-1].encode() + b', "n": Infinity}'),
        ("lone surrogate", raw[:-1].encode() + b', "n": "\\ud800"}'),
    ]
    return bodies


def test_web_chat_bodies(service: tuple[LiveServer, FakeTelegram]) -> None:
    live, _ = service
    visitor = "hostile-visitor-0123456789ab"
    valid = {"visitor_id": visitor, "text": "我要投诉", "client_message_id": "h1"}
    with httpx.Client(base_url=live.url, timeout=30) as client:
        for what, body in _hostile_json(valid):
            r = client.post("/channels/webchat/messages", content=body,
                            headers={"Content-Type": "application/json"})
            assert r.status_code == 400, (what, r.status_code, r.text)
            assert r.json()["detail"]
        for field, value in (("visitor_id", "v" * 200), ("client_message_id", "c" * 200),
                             ("visitor_id", "short")):
            r = client.post("/channels/webchat/messages", json={**valid, field: value})
            assert r.status_code == 422, (field, r.text)
        # NUL characters: removed, so PostgreSQL stores what SQLite stores.
        r = client.post("/channels/webchat/messages",
                        json={**valid, "text": "柜台\u0000服务态度差", "client_message_id": "n1"})
        assert r.status_code == 200, r.text
    with live.service.sessions() as s:
        stored = s.scalars(select(Message.text).where(Message.direction == "in")).all()
    assert stored == ["柜台服务态度差"]


def test_telegram_webhook_bodies(service: tuple[LiveServer, FakeTelegram]) -> None:
    live, tg = service
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    valid = tg.text_update(700200, "我要投诉", push=False)
    with httpx.Client(base_url=live.url, timeout=30, headers=headers) as client:
        for what, body in _hostile_json(valid):
            r = client.post("/channels/telegram/webhook", content=body)
            assert r.status_code == 400, (what, r.status_code, r.text)
        huge_chat = json.dumps(valid).replace('"id": 700200', '"id": ' + "7" * 40).encode()
        assert client.post("/channels/telegram/webhook", content=huge_chat).status_code == 400
        # What PostgreSQL alone refused before: over-long names, NUL in the text.
        odd = tg.text_update(700201, "ATM\u0000吞卡了", first_name="名" * 3000,
                             last_name="\u0000x" * 100, push=False)
        r = client.post("/channels/telegram/webhook", content=json.dumps(odd).encode())
        assert r.status_code == 200, r.text
    with live.service.sessions() as s:
        name = s.scalar(select(ChannelIdentity.display_name)
                        .where(ChannelIdentity.external_id == "700201"))
        said = s.scalar(select(Message.text).where(Message.direction == "in"))
    assert said == "ATM吞卡了" and name is not None and len(name) == 200 and "\x00" not in name


def test_wechat_pushes_with_over_long_ids(service: tuple[LiveServer, FakeTelegram]) -> None:
    live, _ = service
    for user, msg_id in (("o" * 300, 1), ("oUser-1", int("9" * 200))):
        xml = wx.text_xml(ACCOUNT, user, "我要投诉", msg_id)
        r = httpx.post(f"{live.url}/channels/wechat", params=wx.query(WECHAT_TOKEN, openid=user),
                       content=xml.encode(), headers={"Content-Type": "text/xml"}, timeout=30)
        assert r.status_code == 400, (user[:10], r.status_code, r.text)


def test_hotline_ids_with_nul(service: tuple[LiveServer, FakeTelegram]) -> None:
    live, _ = service
    turns = [{"speaker": "customer", "text": "我叫王磊，信用卡年费多扣了三百"}]
    for meta in ({"caller": "139\u00001234"}, {"call_id": "HL\u00001"}):
        body = json.dumps({**meta, "turns": turns}).encode()
        r = httpx.post(f"{live.url}/channels/hotline/transcripts", content=body, timeout=30,
                       headers={"Authorization": f"Bearer {HOTLINE_KEY}"})
        assert r.status_code == 422 and "control characters" in r.json()["detail"], r.text


def test_a_real_failure_is_a_500_that_closes_the_connection(
        service: tuple[LiveServer, FakeTelegram]) -> None:
    live, _ = service
    # A store whose schema is broken under the service (an operator's mistake): not a
    # retryable outage, so a 500, and the connection is not reused.
    with live.service.sessions.begin() as s:
        s.execute(text("DROP TABLE outbox"))
    r = httpx.post(f"{live.url}/channels/webchat/messages", timeout=30, json={
        "visitor_id": "broken-store-0123456789ab", "text": "我要投诉", "client_message_id": "b1"})
    assert r.status_code == 500 and r.json()["detail"]
    assert r.headers["connection"] == "close"
