"""The WeChat channel end to end: pushes built as WeChat's servers build them (XML, signatures,
AES with wechatpy's crypto, replies checked by an independent decryption), the real service
over HTTP, and wechatpy's client against a fake WeChat API on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from bot.store.db import make_engine
from bot.store.models import Case, CaseEvent, Conversation, Message, OutboxItem
from tests.conftest import _postgresql_database
from tests.fakes import wechat_push as wx
from tests.fakes.wechat_api import FakeWeChat
from tests.service.conftest import LiveServer, start_server, stop_server

TOKEN = "intake-wechat-token"
ACCOUNT = "gh_0123456789ab"
USER = "oQ8Xc5Ddt9ePq1cX-user-1"
NUMBER = re.compile(r"TS\d{8}-\d{4}")
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")
_ids = itertools.count(24_000_000_000_000_001)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as api:
        yield api


def settings_for(fake: FakeWeChat, database_url: str, **extra: Any) -> Settings:
    return Settings(database_url=database_url, wechat_token=TOKEN, wechat_appid=fake.appid,
                    wechat_secret=fake.secret, wechat_api_base=fake.base_url,
                    outbox_poll_seconds=0.1, _env_file=None, **extra)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> LiveServer:
        self.live, self._server, self._thread = start_server(self.settings)
        return self.live

    def __exit__(self, *exc: object) -> None:
        stop_server(self._server, self._thread)


class WeChat:
    """What WeChat's servers do: sign (and in safe mode encrypt) each push, read the answer."""

    def __init__(self, live: LiveServer, aes_key: str | None = None, appid: str = "") -> None:
        self.live, self.aes_key, self.appid = live, aes_key, appid

    def post(self, xml: str, *, params: dict[str, str] | None = None) -> httpx.Response:
        if self.aes_key:
            body, query = wx.encrypt_request(xml, TOKEN, self.aes_key, self.appid)
        else:
            body, query = xml, wx.query(TOKEN, openid=USER)
        return httpx.post(f"{self.live.url}/channels/wechat", params=params or query,
                          content=body.encode(), headers={"Content-Type": "text/xml"},
                          timeout=30)

    def reply(self, response: httpx.Response) -> str | None:
        """The passive reply's text, or None for `success`."""
        assert response.status_code == 200, response.text
        if wx.is_ack(response.content):
            return None
        xml = response.text
        if self.aes_key:
            xml = wx.decrypt_reply(response.content, TOKEN, self.aes_key, self.appid)
        reply = wx.parse_reply(xml)
        assert reply["MsgType"] == "text"
        assert (reply["ToUserName"], reply["FromUserName"]) == (USER, ACCOUNT)
        return reply["Content"]

    def say(self, text: str, user: str = USER) -> str | None:
        return self.reply(self.post(wx.text_xml(ACCOUNT, user, text, next(_ids))))

    def event(self, event: str, key: str | None = None, at: int | None = None) -> str | None:
        return self.reply(self.post(wx.event_xml(ACCOUNT, USER, event, at or int(time.time()),
                                                 key=key)))


def count(live: LiveServer, model: Any, *where: Any) -> int:
    with live.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def only_case(live: LiveServer) -> Case:
    with live.service.sessions() as s:
        return s.scalars(select(Case)).one()


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def file_a_complaint(chat: WeChat) -> str:
    greeting = chat.event("subscribe")
    assert greeting is not None and "投诉" in greeting and "验证码" in greeting
    summary = chat.say(OPENING)
    assert summary is not None and "张伟" in summary and "2000" in summary
    assert "weixin://bizmsgmenu?msgmenucontent=确认" in summary
    filed = chat.say("确认")
    assert filed is not None
    return NUMBER.search(filed).group(0)


def test_the_server_url_is_verified(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        url = f"{live.url}/channels/wechat"
        ok = httpx.get(url, params=wx.verify_query(TOKEN, "echo-5201314"))
        assert (ok.status_code, ok.text) == (200, "echo-5201314")
        forged = wx.verify_query("not-our-token", "echo-1")
        assert httpx.get(url, params=forged).status_code == 403
        assert httpx.get(url, params={**wx.verify_query(TOKEN, "x"), "nonce": "1"}
                         ).status_code == 403
        assert httpx.get(url, params=wx.query(TOKEN)).status_code == 400  # no echostr


def test_a_whole_complaint_in_plaintext_mode(fake, database_url):
    with Service(settings_for(fake, database_url)) as live:
        number = file_a_complaint(WeChat(live))
        case = only_case(live)
        assert (case.number, case.channel, case.name, case.phone) == (
            number, "wechat", "张伟", "+8613912345678")
        assert case.amount == 2000 and case.business == "debit_card"
        # Every answer was passive: nothing went through the customer-service API.
        assert fake.sent == []
        assert count(live, OutboxItem, OutboxItem.via != "response") == 0
        assert count(live, Message, Message.direction == "in") == 3


@pytest.mark.parametrize("compatible", [False, True], ids=["safe", "compatible"])
def test_a_whole_complaint_in_safe_mode(fake, tmp_path, compatible):
    key = wx.random_aes_key()
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", wechat_aes_key=key)
    with Service(settings) as live:
        chat = WeChat(live, aes_key=key, appid=fake.appid)
        if compatible:
            xml = wx.text_xml(ACCOUNT, USER, "你好", next(_ids))
            body, query = wx.encrypt_request(xml, TOKEN, key, fake.appid, compatible=True)
            response = httpx.post(f"{live.url}/channels/wechat", params=query,
                                  content=body.encode())
            assert "投诉" in chat.reply(response)
        number = file_a_complaint(chat)
        assert only_case(live).number == number
        # The stored message is the plaintext, not the ciphertext.
        with live.service.sessions() as s:
            texts = s.scalars(select(Message.text).where(Message.direction == "in")).all()
        assert OPENING in texts


def test_safe_mode_refuses_a_wrong_message_signature(fake, tmp_path):
    key = wx.random_aes_key()
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", wechat_aes_key=key)
    with Service(settings) as live:
        body, query = wx.encrypt_request(wx.text_xml(ACCOUNT, USER, OPENING, next(_ids)),
                                         TOKEN, key, fake.appid)
        query["msg_signature"] = "0" * 40
        response = httpx.post(f"{live.url}/channels/wechat", params=query, content=body)
        assert response.status_code == 403
        # Encrypted for another account's AES key: the signature holds, decryption does not.
        other = wx.random_aes_key()
        body, query = wx.encrypt_request(wx.text_xml(ACCOUNT, USER, OPENING, next(_ids)),
                                         TOKEN, other, fake.appid)
        assert httpx.post(f"{live.url}/channels/wechat", params=query,
                          content=body).status_code in (400, 403)
        assert count(live, Message) == 0


def test_three_deliveries_of_one_message_store_one_message_and_one_reply(fake, database_url):
    """WeChat retries a push only when it got no answer in time, so each retry must carry
    the same passive reply (the earlier answers never reached WeChat); what is stored,
    and what the customer can see, is one message and one reply."""
    with Service(settings_for(fake, database_url)) as live:
        chat = WeChat(live)
        xml = wx.text_xml(ACCOUNT, USER, OPENING, next(_ids))
        with ThreadPoolExecutor(3) as pool:
            answers = [chat.reply(r) for r in pool.map(lambda _: chat.post(xml), range(3))]
        assert answers[0] is not None and "张伟" in answers[0]
        assert answers == [answers[0]] * 3
        assert count(live, Message, Message.direction == "in") == 1
        assert count(live, Message, Message.direction == "out") == 1
        time.sleep(0.5)
        assert fake.sent == []  # and never a second copy through the API


def _hold_the_conversation(database_url: str, seconds: float, held: threading.Event) -> None:
    """Keep the customer's conversation locked, as a long transaction elsewhere would."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        connection.rollback()
        connection.close()
        return
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(select(Conversation).with_for_update())
            held.set()
            time.sleep(seconds)
    finally:
        engine.dispose()


def test_a_slow_step_answers_success_and_replies_through_the_api(fake, database_url):
    """The conversation is locked for longer than the reply budget: WeChat gets `success`
    in time, and the reply follows through the customer-service API, once."""
    settings = settings_for(fake, database_url, wechat_reply_seconds=0.5)
    with Service(settings) as live:
        chat = WeChat(live)
        assert chat.event("subscribe") is not None  # the conversation exists
        held = threading.Event()
        blocker = threading.Thread(target=_hold_the_conversation,
                                   args=(database_url, 2.0, held))
        blocker.start()
        assert held.wait(10)
        xml = wx.text_xml(ACCOUNT, USER, OPENING, next(_ids))
        started = time.monotonic()
        response = chat.post(xml)
        assert chat.reply(response) is None  # `success`
        assert time.monotonic() - started < 1.5
        blocker.join()
        sent = fake.wait_for_sent(1, timeout=15)
        assert sent[0].openid == USER and "张伟" in sent[0].content
        assert "weixin://bizmsgmenu?msgmenucontent=确认" in sent[0].content
        # WeChat's retry of the same push, after it was answered through the API: `success`.
        assert chat.reply(chat.post(xml)) is None
        time.sleep(0.5)
        assert len(fake.sent) == 1
        assert count(live, Message, Message.direction == "in") == 2
        assert count(live, OutboxItem, OutboxItem.via == "api") == 1


def test_a_push_answered_success_is_finished_even_when_its_first_try_fails(fake):
    """PostgreSQL gives up waiting for the locked conversation (lock_timeout), so the push's
    own processing fails after WeChat was told `success`: it is retried in the background and
    the customer still gets the reply, once."""
    admin = os.environ.get("INTAKE_TEST_DATABASE_URL")
    if not admin:
        if os.environ.get("CI"):
            pytest.fail("INTAKE_TEST_DATABASE_URL is required under CI")
        pytest.skip("needs PostgreSQL (INTAKE_TEST_DATABASE_URL)")
    for url in _postgresql_database():
        impatient = f"{url}?options=-c%20lock_timeout%3D700"
        settings = settings_for(fake, impatient, wechat_reply_seconds=0.5)
        with Service(settings) as live:
            chat = WeChat(live)
            assert chat.event("subscribe") is not None
            held = threading.Event()
            blocker = threading.Thread(target=_hold_the_conversation, args=(url, 6.0, held))
            blocker.start()
            assert held.wait(10)
            assert chat.reply(chat.post(wx.text_xml(ACCOUNT, USER, OPENING, next(_ids)))) is None
            blocker.join()
            sent = fake.wait_for_sent(1, timeout=30)
            assert "张伟" in sent[0].content
            assert count(live, Message, Message.direction == "in") == 2
            time.sleep(0.5)
            assert len(fake.sent) == 1


def test_safe_mode_refuses_plaintext_and_stale_requests(fake, tmp_path):
    key = wx.random_aes_key()
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", wechat_aes_key=key)
    with Service(settings) as live:
        url = f"{live.url}/channels/wechat"
        # A genuine encrypted push's query, replayed with a forged plaintext body.
        body, query = wx.encrypt_request(wx.text_xml(ACCOUNT, USER, "你好", next(_ids)),
                                         TOKEN, key, fake.appid)
        forged = wx.text_xml(ACCOUNT, USER, "我撤销投诉", next(_ids))
        plain = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
        assert httpx.post(url, params=plain, content=forged).status_code == 403
        # The same push, an hour late.
        old = str(int(time.time()) - 3600)
        body, query = wx.encrypt_request(wx.text_xml(ACCOUNT, USER, "你好", next(_ids)),
                                         TOKEN, key, fake.appid, timestamp=old)
        assert httpx.post(url, params=query, content=body).status_code == 403
        assert count(live, Message) == 0


def test_another_users_msgid_never_returns_their_replies(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        chat = WeChat(live)
        msg_id = next(_ids)
        summary = chat.reply(chat.post(wx.text_xml(ACCOUNT, USER, OPENING, msg_id)))
        assert "张伟" in summary
        other = "oAttacker-0001"
        response = httpx.post(f"{live.url}/channels/wechat",
                              params=wx.query(TOKEN, openid=other),
                              content=wx.text_xml(ACCOUNT, other, "你好", msg_id).encode())
        assert response.status_code == 200
        assert "张伟" not in response.text and "13912345678" not in response.text
        assert count(live, Message, Message.direction == "in") == 2  # theirs is kept too


def test_a_passive_reply_never_overtakes_an_earlier_reply_still_queued(fake, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Service(settings_for(fake, url, wechat_reply_seconds=0.5)) as live:
        chat = WeChat(live)
        assert chat.event("subscribe") is not None
        fake.set_down(True)  # the customer-service API is unreachable for now
        held = threading.Event()
        blocker = threading.Thread(target=_hold_the_conversation, args=(url, 1.5, held))
        blocker.start()
        assert held.wait(10)
        assert chat.say(OPENING) is None  # too slow: `success`, the reply is queued
        blocker.join()
        time.sleep(0.5)
        # The next answer is ready at once, but the summary before it is still queued.
        assert chat.say("确认") is None
        fake.set_down(False)
        sent = fake.wait_for_sent(2, timeout=30)
        assert "张伟" in sent[0].content and NUMBER.search(sent[1].content)


def test_a_bad_signature_is_refused_and_nothing_stored(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        url = f"{live.url}/channels/wechat"
        xml = wx.text_xml(ACCOUNT, USER, OPENING, next(_ids))
        forged = wx.query("guessed-token", openid=USER)
        assert httpx.post(url, params=forged, content=xml).status_code == 403
        assert httpx.post(url, content=xml).status_code == 403  # no signature at all
        assert count(live, Message) == 0


ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
               '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]>'
               f'<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{USER}</FromUserName>'
               '<CreateTime>1764300000</CreateTime><MsgType>text</MsgType>'
               '<Content>&c;</Content><MsgId>1</MsgId></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   f'<xml><FromUserName>{USER}</FromUserName><CreateTime>1</CreateTime>'
                   '<MsgType>text</MsgType><Content>&x;</Content><MsgId>2</MsgId></xml>')


@pytest.mark.parametrize("body", [
    "<xml><ToUserName>gh</ToUserName><MsgType>text",
    "not xml at all",
    "<html><body>hi</body></html>",
    f"<xml><ToUserName>{ACCOUNT}</ToUserName><MsgType>text</MsgType><Content>x</Content></xml>",
    ENTITY_BOMB,
    EXTERNAL_ENTITY,
    "",
], ids=["truncated", "not-xml", "wrong-root", "no-sender", "entity-bomb", "external-entity",
        "empty"])
def test_malformed_bodies_are_rejected_and_nothing_stored(fake, tmp_path, body):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        response = WeChat(live).post(body)
        assert response.status_code == 400, response.text
        assert count(live, Message) == 0


def test_an_oversized_body_is_rejected_and_nothing_stored(fake, tmp_path):
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", max_body_bytes=4096)
    with Service(settings) as live:
        response = WeChat(live).post(wx.text_xml(ACCOUNT, USER, "投诉" * 2000, next(_ids)))
        assert response.status_code == 413
        assert count(live, Message) == 0


def test_subscribe_unsubscribe_and_the_menu(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        chat = WeChat(live)
        number = file_a_complaint(chat)
        status = chat.event("CLICK", key="CASE_STATUS")
        assert "案件编号" in status or "编号" in status
        found = chat.say(f"查询进度 {number}")
        assert number in found
        ask = chat.event("CLICK", key="COMPLAIN")
        assert "描述" in ask
        assert chat.event("CLICK", key="SOME_OTHER_BUTTON") is None
        # The same event delivered twice (same sender and CreateTime) is handled once.
        at = int(time.time()) + 5
        assert chat.event("unsubscribe", at=at) is None
        assert chat.event("unsubscribe", at=at) is None
        with live.service.sessions() as s:
            conversation = s.scalars(select(Conversation)).one()
            assert conversation.status == "closed"
            assert s.scalars(select(Case)).one().status == "new"  # the case is kept
        assert count(live, Message, Message.external_id == f"e{USER}:{at}:unsubscribe") == 1
        back = chat.event("subscribe", at=at + 60)
        assert back is not None and "投诉" in back
        with live.service.sessions() as s:
            assert s.scalars(select(Conversation)).one().status == "bot"


def test_voice_with_recognition_is_read_as_text(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        chat = WeChat(live)
        summary = chat.reply(chat.post(wx.voice_xml(ACCOUNT, USER, "media-voice-1", next(_ids),
                                                    recognition=OPENING)))
        assert "张伟" in summary and "2000" in summary
        ask = chat.reply(chat.post(wx.voice_xml(ACCOUNT, USER, "media-voice-2", next(_ids))))
        assert "文字" in ask
        with live.service.sessions() as s:
            first = s.scalars(select(Message).where(Message.direction == "in")
                              .order_by(Message.id)).first()
        assert first.text == OPENING
        assert first.raw["attachments"][0]["ref"] == "media-voice-1"


def test_an_image_is_kept_as_evidence(fake, tmp_path):
    with Service(settings_for(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        chat = WeChat(live)
        chat.say(OPENING)
        url = "http://mmbiz.qpic.cn/mmbiz_jpg/receipt.jpg"
        thanks = chat.reply(chat.post(wx.image_xml(ACCOUNT, USER, url, "media-img-1",
                                                   next(_ids))))
        assert "收到" in thanks
        with live.service.sessions() as s:
            image = s.scalars(select(Message).where(Message.direction == "in")
                              .order_by(Message.id.desc())).first()
        evidence = image.raw["attachments"][0]
        assert (evidence["kind"], evidence["ref"], evidence["meta"]["PicUrl"]) == (
            "image", "media-img-1", url)


def test_an_expired_token_is_renewed_and_the_reply_delivered(fake, tmp_path):
    # A tiny reply budget sends every reply through the customer-service API.
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", wechat_reply_seconds=0.001)
    with Service(settings) as live:
        chat = WeChat(live)
        assert chat.say("你好") is None
        fake.wait_for_sent(1, timeout=10)
        assert fake.token_fetches == 1
        fake.expire_token()
        chat.say("我要投诉")
        fake.wait_for_sent(2, timeout=10)
        assert fake.token_fetches == 2
        assert [r.errcode for r in fake.rejected] == [42001]
        fake.fail_next(40001, "invalid credential, access_token is invalid or not latest")
        chat.say("信用卡年费")
        fake.wait_for_sent(3, timeout=10)
        assert fake.token_fetches == 3
        # The token lives in the shared store, for every worker.
        with live.service.sessions() as s:
            from bot.store.models import ChannelState
            stored = s.get(ChannelState, "wechat:access_token")
        assert fake.current_token in stored.value


def test_a_reply_outside_the_window_flags_the_case_for_a_call_back(fake, tmp_path):
    settings = settings_for(fake, f"sqlite:///{tmp_path / 'db'}", wechat_reply_seconds=0.001)
    with Service(settings) as live:
        chat = WeChat(live)
        chat.say(OPENING)
        fake.wait_for_sent(1, timeout=10)
        chat.say("确认")
        fake.wait_for_sent(2, timeout=10)
        fake.close_window(USER)
        chat.say("请问多久能处理好？")
        case = wait_until(lambda: only_case(live).callback_reason and only_case(live))
        assert case.callback_reason == "reply_undelivered"
        with live.service.sessions() as s:
            item = s.scalars(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
            event = s.scalars(select(CaseEvent).where(CaseEvent.action == "callback_needed")
                              ).one()
        assert item.status == "failed" and item.attempts == 1
        assert event.after["detail"] == "window_closed"
