"""The WeChat channel's parts: pushes -> Inbound, replies, signatures and AES, the shared
access token and the customer-service sender (wechatpy against the fake WeChat API)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.store.channel_state import StoreMemory
from bot.store.db import make_sessionmaker
from channels.base import DeliveryError, InvalidPayload, Outbound, QuickReply
from channels.wechat import (
    ApiClient,
    BadSignature,
    WeChatSecurity,
    WeChatSender,
    combine,
    parse_message,
    passive_reply,
    split,
)
from tests.fakes import wechat_push as wx
from tests.fakes.wechat_api import FakeWeChat

TOKEN = "channel-token"
ACCOUNT = "gh_account"
USER = "o-user-1"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as api:
        yield api


class DictMemory:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def lock(self, key: str) -> threading.Lock:
        return self._lock


# ---- parsing ------------------------------------------------------------------------------

def test_a_text_message_becomes_an_inbound_keyed_by_msgid():
    inbound = parse_message(wx.text_xml(ACCOUNT, USER, "你好，我要投诉", 1234567, 1764300000),
                            NOW)
    assert (inbound.channel, inbound.user_id, inbound.message_id, inbound.text, inbound.kind) \
        == ("wechat", USER, f"m{USER}:1234567", "你好，我要投诉", "text")
    assert inbound.timestamp == datetime.fromtimestamp(1764300000, UTC)
    assert inbound.raw["ToUserName"] == ACCOUNT


def test_voice_is_text_only_with_recognition():
    heard = parse_message(wx.voice_xml(ACCOUNT, USER, "mv", 5, recognition="信用卡被盗刷了"), NOW)
    assert (heard.kind, heard.text, heard.attachments[0].kind) == ("text", "信用卡被盗刷了",
                                                                  "voice")
    silent = parse_message(wx.voice_xml(ACCOUNT, USER, "mv", 6), NOW)
    assert (silent.kind, silent.text) == ("unsupported", "")
    blank = parse_message(wx.voice_xml(ACCOUNT, USER, "mv", 7, recognition=""), NOW)
    assert blank.kind == "unsupported"


def test_images_are_evidence():
    image = parse_message(wx.image_xml(ACCOUNT, USER, "http://pic/1.jpg", "media-1", 8), NOW)
    assert image.kind == "attachment"
    assert image.attachments[0].ref == "media-1"
    assert image.attachments[0].meta == {"PicUrl": "http://pic/1.jpg"}


def test_events_map_to_commands_and_are_keyed_by_sender_and_time():
    sub = parse_message(wx.event_xml(ACCOUNT, USER, "subscribe", 1764300000), NOW)
    assert (sub.kind, sub.text, sub.message_id) == ("command", "/start",
                                                    f"e{USER}:1764300000:subscribe")
    scan = parse_message(wx.event_xml(ACCOUNT, USER, "subscribe", 1764300001,
                                      key="qrscene_branch42"), NOW)
    assert scan.text == "/start"
    gone = parse_message(wx.event_xml(ACCOUNT, USER, "unsubscribe", 1764300002), NOW)
    assert gone.kind == "closed"
    complain = parse_message(wx.event_xml(ACCOUNT, USER, "CLICK", 1764300003, key="COMPLAIN"),
                             NOW)
    status = parse_message(wx.event_xml(ACCOUNT, USER, "CLICK", 1764300003, key="CASE_STATUS"),
                           NOW)
    assert (complain.text, status.text) == ("/complain", "/status")
    assert complain.message_id != status.message_id
    assert parse_message(wx.event_xml(ACCOUNT, USER, "CLICK", 1, key="OTHER"), NOW) is None
    assert parse_message(wx.event_xml(ACCOUNT, USER, "VIEW", 1, key="https://x"), NOW) is None


@pytest.mark.parametrize("xml,reason", [
    ("<xml><MsgType>text</MsgType>", "malformed"),
    ("<root><a>1</a></root>", "no <xml>"),
    ("<xml>just text</xml>", "no <xml>"),
    ("<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime></xml>", "MsgType"),
    ("<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>x</CreateTime>"
     "</xml>", "CreateTime"),
    ('<!DOCTYPE xml [<!ENTITY e "boom">]><xml><FromUserName>&e;</FromUserName></xml>',
     "malformed"),
])
def test_bad_pushes_say_why(xml, reason):
    with pytest.raises(InvalidPayload) as error:
        parse_message(xml, NOW)
    assert reason in error.value.detail


# ---- replies ------------------------------------------------------------------------------

def test_quick_replies_become_tap_to_answer_links_and_replies_combine():
    summary = Outbound("wechat", USER, "请确认：", (QuickReply("确认", "确认"),
                                                 QuickReply("修改", "修改")))
    text = combine([Outbound("wechat", USER, "收到。"), summary])
    assert text.startswith("收到。\n\n请确认：")
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=确认&msgmenuid=1">确认</a>' in text
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=修改&msgmenuid=2">修改</a>' in text


def test_a_passive_reply_keeps_its_xml_whatever_the_customer_wrote():
    hostile = "退款]]></Content><MsgType>news</MsgType><Content><![CDATA[x"
    reply = wx.parse_reply(passive_reply(hostile, to_user=USER, from_user=ACCOUNT,
                                         create_time=1764300000))
    assert reply == {"ToUserName": USER, "FromUserName": ACCOUNT, "CreateTime": "1764300000",
                     "MsgType": "text", "Content": hostile}


def test_long_texts_split_under_wechats_limit():
    text = "。".join(f"第{i}段说明文字" * 8 for i in range(60))
    parts = split(text)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 2000 for p in parts)
    assert "".join(parts).replace("。", "") == text.replace("。", "")


# ---- signatures and AES -------------------------------------------------------------------

def test_plaintext_requests_need_the_right_signature():
    security = WeChatSecurity(TOKEN, "wxappid")
    opened = security.open(b"<xml/>", wx.query(TOKEN))
    assert (opened.xml, opened.encrypted) == ("<xml/>", False)
    with pytest.raises(BadSignature):
        security.open(b"<xml/>", wx.query("other"))
    assert security.verify_url(wx.verify_query(TOKEN, "e1")) == "e1"


def test_safe_mode_round_trip_with_an_independent_check():
    key, appid = wx.random_aes_key(), "wx1234567890abcdef"
    security = WeChatSecurity(TOKEN, appid, key)
    xml = wx.text_xml(ACCOUNT, USER, "我的理财亏了", 99)
    body, params = wx.encrypt_request(xml, TOKEN, key, appid)
    opened = security.open(body.encode(), params)
    assert opened.encrypted and "我的理财亏了" in opened.xml
    sealed = security.seal("<xml><Content>好的</Content></xml>", opened)
    assert wx.decrypt_reply(sealed, TOKEN, key, appid) == "<xml><Content>好的</Content></xml>"
    # An encrypted push for another AppID is not ours.
    body, params = wx.encrypt_request(xml, TOKEN, key, "wxsomeoneelse00000")
    with pytest.raises(BadSignature):
        security.open(body.encode(), params)
    # No AES key configured: an encrypted push cannot be read.
    with pytest.raises(InvalidPayload):
        WeChatSecurity(TOKEN, appid).open(body.encode(), params)


def test_a_bad_aes_key_is_a_clear_configuration_error():
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WeChatSecurity(TOKEN, "wx", "short")


# ---- the shared token and the sender ------------------------------------------------------

def _sender(fake: FakeWeChat, memory, clock=None) -> WeChatSender:
    return WeChatSender(ApiClient(fake.appid, fake.secret, fake.base_url, timeout=5), memory,
                        clock=clock)


def test_workers_share_one_token_through_the_store(fake, engine: Engine):
    sessions = make_sessionmaker(engine)
    first = _sender(fake, StoreMemory(sessions, "wechat"))
    second = _sender(fake, StoreMemory(sessions, "wechat"))
    asyncio.run(first.send(Outbound("wechat", USER, "一")))
    asyncio.run(second.send(Outbound("wechat", USER, "二")))
    assert fake.token_fetches == 1  # the second worker took the stored token
    fake.expire_token()
    asyncio.run(first.send(Outbound("wechat", USER, "三")))  # renews
    asyncio.run(second.send(Outbound("wechat", USER, "四")))  # stale: takes the new one
    assert fake.token_fetches == 2
    assert [m.content for m in fake.sent] == ["一", "二", "三", "四"]


def test_concurrent_renewals_fetch_once(fake, engine: Engine):
    sessions = make_sessionmaker(engine)
    senders = [_sender(fake, StoreMemory(sessions, "wechat")) for _ in range(4)]
    asyncio.run(senders[0].send(Outbound("wechat", USER, "warm")))
    for s in senders[1:]:
        s.tokens.current()
    fake.expire_token()
    threads = [threading.Thread(target=s._send_text, args=(USER, f"m{i}"))
               for i, s in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.token_fetches == 2
    assert len(fake.sent) == 5


def test_the_48_hour_window_is_respected_without_calling_wechat(fake):
    sender = _sender(fake, DictMemory(), clock=lambda: NOW)
    old = Outbound("wechat", USER, "迟到的回复", queued_at=NOW - timedelta(hours=48))
    with pytest.raises(DeliveryError) as error:
        asyncio.run(sender.send(old))
    assert error.value.permanent and error.value.code == "window_closed"
    assert fake.calls == []
    asyncio.run(sender.send(Outbound("wechat", USER, "及时", queued_at=NOW - timedelta(hours=47))))
    assert [m.content for m in fake.sent] == ["及时"]


@pytest.mark.parametrize("errcode,permanent,code", [
    (45015, True, "window_closed"),
    (43004, True, "unsubscribed"),
    (45009, False, None),
    (-1, False, None),
])
def test_api_errors_map_to_delivery_errors(fake, errcode, permanent, code):
    sender = _sender(fake, DictMemory())
    fake.fail_next(errcode, "refused")
    with pytest.raises(DeliveryError) as error:
        asyncio.run(sender.send(Outbound("wechat", USER, "x")))
    assert (error.value.permanent, error.value.code) == (permanent, code)


def test_an_unreachable_api_is_retryable(fake):
    sender = _sender(fake, DictMemory())
    fake.set_down(True)
    with pytest.raises(DeliveryError) as error:
        asyncio.run(sender.send(Outbound("wechat", USER, "x")))
    assert not error.value.permanent
    fake.set_down(False)
    asyncio.run(sender.send(Outbound("wechat", USER, "x")))
    assert len(fake.sent) == 1


def test_the_token_is_stored_with_its_expiry(fake):
    memory = DictMemory()
    _sender(fake, memory).tokens.current()
    stored = json.loads(memory.values["access_token"])
    assert stored["token"] == fake.current_token and stored["expires_at"] > 0


def test_a_long_reply_resumes_after_the_parts_already_delivered(fake):
    memory = DictMemory()
    sender = _sender(fake, memory)
    text = "\n\n".join(f"第{i}段：" + "说明文字" * 60 for i in range(8))
    parts = split(text)
    assert len(parts) >= 3
    memory.set("parts_sent:77", "1")  # an earlier attempt got the first part out, then failed
    asyncio.run(sender.send(Outbound("wechat", USER, text, ref="77")))
    assert [m.content for m in fake.sent] == parts[1:]
    assert memory.get("parts_sent:77") == str(len(parts))
