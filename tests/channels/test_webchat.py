"""Web chat channel: body and frame validation, the socket registry, the sender, the widget."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.base import DeliveryError, InvalidPayload, Outbound, QuickReply
from channels.webchat import (
    STATIC_DIR,
    Connections,
    WebchatSender,
    client_message_id,
    message_key,
    parse_hello,
    parse_http_message,
    parse_ws_message,
    reply_payload,
    validate_visitor_id,
)

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
VISITOR = "3f2b8c1e-9d4a-4e5b-8c7d-1a2b3c4d5e6f"
_MISSING = object()   # a key left out of the body


def body(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"visitor_id": VISITOR, "text": "我的卡被多扣了200元",
                               "client_message_id": "m-1"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not _MISSING}


def frame(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"type": "message", "text": "hello", "client_message_id": "c:1.a_b"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not _MISSING}


def run(coro):
    return asyncio.run(coro)


# ---- parse_http_message -----------------------------------------------------------------

def test_http_valid_body() -> None:
    data = body(lang="zh", extra={"ignored": True})
    msg = parse_http_message(data, NOW)
    assert msg.channel == "webchat"
    assert msg.user_id == VISITOR
    assert msg.message_id == message_key(VISITOR, "m-1")
    assert client_message_id(msg.message_id) == "m-1"
    assert msg.text == "我的卡被多扣了200元"
    assert msg.timestamp == NOW
    assert msg.kind == "text"
    assert msg.lang == "zh"
    # What came is kept with the message, but for the visitor id: a credential.
    assert msg.raw == {k: v for k, v in data.items() if k != "visitor_id"}


def test_http_text_is_stripped_and_keeps_inner_newlines() -> None:
    msg = parse_http_message(body(text="  line one\nline two \n"), NOW)
    assert msg.text == "line one\nline two"


@pytest.mark.parametrize("lang", [None, _MISSING, "en", "zh"])
def test_http_lang_is_optional(lang: object) -> None:
    msg = parse_http_message(body(lang=lang), NOW)
    assert msg.lang == (lang if isinstance(lang, str) else None)


@pytest.mark.parametrize("visitor_id", [
    "a" * 22, "A" * 64, "a_b-c_d-1_a_b-c_d-1_a_", VISITOR, uuid.uuid4().hex,
    secrets.token_urlsafe(16), secrets.token_urlsafe(48)])
def test_http_visitor_id_bounds_accepted(visitor_id: str) -> None:
    assert parse_http_message(body(visitor_id=visitor_id), NOW).user_id == visitor_id
    assert validate_visitor_id(visitor_id) == visitor_id


@pytest.mark.parametrize("message_id", ["1", "x" * 64, "a.b:c-d_e"])
def test_http_message_id_bounds_accepted(message_id: str) -> None:
    msg = parse_http_message(body(client_message_id=message_id), NOW)
    assert client_message_id(msg.message_id) == message_id


def test_http_text_at_the_limit_is_accepted() -> None:
    assert len(parse_http_message(body(text="字" * 4000), NOW).text) == 4000
    # the limit applies after stripping
    assert len(parse_http_message(body(text=" " + "a" * 4000 + "\n"), NOW).text) == 4000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"visitor_id": _MISSING}, "visitor_id"),
        ({"visitor_id": "short"}, "visitor_id"),
        # Guessable: fewer than 22 characters cannot hold 128 random bits.
        ({"visitor_id": "abcdefgh"}, "visitor_id"),
        ({"visitor_id": "visitor-0001"}, "visitor_id"),
        ({"visitor_id": "a" * 21}, "visitor_id"),
        ({"visitor_id": uuid.uuid4().hex[:20]}, "visitor_id"),
        ({"visitor_id": "a" * 65}, "visitor_id"),
        ({"visitor_id": "abc def gh"}, "visitor_id"),
        ({"visitor_id": VISITOR + "\n"}, "visitor_id"),
        ({"visitor_id": "访客" * 12}, "visitor_id"),
        ({"visitor_id": VISITOR.replace("-", ".")}, "visitor_id"),
        ({"visitor_id": VISITOR[:-1] + "="}, "visitor_id"),
        ({"visitor_id": 12345678}, "visitor_id"),
        ({"visitor_id": None}, "visitor_id"),
        ({"text": _MISSING}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   \n\t "}, "text"),
        ({"text": "a" * 4001}, "text"),
        ({"text": 42}, "text"),
        ({"text": None}, "text"),
        ({"text": ["hi"]}, "text"),
        ({"text": "\ud800"}, "text"),
        ({"client_message_id": _MISSING}, "client_message_id"),
        ({"client_message_id": ""}, "client_message_id"),
        ({"client_message_id": "x" * 65}, "client_message_id"),
        ({"client_message_id": "a/b"}, "client_message_id"),
        ({"client_message_id": "a b"}, "client_message_id"),
        ({"client_message_id": "m-1\n"}, "client_message_id"),
        ({"client_message_id": 1}, "client_message_id"),
        ({"lang": "fr"}, "lang"),
        ({"lang": "ZH"}, "lang"),
        ({"lang": ""}, "lang"),
        ({"lang": 1}, "lang"),
        ({"lang": ["zh"]}, "lang"),
    ],
)
def test_http_invalid_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        parse_http_message(body(**changes), NOW)
    assert err.value.detail.startswith(field + " ")
    assert str(err.value) == err.value.detail


def test_http_oversized_text_says_the_limit() -> None:
    with pytest.raises(InvalidPayload, match=r"text must be at most 4000 characters, got 5000"):
        parse_http_message(body(text="a" * 5000), NOW)


@pytest.mark.parametrize("data", [None, "text", 42, True, [], ["visitor_id"], 1.5])
def test_http_non_object_body(data: object) -> None:
    with pytest.raises(InvalidPayload, match="must be a JSON object"):
        parse_http_message(data, NOW)


def test_http_invalid_payload_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_http_message({}, NOW)


# ---- parse_ws_message -------------------------------------------------------------------

def test_ws_valid_frame() -> None:
    data = frame(lang="en", unknown=1)
    msg = parse_ws_message(data, VISITOR, NOW)
    assert (msg.channel, msg.user_id, msg.message_id, msg.text, msg.lang) == (
        "webchat", VISITOR, message_key(VISITOR, "c:1.a_b"), "hello", "en")
    assert client_message_id(msg.message_id) == "c:1.a_b"
    assert msg.timestamp == NOW
    assert msg.raw == data


def test_ws_visitor_id_in_frame_is_ignored() -> None:
    msg = parse_ws_message(frame(visitor_id="someone-else-entirely"), VISITOR, NOW)
    assert msg.user_id == VISITOR


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": _MISSING}, "type"),
        ({"type": "replies"}, "type"),
        ({"type": 1}, "type"),
        ({"text": _MISSING}, "text"),
        ({"text": " "}, "text"),
        ({"text": "b" * 4001}, "text"),
        ({"text": {"a": 1}}, "text"),
        ({"client_message_id": _MISSING}, "client_message_id"),
        ({"client_message_id": "é"}, "client_message_id"),
        ({"client_message_id": 7}, "client_message_id"),
        ({"lang": "de"}, "lang"),
    ],
)
def test_ws_invalid_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        parse_ws_message(frame(**changes), VISITOR, NOW)
    assert err.value.detail.startswith(field + " ")


@pytest.mark.parametrize("visitor_id", ["", "short", "abcdefgh", "a" * 21, "a" * 65,
                                        "has space!" * 3, 12345678])
def test_ws_invalid_visitor_id(visitor_id: object) -> None:
    with pytest.raises(InvalidPayload, match=r"^visitor_id "):
        parse_ws_message(frame(), visitor_id, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [None, "message", 3, [], [frame()]])
def test_ws_non_object_frame(data: object) -> None:
    with pytest.raises(InvalidPayload, match="must be a JSON object"):
        parse_ws_message(data, VISITOR, NOW)


# ---- parse_hello and message keys --------------------------------------------------------

def test_hello_gives_the_visitor_id() -> None:
    assert parse_hello({"type": "hello", "visitor_id": VISITOR}) == VISITOR
    assert parse_hello({"type": "hello", "visitor_id": VISITOR, "lang": "zh"}) == VISITOR


@pytest.mark.parametrize("data", [
    None, "hello", [], ["hello", VISITOR], {"visitor_id": VISITOR},
    {"type": "message", "visitor_id": VISITOR, "text": "hi", "client_message_id": "m"},
    {"type": "hello"}, {"type": "hello", "visitor_id": None},
    {"type": "hello", "visitor_id": "abcdefgh"}, {"type": "hello", "visitor_id": 1234567890},
    {"type": "HELLO", "visitor_id": VISITOR},
])
def test_a_bad_hello_is_refused(data: object) -> None:
    with pytest.raises(InvalidPayload):
        parse_hello(data)


def test_message_keys_are_per_visitor_and_hide_the_visitor_id() -> None:
    other = uuid.uuid4().hex
    mine, theirs = message_key(VISITOR, "m-1"), message_key(other, "m-1")
    assert mine != theirs
    assert mine == message_key(VISITOR, "m-1")            # resent: the same key, deduplicated
    assert VISITOR not in mine and other not in theirs
    assert client_message_id(mine) == client_message_id(theirs) == "m-1"
    longest = message_key("A" * 64, "x" * 64)
    assert len(longest) <= 128                              # the store's external_id column
    assert client_message_id(message_key(VISITOR, "a:b:c")) == "a:b:c"


# ---- reply_payload ----------------------------------------------------------------------

def test_reply_payload() -> None:
    out = [
        Outbound("webchat", VISITOR, "请问您的姓名？"),
        Outbound("webchat", VISITOR, "确认提交吗？\n第二行",
                 quick_replies=(QuickReply("是 / Yes", "是"), QuickReply("否", "否")),
                 ref="outbox:7"),
    ]
    assert reply_payload(out) == [
        {"text": "请问您的姓名？", "quick_replies": []},
        {"text": "确认提交吗？\n第二行", "quick_replies": [
            {"label": "是 / Yes", "payload": "是"}, {"label": "否", "payload": "否"}]},
    ]
    assert reply_payload([]) == []


# ---- Connections and WebchatSender ------------------------------------------------------

class FakeSocket:
    """Records the frames sent to it; fails when told to."""

    def __init__(self, fail: BaseException | None = None, delay: float = 0.0) -> None:
        self.frames: list[dict] = []
        self.fail = fail
        self.delay = delay
        self.closed = False

    async def send_json(self, data: dict) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.frames.append(data)

    async def close(self, code: int = 1000) -> None:
        self.closed = True


class EqualSocket(FakeSocket):
    """Equal to every other one, like Starlette's WebSocket (a Mapping) can be."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EqualSocket)

    __hash__ = object.__hash__


def test_connections_several_tabs() -> None:
    conns = Connections()
    a, b, other = FakeSocket(), FakeSocket(), FakeSocket()
    conns.add(VISITOR, a)
    conns.add(VISITOR, b)
    conns.add(VISITOR, a)          # adding twice is harmless
    conns.add("other-visitor", other)
    assert conns.count(VISITOR) == 2
    assert run(conns.push(VISITOR, {"type": "message", "replies": []})) == 2
    assert a.frames == b.frames == [{"type": "message", "replies": []}]
    assert other.frames == []


def test_connections_discard() -> None:
    conns = Connections()
    a, b = FakeSocket(), FakeSocket()
    conns.add(VISITOR, a)
    conns.add(VISITOR, b)
    conns.discard(VISITOR, a)
    conns.discard(VISITOR, a)              # twice: no error
    conns.discard("never-connected", a)    # unknown visitor: no error
    assert conns.count(VISITOR) == 1
    assert run(conns.push(VISITOR, {"n": 1})) == 1
    assert a.frames == [] and b.frames == [{"n": 1}]
    conns.discard(VISITOR, b)
    assert conns.count(VISITOR) == 0
    assert run(conns.push(VISITOR, {"n": 2})) == 0


def test_connections_tell_equal_sockets_apart() -> None:
    conns = Connections()
    a, b = EqualSocket(), EqualSocket()
    conns.add(VISITOR, a)
    conns.add(VISITOR, b)
    assert conns.count(VISITOR) == 2
    conns.discard(VISITOR, a)
    assert conns.count(VISITOR) == 1
    assert run(conns.push(VISITOR, {"n": 1})) == 1
    assert b.frames == [{"n": 1}] and a.frames == []


def test_push_drops_a_failing_socket() -> None:
    conns = Connections()
    good, bad = FakeSocket(), FakeSocket(fail=RuntimeError("closed"))
    conns.add(VISITOR, good)
    conns.add(VISITOR, bad)
    assert run(conns.push(VISITOR, {"n": 1})) == 1
    assert conns.count(VISITOR) == 1
    assert bad.closed
    assert run(conns.push(VISITOR, {"n": 2})) == 1
    assert good.frames == [{"n": 1}, {"n": 2}]


def test_push_drops_a_stuck_socket() -> None:
    conns = Connections(send_timeout=0.05)
    good, stuck = FakeSocket(), FakeSocket(delay=5)
    conns.add(VISITOR, good)
    conns.add(VISITOR, stuck)
    assert run(conns.push(VISITOR, {"n": 1})) == 1
    assert conns.count(VISITOR) == 1


def test_concurrent_pushes_keep_order_per_socket() -> None:
    conns = Connections()
    slow = FakeSocket(delay=0.01)
    conns.add(VISITOR, slow)

    async def main() -> list[int]:
        return await asyncio.gather(*(conns.push(VISITOR, {"n": i}) for i in range(5)))

    assert run(main()) == [1] * 5
    assert slow.frames == [{"n": i} for i in range(5)]


def test_send_to_one_socket() -> None:
    conns = Connections()
    a, b = FakeSocket(), FakeSocket()
    conns.add(VISITOR, a)
    conns.add(VISITOR, b)
    assert run(conns.send_to(VISITOR, a, {"type": "replies"})) is True
    assert a.frames == [{"type": "replies"}] and b.frames == []
    broken = FakeSocket(fail=OSError("gone"))
    conns.add(VISITOR, broken)
    assert run(conns.send_to(VISITOR, broken, {"x": 1})) is False
    assert conns.count(VISITOR) == 2


def test_sender_pushes_a_message_frame() -> None:
    conns = Connections()
    tab1, tab2 = FakeSocket(), FakeSocket()
    conns.add(VISITOR, tab1)
    conns.add(VISITOR, tab2)
    sender = WebchatSender(conns)
    assert sender.channel == "webchat"
    out = Outbound("webchat", VISITOR, "<b>客服</b>：您好", (QuickReply("好的", "ok"),))
    run(sender.send(out))
    expected = {"type": "message", "replies": [
        {"text": "<b>客服</b>：您好", "quick_replies": [{"label": "好的", "payload": "ok"}]}]}
    assert tab1.frames == [expected] and tab2.frames == [expected]


def test_sender_without_socket_raises_a_temporary_error() -> None:
    sender = WebchatSender(Connections())
    with pytest.raises(DeliveryError, match="visitor not connected") as err:
        run(sender.send(Outbound("webchat", VISITOR, "hi")))
    assert err.value.permanent is False


def test_sender_when_every_socket_fails() -> None:
    conns = Connections()
    conns.add(VISITOR, FakeSocket(fail=ConnectionResetError()))
    with pytest.raises(DeliveryError, match="visitor not connected") as err:
        run(WebchatSender(conns).send(Outbound("webchat", VISITOR, "hi")))
    assert not err.value.permanent
    assert conns.count(VISITOR) == 0


def test_sender_refuses_another_channel() -> None:
    with pytest.raises(DeliveryError) as err:
        run(WebchatSender(Connections()).send(Outbound("telegram", "42", "hi")))
    assert err.value.permanent


# ---- the widget and the demo page -------------------------------------------------------

WIDGET = Path(STATIC_DIR) / "widget.js"
DEMO = Path(STATIC_DIR) / "demo.html"


def test_widget_never_parses_html() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert banned not in source, banned


def test_widget_loads_nothing_from_another_origin() -> None:
    # The SVG namespace is a name the DOM needs, never fetched: the one URL allowed.
    source = WIDGET.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', '""')
    assert not re.search(r"https?://", source, re.IGNORECASE)
    assert not re.search(r"(?<![\w\"'])//[a-z0-9.-]+\.[a-z]{2,}", source, re.IGNORECASE)
    assert "import(" not in source and "importScripts" not in source


def test_widget_has_the_test_ids_and_endpoints() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    for test_id in ("chat-launcher", "chat-panel", "chat-input", "chat-send", "chat-message",
                    "quick-reply"):
        assert f'"{test_id}"' in source, test_id
    for path in ("/channels/webchat/messages", "/channels/webchat/history",
                 "/channels/webchat/ws"):
        assert path in source, path
    assert "textContent" in source
    assert "pre-wrap" in source


def test_widget_never_puts_the_visitor_id_in_a_url() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)   # the comment shows the formats
    assert "?visitor_id" not in code and "searchParams" not in code
    assert '"X-Visitor-Id"' in code
    assert 'type: "hello"' in code and '"ready"' in code
    assert "4401" in code and "status === 401" in code
    assert "retry === true" in code


def test_widget_makes_ids_of_128_random_bits() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    body = re.search(r"function randomId\(\) \{(.*?)\n  \}", source, re.DOTALL)
    assert body is not None
    # 16 bytes from the CSPRNG, no weaker path (Math.random, or a UUID's 122 bits).
    assert "new Uint8Array(16)" in body.group(1) and "getRandomValues" in body.group(1)
    assert "Math.random" not in body.group(1) and "randomUUID()" not in body.group(1)
    assert "/^[A-Za-z0-9_-]{22,64}$/" in source


def test_demo_page_embeds_the_widget_once() -> None:
    html = DEMO.read_text(encoding="utf-8")
    assert html.count("<script") == 1
    assert '<script src="/channels/webchat/widget.js" defer></script>' in html
    assert "示例银行" in html and "Demo Bank" in html
    assert not re.search(r"https?://", html)
    assert '<link' not in html
