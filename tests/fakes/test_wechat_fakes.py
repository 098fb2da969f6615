"""The WeChat fakes, checked against the real wechatpy 1.8.18."""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections.abc import Iterator
from typing import Any
from xml.parsers.expat import ExpatError

import pytest
import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from requests.adapters import BaseAdapter
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import ClickEvent, SubscribeEvent, UnsubscribeEvent
from wechatpy.exceptions import (
    APILimitedException,
    InvalidAppIdException,
    InvalidSignatureException,
    WeChatClientException,
)
from wechatpy.messages import ImageMessage, TextMessage, VoiceMessage
from wechatpy.replies import create_reply
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.utils import check_signature

from tests.fakes import wechat_push as push
from tests.fakes.wechat_api import FakeWeChat

APPID = "wx5f0c1d2e3a4b6c7d"
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "intake_wechat_token"
ACCOUNT = "gh_0123456789ab"
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


class FakeBackedClient(WeChatClient):
    """wechatpy's client aimed at the fake. Setting API_BASE_URL is not enough: 1.8.18's
    fetch_access_token hard-codes https://api.weixin.qq.com/cgi-bin/token."""

    def __init__(self, fake: FakeWeChat, appid: str = APPID, secret: str = SECRET, **kwargs: Any):
        super().__init__(appid, secret, **kwargs)
        self.API_BASE_URL = fake.base_url  # an instance attribute is read by _request

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    with FakeWeChat(appid=APPID, secret=SECRET) as fake:
        yield fake


# ---------------------------------------------------------------- the API fake


def test_token_then_send_text_wire_format(wx: FakeWeChat) -> None:
    client = FakeBackedClient(wx)
    assert client.message.send_text(OPENID, "您好，投诉已受理 ✅") == {"errcode": 0, "errmsg": "ok"}
    [sent] = wx.wait_for_sent(1)
    assert (sent.openid, sent.content) == (OPENID, "您好，投诉已受理 ✅")
    assert sent.token == wx.current_token == client.session.get(f"{APPID}_access_token")
    assert wx.token_fetches == 1 and wx.messages_to(OPENID) == ["您好，投诉已受理 ✅"]

    fetch, post = wx.calls
    assert (fetch.method, fetch.path) == ("GET", "/cgi-bin/token")
    assert fetch.query == {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    assert (post.method, post.path, post.query) == (
        "POST",
        "/cgi-bin/message/custom/send",
        {"access_token": sent.token},
    )
    # Raw UTF-8 JSON (ensure_ascii=False) and no Content-Type header at all.
    assert post.content_type is None
    assert "投诉".encode() in post.body
    assert json.loads(post.body) == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "您好，投诉已受理 ✅"},
    }

    client.message.send_text(OPENID, "第二条")
    assert wx.token_fetches == 1  # cached in the session, with client.expires_at beside it


def test_api_base_url_alone_still_fetches_the_token_from_tencent(wx: FakeWeChat) -> None:
    seen: list[str] = []

    class Refuse(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            seen.append(str(request.url))
            raise requests.ConnectionError("blocked in tests")

        def close(self) -> None:
            pass

    client = WeChatClient(APPID, SECRET)
    client.API_BASE_URL = wx.base_url
    client._http.mount("https://api.weixin.qq.com/", Refuse())
    # Transport errors are not wrapped: requests' own exception comes out.
    with pytest.raises(requests.ConnectionError):
        client.message.send_text(OPENID, "hi")
    assert seen and seen[0].startswith("https://api.weixin.qq.com/cgi-bin/token?")
    assert wx.calls == []


def test_wrong_credentials(wx: FakeWeChat) -> None:
    with pytest.raises(WeChatClientException) as bad_secret:
        FakeBackedClient(wx, secret="nope").fetch_access_token()
    assert (bad_secret.value.errcode, bad_secret.value.errmsg) == (40125, "invalid appsecret")
    with pytest.raises(WeChatClientException) as bad_appid:
        FakeBackedClient(wx, appid="wx0000000000000000").message.send_text(OPENID, "x")
    assert (bad_appid.value.errcode, bad_appid.value.errmsg) == (40013, "invalid appid")
    assert wx.token_fetches == 0 and wx.sent == []


def test_new_fetch_invalidates_the_old_token(wx: FakeWeChat) -> None:
    first = FakeBackedClient(wx, auto_retry=False)
    first.message.send_text(OPENID, "one")
    second = FakeBackedClient(wx, auto_retry=False)  # another worker, its own session
    second.message.send_text(OPENID, "two")
    with pytest.raises(WeChatClientException) as exc_info:
        first.message.send_text(OPENID, "three")
    assert exc_info.value.errcode == 40001
    assert "not latest" in exc_info.value.errmsg
    assert wx.messages_to(OPENID) == ["one", "two"]
    [rejected] = wx.rejected
    assert (rejected.errcode, rejected.content) == (40001, "three")


def test_grace_seconds_keeps_the_old_token_alive() -> None:
    with FakeWeChat(appid=APPID, secret=SECRET, grace_seconds=300) as fake:
        first = FakeBackedClient(fake, auto_retry=False)
        first.fetch_access_token()
        FakeBackedClient(fake).fetch_access_token()
        first.message.send_text(OPENID, "old token, within the overlap")
        assert fake.sent[0].token != fake.current_token and fake.rejected == []


def test_separate_sessions_ping_pong_but_a_shared_session_does_not(wx: FakeWeChat) -> None:
    a, b = FakeBackedClient(wx), FakeBackedClient(wx)  # auto_retry: refetch on 40001
    for text in ("a1", "b1", "a2", "b2"):
        (a if text[0] == "a" else b).message.send_text(OPENID, text)
    assert wx.token_fetches == 4  # a1, b1 first fetches; a2, b2 refetched after a 40001
    assert [(r.errcode, r.content) for r in wx.rejected] == [(40001, "a2"), (40001, "b2")]
    assert wx.messages_to(OPENID) == ["a1", "b1", "a2", "b2"]

    shared = MemoryStorage()
    c, d = FakeBackedClient(wx, session=shared), FakeBackedClient(wx, session=shared)
    for text in ("c1", "d1", "c2", "d2"):
        (c if text[0] == "c" else d).message.send_text(OPENID, text)
    assert wx.token_fetches == 5
    assert d.expires_at is None  # d never fetched: it trusts the session's token blindly


def test_expired_token_without_and_with_auto_retry(wx: FakeWeChat) -> None:
    strict = FakeBackedClient(wx, auto_retry=False)
    strict.message.send_text(OPENID, "before")
    wx.expire_token()
    with pytest.raises(WeChatClientException) as exc_info:
        strict.message.send_text(OPENID, "after")
    assert (exc_info.value.errcode, exc_info.value.errmsg) == (42001, "access_token expired")
    assert exc_info.value.response.status_code == 200
    assert exc_info.value.client is strict

    retrying = FakeBackedClient(wx)  # default auto_retry=True
    retrying.message.send_text(OPENID, "before")
    old = wx.current_token
    wx.expire_token()
    retrying.message.send_text(OPENID, "after")  # 42001 -> fetch -> same request again
    assert wx.token_fetches == 3
    assert wx.sent[-1].content == "after" and wx.sent[-1].token not in (old, None)
    assert [(r.errcode, r.token) for r in wx.rejected][-1] == (42001, old)


def test_auto_retry_has_no_bound(wx: FakeWeChat) -> None:
    client = FakeBackedClient(wx)
    wx.fail_next(40001, "invalid credential, access_token is invalid or not latest", times=4)
    client.message.send_text(OPENID, "eventually")
    assert wx.token_fetches == 5  # the first fetch, then one per 40001
    assert [m.content for m in wx.sent] == ["eventually"]


def test_closed_window_and_other_errors(wx: FakeWeChat) -> None:
    client = FakeBackedClient(wx)
    wx.close_window(OPENID)
    with pytest.raises(WeChatClientException) as exc_info:
        client.message.send_text(OPENID, "too late")
    assert exc_info.value.errcode == 45015
    assert exc_info.value.errmsg == "response out of time limit or subscription is canceled"
    assert exc_info.value.response.json()["errcode"] == 45015
    assert wx.sent == [] and wx.rejected[0].openid == OPENID

    wx.open_window(OPENID)
    wx.fail_next(45009, "reach max api daily quota limit")
    with pytest.raises(APILimitedException) as limited:  # a WeChatClientException subclass
        client.message.send_text(OPENID, "quota")
    assert limited.value.errcode == 45009
    client.message.send_text(OPENID, "ok now")
    assert wx.messages_to(OPENID) == ["ok now"]


def test_down_gives_http_503(wx: FakeWeChat) -> None:
    client = FakeBackedClient(wx)
    wx.set_down(True)
    with pytest.raises(WeChatClientException) as exc_info:  # during the token fetch
        client.message.send_text(OPENID, "x")
    assert exc_info.value.errcode is None and exc_info.value.errmsg is None
    assert exc_info.value.response.status_code == 503
    wx.set_down(False)
    client.message.send_text(OPENID, "y")
    wx.set_down(True)
    with pytest.raises(WeChatClientException) as exc_info:  # during the send itself
        client.message.send_text(OPENID, "z")
    assert exc_info.value.response.status_code == 503
    assert wx.messages_to(OPENID) == ["y"]


def test_timeout_and_wait_for_sent_from_a_thread(wx: FakeWeChat) -> None:
    client = FakeBackedClient(wx, timeout=0.3)
    client.fetch_access_token()
    wx.delay_next(1.0)
    with pytest.raises(requests.Timeout):  # not wrapped in WeChatClientException either
        client.message.send_text(OPENID, "slow")
    # The client gave up, yet the message went through: a resend would duplicate it.
    assert [m.content for m in wx.wait_for_sent(1, timeout=5)] == ["slow"]
    threading.Timer(0.1, client.message.send_text, (OPENID, "later")).start()
    assert [m.content for m in wx.wait_for_sent(2, timeout=5)] == ["slow", "later"]
    with pytest.raises(AssertionError):
        wx.wait_for_sent(3, timeout=0.2)


def test_stopped_fake_refuses_connections() -> None:
    fake = FakeWeChat().start()
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        FakeBackedClient(fake).fetch_access_token()


# ---------------------------------------------------------------- signatures and crypto


def test_signature_is_what_wechatpy_checks() -> None:
    params = push.query(TOKEN, "1700000000", "1234567890")
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])
    verify = push.verify_query(TOKEN, "7436283742619563412")
    check_signature(TOKEN, verify["signature"], verify["timestamp"], verify["nonce"])
    assert verify["echostr"] == "7436283742619563412"
    with pytest.raises(InvalidSignatureException):
        check_signature("other", params["signature"], params["timestamp"], params["nonce"])


@pytest.mark.parametrize("compatible", [False, True])
def test_wechatpy_decrypts_encrypt_request(compatible: bool) -> None:
    aes_key = push.random_aes_key()
    xml = push.text_xml(ACCOUNT, OPENID, "扣费 <不明> & ]]> 😡", 24000000000000001, 1700000000)
    body, params = push.encrypt_request(xml, TOKEN, aes_key, APPID, compatible=compatible)
    assert params["encrypt_type"] == "aes" and params["openid"] == OPENID
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])
    crypto = WeChatCrypto(TOKEN, aes_key, APPID)
    plain = crypto.decrypt_message(
        body, params["msg_signature"], params["timestamp"], params["nonce"]
    )
    assert plain == xml
    assert parse_message(plain).content == "扣费 <不明> & ]]> 😡"
    outer = parse_message(body) if compatible else None  # compatible: readable as-is
    assert outer is None or outer.content == "扣费 <不明> & ]]> 😡"
    assert ("<Content>" in body) is compatible
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(body, "0" * 40, params["timestamp"], params["nonce"])


def test_independent_aes_against_wechatpy_both_ways() -> None:
    aes_key = push.random_aes_key()
    crypto = WeChatCrypto(TOKEN, aes_key, APPID)
    for length in (0, 1, 11, 12, 43, 44, 300):  # 16+4+len+18 crosses 32-byte boundaries
        xml = "<xml>" + "投" * length + "</xml>"
        # ours -> wechatpy
        encrypt = push.independent_encrypt(xml, aes_key, APPID)
        timestamp, nonce = "1700000000", "424242"
        sig = push.msg_signature(TOKEN, timestamp, nonce, encrypt)
        assert crypto.decrypt_message(_wrap(encrypt), sig, timestamp, nonce) == xml
        # wechatpy -> ours, through the reply envelope and its MsgSignature
        reply = crypto.encrypt_message(xml, nonce, timestamp)
        assert push.decrypt_reply(reply, TOKEN, aes_key, APPID) == xml
    other = push.independent_encrypt("<xml/>", aes_key, "wxother")
    with pytest.raises(InvalidAppIdException):
        crypto.decrypt_message(_wrap(other), push.msg_signature(TOKEN, "1", "2", other), "1", "2")


def _wrap(encrypt: str) -> str:
    return f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"


def test_independent_layout_is_the_documented_one() -> None:
    aes_key = push.random_aes_key()
    encrypt = push.independent_encrypt("<xml/>", aes_key, APPID, random_prefix=b"r" * 16)
    key = base64.b64decode(aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    assert len(plain) % 32 == 0 and plain[:16] == b"r" * 16
    assert struct.unpack(">I", plain[16:20]) == (6,)
    assert plain[20:26] == b"<xml/>" and plain[26 : 26 + len(APPID)] == APPID.encode()


def test_decrypt_reply_rejects_tampering() -> None:
    aes_key = push.random_aes_key()
    reply = WeChatCrypto(TOKEN, aes_key, APPID).encrypt_message("<xml/>", "99", "1700000000")
    with pytest.raises(ValueError, match="MsgSignature"):
        push.decrypt_reply(reply, "wrong-token", aes_key, APPID)
    with pytest.raises(ValueError):
        push.decrypt_reply(reply, TOKEN, aes_key, "wxother")
    with pytest.raises(ValueError):
        push.decrypt_reply("<xml><Encrypt>x</Encrypt></xml>", TOKEN, aes_key, APPID)


def test_random_aes_key_is_accepted() -> None:
    key = push.random_aes_key()
    assert len(key) == 43 and key != push.random_aes_key()
    WeChatCrypto(TOKEN, key, APPID)  # asserts a 32-byte key


def test_encrypted_reply_round_trip_through_parse_reply() -> None:
    aes_key = push.random_aes_key()
    message = parse_message(push.text_xml(ACCOUNT, OPENID, "我要投诉", 1, 1700000000))
    reply = create_reply("请问涉及哪家银行？", message)
    body = WeChatCrypto(TOKEN, aes_key, APPID).encrypt_message(reply, "5", "1700000001")
    parsed = push.parse_reply(push.decrypt_reply(body, TOKEN, aes_key, APPID))
    assert parsed["ToUserName"] == OPENID and parsed["FromUserName"] == ACCOUNT
    assert (parsed["MsgType"], parsed["Content"]) == ("text", "请问涉及哪家银行？")
    assert push.is_ack("success") and push.is_ack(b"") and not push.is_ack(reply.render())


# ---------------------------------------------------------------- XML bodies


def test_parse_message_reads_every_builder() -> None:
    text_body = push.text_xml(ACCOUNT, OPENID, "卡被盗刷了", 24000000000000001, 1700000000)
    text = parse_message(text_body)
    assert isinstance(text, TextMessage)
    assert (text.content, text.id, text.source, text.target, text.time) == (
        "卡被盗刷了",
        24000000000000001,
        OPENID,
        ACCOUNT,
        1700000000,
    )

    voice = parse_message(push.voice_xml(ACCOUNT, OPENID, "media-1", 2, recognition="我要投诉"))
    assert isinstance(voice, VoiceMessage)
    assert (voice.media_id, voice.format, voice.recognition) == ("media-1", "amr", "我要投诉")
    bare = push.voice_xml(ACCOUNT, OPENID, "media-2", 3)
    assert "Recognition" not in bare and parse_message(bare).recognition is None

    image = parse_message(push.image_xml(ACCOUNT, OPENID, "http://mmbiz.qpic.cn/x", "media-3", 4))
    assert isinstance(image, ImageMessage)
    assert (image.image, image.media_id, image.id) == ("http://mmbiz.qpic.cn/x", "media-3", 4)

    subscribe = parse_message(push.event_xml(ACCOUNT, OPENID, "subscribe", 1700000000))
    assert isinstance(subscribe, SubscribeEvent) and subscribe.id == 0  # events have no MsgId
    assert subscribe.key == ""
    unsubscribe = parse_message(push.event_xml(ACCOUNT, OPENID, "unsubscribe"))
    assert isinstance(unsubscribe, UnsubscribeEvent) and unsubscribe.source == OPENID
    click = parse_message(push.event_xml(ACCOUNT, OPENID, "CLICK", key="COMPLAIN_NEW"))
    assert isinstance(click, ClickEvent) and click.key == "COMPLAIN_NEW"


def test_parse_message_on_hostile_or_broken_xml() -> None:
    # What the service must guard against: none of these is a wechatpy exception.
    with pytest.raises(ValueError, match="entities are disabled"):
        parse_message('<!DOCTYPE xml [<!ENTITY e "x">]><xml><MsgType>text</MsgType></xml>')
    with pytest.raises(ExpatError):
        parse_message("<xml><MsgType>text</MsgType>")
    with pytest.raises(KeyError):
        parse_message("<xml><Content>no type</Content></xml>")
    with pytest.raises(TypeError):
        parse_message("<xml></xml>")
    assert parse_message("") is None
    assert type(parse_message("<xml><MsgType>foo</MsgType></xml>")).__name__ == "UnknownMessage"
