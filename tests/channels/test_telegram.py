"""Telegram channel: Update parsing, the rate limiter, the keyboard and text splitting, the
sender's error mapping and the poller's offset handling. No network: Updates are recorded
JSON shapes from the Bot API docs and the bot is a stub of this file's own."""

from __future__ import annotations

import asyncio
import copy
import datetime as dtm
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from channels.base import Attachment, DeliveryError, InvalidPayload, Outbound, QuickReply
from channels.telegram import (
    ALLOWED_UPDATES,
    MAX_MESSAGE,
    RateLimiter,
    TelegramPoller,
    TelegramSender,
    answer_callback,
    callback_data,
    callback_query_id,
    delivery_error,
    keyboard,
    original_message_id,
    parse_update,
    set_webhook,
    split_text,
)
from channels.telegram.poller import MAX_HANDLE_ATTEMPTS

# PTB's own RetryAfter.__init__ reads its deprecated int `retry_after` for the message.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
DATE = 1764324000      # 2025-11-28T10:00:00Z
USER = {"id": 123456789, "is_bot": False, "first_name": "小明", "last_name": "王",
        "username": "xiaoming", "language_code": "zh-hans"}
PRIVATE = {"id": 123456789, "first_name": "小明", "last_name": "王", "username": "xiaoming",
           "type": "private"}
GROUP = {"id": -1001234567890, "title": "客户群", "type": "supergroup"}


def run(coro):
    return asyncio.run(coro)


def message_update(update_id: int = 100001, chat: dict | None = None, **fields: Any) -> dict:
    message = {"message_id": 42, "from": USER, "chat": chat or PRIVATE, "date": DATE}
    message.update(fields)
    return {"update_id": update_id, "message": message}


PHOTO = [
    {"file_id": "AgAD-small", "file_unique_id": "AQADs", "file_size": 1420, "width": 90,
     "height": 67},
    {"file_id": "AgAD-large", "file_unique_id": "AQADl", "file_size": 98765, "width": 1280,
     "height": 960},
    {"file_id": "AgAD-medium", "file_unique_id": "AQADm", "file_size": 21000, "width": 320,
     "height": 240},
]


# ---- parse_update: messages ---------------------------------------------------------------

def test_private_chinese_text_with_emoji() -> None:
    data = message_update(text="我的信用卡被多扣了200元 😡 请帮忙处理")
    msg = parse_update(data, NOW)
    assert msg is not None
    assert msg.channel == "telegram"
    assert msg.user_id == "123456789"
    assert msg.message_id == "m123456789:42"  # chat and message id: the dedup key
    assert msg.text == "我的信用卡被多扣了200元 😡 请帮忙处理"
    assert msg.kind == "text"
    assert msg.timestamp == datetime.fromtimestamp(DATE, UTC)
    assert msg.display_name == "小明 王"
    assert msg.lang == "zh"
    assert msg.raw == data
    assert msg.attachments == ()


@pytest.mark.parametrize(("code", "lang"), [
    ("zh-hans", "zh"), ("zh-hant", "zh"), ("zh", "zh"), ("ZH-TW", "zh"), ("en", "en"),
    ("en-GB", "en"), ("de", None), ("ru", None), (None, None),
])
def test_language_code(code: str | None, lang: str | None) -> None:
    user = {"id": 1, "is_bot": False, "first_name": "Ann"}
    if code is not None:
        user["language_code"] = code
    msg = parse_update(message_update(text="hi", **{"from": user}), NOW)
    assert msg is not None and msg.lang == lang and msg.display_name == "Ann"


def test_missing_from_gives_no_name() -> None:
    data = message_update(text="hi")
    del data["message"]["from"]
    msg = parse_update(data, NOW)
    assert msg is not None and msg.display_name is None and msg.lang is None


def test_start_command() -> None:
    data = message_update(text="/start", entities=[{"type": "bot_command", "offset": 0,
                                                     "length": 6}])
    msg = parse_update(data, NOW)
    assert msg is not None and msg.kind == "command" and msg.text == "/start"


def test_status_command_keeps_its_argument() -> None:
    msg = parse_update(message_update(text="/status TS20261128-0042"), NOW)
    assert msg is not None and msg.kind == "command"
    assert msg.text == "/status TS20261128-0042"


def test_bot_name_suffix_is_stripped() -> None:
    msg = parse_update(message_update(text="/cancel@MyBot"), NOW)
    assert msg is not None and msg.kind == "command" and msg.text == "/cancel"
    msg = parse_update(message_update(text="/status@MyBot TS20261128-0042"), NOW)
    assert msg is not None and msg.text == "/status TS20261128-0042"


@pytest.mark.parametrize("text", ["/human", "/help", "/HELP"])
def test_other_commands(text: str) -> None:
    msg = parse_update(message_update(text=text), NOW)
    assert msg is not None and msg.kind == "command" and msg.text == text.lower()


@pytest.mark.parametrize("text", ["/unknown", "/starting", "/ 开始", "1/2 的钱没退"])
def test_other_slashes_are_text(text: str) -> None:
    msg = parse_update(message_update(text=text), NOW)
    assert msg is not None and msg.kind == "text" and msg.text == text


def test_photo_with_caption_takes_the_largest_size() -> None:
    msg = parse_update(message_update(photo=PHOTO, caption="这是扣款短信截图"), NOW)
    assert msg is not None
    assert msg.kind == "attachment"
    assert msg.text == "这是扣款短信截图"
    assert msg.attachments == (Attachment("image", "AgAD-large", {
        "file_unique_id": "AQADl", "file_size": 98765, "width": 1280, "height": 960,
        "telegram_type": "photo"}),)


def test_document() -> None:
    document = {"file_name": "对账单.pdf", "mime_type": "application/pdf",
                "file_id": "BQACAgUAAxkBAAIB", "file_unique_id": "AgADdoc", "file_size": 52311}
    msg = parse_update(message_update(document=document), NOW)
    assert msg is not None and msg.kind == "attachment" and msg.text == ""
    (att,) = msg.attachments
    assert att.kind == "file" and att.ref == "BQACAgUAAxkBAAIB"
    assert att.meta == {"file_unique_id": "AgADdoc", "file_size": 52311,
                        "mime_type": "application/pdf", "file_name": "对账单.pdf",
                        "telegram_type": "document"}


def test_video() -> None:
    video = {"duration": 12, "width": 720, "height": 1280, "mime_type": "video/mp4",
             "file_id": "BAACAgUvid", "file_unique_id": "AgADvid", "file_size": 2000000}
    msg = parse_update(message_update(video=video, caption="ATM 吞卡"), NOW)
    assert msg is not None and msg.kind == "attachment" and msg.text == "ATM 吞卡"
    assert msg.attachments[0].kind == "video"
    assert msg.attachments[0].meta["width"] == 720


def test_voice_is_unsupported_with_its_file() -> None:
    voice = {"duration": 4, "mime_type": "audio/ogg", "file_id": "AwACAgUvoice",
             "file_unique_id": "AgADvoice", "file_size": 9123}
    msg = parse_update(message_update(voice=voice), NOW)
    assert msg is not None and msg.kind == "unsupported" and msg.text == ""
    assert msg.attachments == (Attachment("voice", "AwACAgUvoice", {
        "file_unique_id": "AgADvoice", "file_size": 9123, "mime_type": "audio/ogg",
        "telegram_type": "voice"}),)


def test_sticker_is_unsupported() -> None:
    sticker = {"width": 512, "height": 512, "emoji": "😡", "set_name": "Angry",
               "is_animated": False, "is_video": False, "type": "regular",
               "file_id": "CAACAgIsticker", "file_unique_id": "AgADst", "file_size": 30000}
    msg = parse_update(message_update(sticker=sticker), NOW)
    assert msg is not None and msg.kind == "unsupported" and msg.text == ""
    assert msg.attachments[0].ref == "CAACAgIsticker"
    assert msg.attachments[0].meta["telegram_type"] == "sticker"


def test_gif_is_unsupported_though_it_also_comes_as_a_document() -> None:
    gif = {"file_id": "CgACAgQgif", "file_unique_id": "AgADgif", "mime_type": "video/mp4",
           "file_name": "a.gif.mp4", "width": 200, "height": 200, "duration": 2}
    msg = parse_update(message_update(animation=gif, document=dict(gif)), NOW)
    assert msg is not None and msg.kind == "unsupported"
    assert msg.attachments[0].meta["telegram_type"] == "animation"


def test_a_contact_shared_from_ones_own_account_is_a_verified_phone() -> None:
    own = {"phone_number": "8613800138000", "first_name": "小明", "user_id": 123456789}
    msg = parse_update(message_update(contact=own), NOW)
    assert msg is not None and msg.kind == "text"
    assert msg.verified_phone == "+8613800138000" and msg.text == "+8613800138000"
    typed = parse_update(message_update(text="+8613800138000"), NOW)
    assert typed is not None and typed.verified_phone is None


@pytest.mark.parametrize(("key", "value"), [
    ("location", {"latitude": 31.2304, "longitude": 121.4737}),
    # Someone else's card: proves nothing about the sender.
    ("contact", {"phone_number": "+8613800138000", "first_name": "小明", "user_id": 555}),
])
def test_things_without_a_file_are_unsupported_without_attachment(key: str, value: dict) -> None:
    msg = parse_update(message_update(**{key: value}), NOW)
    assert msg is not None and msg.kind == "unsupported" and msg.text == ""
    assert msg.attachments == ()


def test_service_message_is_ignored() -> None:
    data = message_update(pinned_message={"message_id": 3, "date": DATE, "chat": PRIVATE})
    assert parse_update(data, NOW) is None


def test_edited_message() -> None:
    data = {"update_id": 100007, "edited_message": {
        "message_id": 42, "from": USER, "chat": PRIVATE, "date": DATE, "edit_date": DATE + 30,
        "text": "更正：多扣了300元"}}
    msg = parse_update(data, NOW)
    assert msg is not None
    assert msg.kind == "edited"
    assert msg.message_id == "e123456789:42:1764324030"
    assert msg.edits == "m123456789:42"
    assert msg.text == "更正：多扣了300元"
    assert msg.timestamp == datetime.fromtimestamp(DATE + 30, UTC)
    assert original_message_id(msg) == 42
    assert msg.raw is not None and msg.raw["edited_message"]["message_id"] == 42
    assert callback_query_id(msg) is None


def test_callback_query() -> None:
    data = {"update_id": 100009, "callback_query": {
        "id": "4382bfdwdsb323b2d9", "from": USER, "chat_instance": "-8812345678",
        "data": "是的",
        "message": {"message_id": 77, "from": {"id": 999, "is_bot": True,
                                               "first_name": "IntakeBot",
                                               "username": "IntakeBot"},
                    "chat": PRIVATE, "date": DATE - 60, "text": "金额 200 元，对吗？",
                    "reply_markup": {"inline_keyboard": [[
                        {"text": "是的", "callback_data": "是的"}]]}}}}
    msg = parse_update(data, NOW)
    assert msg is not None
    assert msg.kind == "callback"
    assert msg.text == "是的"
    assert msg.user_id == "123456789"
    assert msg.message_id == "u100009"
    assert msg.display_name == "小明 王" and msg.lang == "zh"
    assert msg.timestamp == NOW
    assert callback_query_id(msg) == "4382bfdwdsb323b2d9"
    assert original_message_id(msg) is None


def test_callback_without_data_is_ignored() -> None:
    data = {"update_id": 5, "callback_query": {"id": "1", "from": USER, "chat_instance": "1",
                                               "game_short_name": "g"}}
    assert parse_update(data, NOW) is None


def test_group_message() -> None:
    data = message_update(chat=GROUP, text="/start@MyBot")
    msg = parse_update(data, NOW)
    assert msg is not None
    assert msg.kind == "group"
    assert msg.user_id == "-1001234567890"
    assert msg.text == "/start@MyBot"


def test_group_edit_is_ignored() -> None:
    data = {"update_id": 9, "edited_message": {"message_id": 1, "from": USER, "chat": GROUP,
                                               "date": DATE, "edit_date": DATE, "text": "x"}}
    assert parse_update(data, NOW) is None


@pytest.mark.parametrize("data", [
    {"update_id": 100011, "channel_post": {"message_id": 5, "sender_chat": {
        "id": -100987, "title": "新闻", "type": "channel"}, "chat": {
        "id": -100987, "title": "新闻", "type": "channel"}, "date": DATE, "text": "公告"}},
    {"update_id": 100012, "my_chat_member": {
        "chat": PRIVATE, "from": USER, "date": DATE,
        "old_chat_member": {"user": {"id": 999, "is_bot": True, "first_name": "B"},
                            "status": "member"},
        "new_chat_member": {"user": {"id": 999, "is_bot": True, "first_name": "B"},
                            "status": "kicked", "until_date": 0}}},
    {"update_id": 100013, "poll": {"id": "5", "question": "?", "options": [],
                                   "total_voter_count": 0, "is_closed": False,
                                   "is_anonymous": True, "type": "regular",
                                   "allows_multiple_answers": False}},
])
def test_ignored_update_kinds(data: dict) -> None:
    assert parse_update(data, NOW) is None


@pytest.mark.parametrize("data", [
    None, [], "update", 42,
    {},
    {"update_id": "1", "message": {}},
    {"update_id": True, "message": {}},
    {"update_id": 1},
    {"update_id": 1, "message": "hi"},
    {"update_id": 1, "message": {"message_id": 1, "date": DATE, "text": "no chat"}},
    {"update_id": 1, "message": {"message_id": 1, "date": DATE, "chat": {"id": "x",
                                                                          "type": "private"}}},
    {"update_id": 1, "message": {"message_id": 1, "chat": PRIVATE, "text": "no date"}},
    {"update_id": 1, "message": {"message_id": 1, "date": DATE, "chat": PRIVATE, "text": 5}},
    {"update_id": 1, "message": {"message_id": 1, "date": DATE, "chat": PRIVATE,
                                 "photo": [{"width": 1}]}},
    {"update_id": 1, "callback_query": {"from": USER, "data": "x"}},
    {"update_id": 1, "callback_query": {"id": "1", "data": "x"}},
])
def test_malformed_updates(data: object) -> None:
    with pytest.raises(InvalidPayload):
        parse_update(data, NOW)


def test_a_ptb_round_trip_parses_the_same() -> None:
    data = message_update(photo=PHOTO, caption="截图")
    round_trip = Update.de_json(copy.deepcopy(data), None).to_dict()
    a, b = parse_update(data, NOW), parse_update(round_trip, NOW)
    assert a is not None and b is not None
    assert (a.kind, a.text, a.attachments, a.user_id) == (b.kind, b.text, b.attachments,
                                                          b.user_id)


# ---- rate limiter --------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_per_chat_burst_then_one_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_chat_rate=1.0, per_chat_burst=3, clock=clock)
    delays = [limiter.reserve(1) for _ in range(6)]
    assert delays == pytest.approx([0, 0, 0, 1, 2, 3])
    assert limiter.reserve(2) == 0       # another chat is not held up
    clock.now += 10                      # idle: a full burst again
    assert [limiter.reserve(1) for _ in range(4)] == pytest.approx([0, 0, 0, 1])


def test_global_limit_spreads_many_chats() -> None:
    clock = FakeClock()
    limiter = RateLimiter(global_rate=30.0, global_burst=30, clock=clock)
    delays = [limiter.reserve_global() for _ in range(60)]
    assert delays[:30] == [0] * 30
    assert delays[30:] == pytest.approx([(i + 1) / 30 for i in range(30)])
    clock.now += 10
    assert limiter.reserve_global() == 0


def test_acquire_sleeps_for_the_reserved_slot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_chat_burst=1, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(3):
            await limiter.acquire("c")

    run(go())
    assert clock.sleeps == pytest.approx([1.0, 1.0])
    assert clock.now == pytest.approx(1002.0)


class EventLoopClock:
    """A virtual clock for concurrent waiters: sleeps complete in deadline order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[tuple[str, float]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        deadline = self.now + seconds
        while self.now < deadline - 1e-9:
            await asyncio.sleep(0)
            self.now = min(deadline, self.now + 0.001)


def test_one_chats_backlog_does_not_hold_up_the_others() -> None:
    clock = EventLoopClock()
    limiter = RateLimiter(per_chat_rate=1.0, per_chat_burst=1, global_rate=30.0,
                          global_burst=5, clock=clock, sleep=clock.sleep)

    async def send(chat: str, n: int) -> None:
        await limiter.acquire(chat)
        clock.log.append((f"{chat}{n}", round(clock.now, 3)))

    async def go() -> None:
        await asyncio.gather(*(send("a", i) for i in range(4)), send("b", 0), send("c", 0))

    run(go())
    times = dict(clock.log)
    assert times["b0"] == 0 and times["c0"] == 0
    assert [times[f"a{i}"] for i in range(4)] == pytest.approx([0, 1, 2, 3], abs=0.01)
    assert [name for name, _ in clock.log if name.startswith("a")] == ["a0", "a1", "a2", "a3"]


def test_idle_chats_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import channels.telegram.ratelimit as rl
    monkeypatch.setattr(rl, "_PRUNE_AT", 5)
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for chat in range(5):
        limiter.reserve(chat)
    clock.now += 5
    limiter.reserve("new")
    assert list(limiter._chats) == ["new"]


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_chat_rate=0)
    with pytest.raises(ValueError):
        RateLimiter(global_burst=0)


# ---- keyboard, callback data, splitting --------------------------------------------------

def test_buttons_two_per_row() -> None:
    replies = [QuickReply(f"选项{i}", f"p{i}") for i in range(5)]
    markup = keyboard(replies)
    assert isinstance(markup, InlineKeyboardMarkup)
    rows = markup.inline_keyboard
    assert [len(r) for r in rows] == [2, 2, 1]
    assert [(b.text, b.callback_data) for r in rows for b in r] == [
        (f"选项{i}", f"p{i}") for i in range(5)]
    assert markup.to_dict()["inline_keyboard"][0][0] == {"text": "选项0", "callback_data": "p0"}
    assert keyboard([]) is None


def test_callback_data_is_cut_to_64_bytes_at_a_character_boundary() -> None:
    assert callback_data(QuickReply("是", "是的")) == "是的"
    ascii_payload = "x" * 64
    assert callback_data(QuickReply("a", ascii_payload)) == ascii_payload
    cut = callback_data(QuickReply("a", "x" * 100))
    assert cut == "x" * 64
    chinese = "信" * 30          # 90 bytes; 21 characters are 63 bytes
    cut = callback_data(QuickReply("a", chinese))
    assert cut == "信" * 21 and len(cut.encode()) == 63
    emoji = "a" + "😀" * 20      # 4-byte characters: 1 + 15*4 = 61 bytes fit
    assert callback_data(QuickReply("a", emoji)) == "a" + "😀" * 15
    assert callback_data(QuickReply("标签", "")) == "标签"


def test_short_text_is_one_part() -> None:
    assert split_text("  你好\n世界  ") == ["你好\n世界"]
    assert split_text("   ") == []


def test_long_text_breaks_at_lines() -> None:
    lines = [f"第{i}行：" + "字" * 50 for i in range(200)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == text          # broken only at line breaks


def test_long_chinese_text_without_breaks_splits_after_sentences() -> None:
    sentence = "我的信用卡被多扣了两百元。"
    text = sentence * 700                    # 9100 characters, no newlines or spaces
    parts = split_text(text)
    assert len(parts) == 3
    assert all(len(p) <= MAX_MESSAGE and p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_hard_split_and_utf16_counting() -> None:
    assert [len(p) for p in split_text("a" * 10000)] == [4096, 4096, 1808]
    emoji = "😀" * 3000                       # 6000 UTF-16 units
    parts = split_text(emoji)
    assert [len(p) for p in parts] == [2048, 952]
    assert "".join(parts) == emoji


# ---- sender --------------------------------------------------------------------------------

class StubBot:
    """Records the calls the sender makes; `errors` are raised by the next sends."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.errors = list(errors or [])
        self.answered: list[str] = []
        self.webhooks: list[dict[str, Any]] = []

    async def send_message(self, **kwargs: Any) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(kwargs)

    async def answer_callback_query(self, query_id: str) -> bool:
        if self.errors:
            raise self.errors.pop(0)
        self.answered.append(query_id)
        return True

    async def set_webhook(self, **kwargs: Any) -> bool:
        self.webhooks.append(kwargs)
        return True


def fast_limiter() -> RateLimiter:
    clock = FakeClock()
    return RateLimiter(clock=clock, sleep=clock.sleep)


def test_send_text_with_buttons() -> None:
    bot = StubBot()
    sender = TelegramSender(bot, fast_limiter())  # type: ignore[arg-type]
    assert sender.channel == "telegram"
    run(sender.send(Outbound("telegram", "123456789", "金额 200 元，对吗？",
                             (QuickReply("是的", "是的"), QuickReply("修改", "修改")))))
    (call,) = bot.sent
    assert call["chat_id"] == 123456789 and call["text"] == "金额 200 元，对吗？"
    assert [[b.callback_data for b in row] for row in call["reply_markup"].inline_keyboard] == [
        ["是的", "修改"]]


def test_send_long_text_as_parts_with_buttons_on_the_last() -> None:
    bot = StubBot()
    sender = TelegramSender(bot, fast_limiter())  # type: ignore[arg-type]
    run(sender.send(Outbound("telegram", "-5", "x" * 5000, (QuickReply("ok", "ok"),))))
    assert [len(c["text"]) for c in bot.sent] == [4096, 904]
    assert bot.sent[0]["reply_markup"] is None
    assert bot.sent[1]["reply_markup"].inline_keyboard[0][0].text == "ok"
    assert all(c["chat_id"] == -5 for c in bot.sent)


def test_send_waits_for_the_limiter() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_chat_burst=1, clock=clock, sleep=clock.sleep)
    bot = StubBot()
    sender = TelegramSender(bot, limiter)  # type: ignore[arg-type]
    run(sender.send(Outbound("telegram", "1", "a" * 9000)))
    assert len(bot.sent) == 3 and clock.sleeps == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(("make_error", "permanent", "retry_after"), [
    (lambda: RetryAfter(7), False, 7.0),
    (lambda: RetryAfter(dtm.timedelta(seconds=2.5)), False, 2.5),
    (lambda: Forbidden("Forbidden: bot was blocked by the user"), True, None),
    (lambda: BadRequest("Bad Request: chat not found"), True, None),
    (lambda: NetworkError("httpx.ConnectError"), False, None),
    (lambda: TimedOut(), False, None),
    (lambda: NetworkError("Internal Server Error (500)"), False, None),
])
def test_send_error_mapping(make_error, permanent: bool, retry_after: float | None) -> None:
    error = make_error()
    sender = TelegramSender(StubBot([error]), fast_limiter())  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as info:
        run(sender.send(Outbound("telegram", "1", "hi")))
    assert info.value.permanent is permanent
    assert info.value.retry_after == retry_after
    if retry_after is not None:
        assert isinstance(info.value.retry_after, float)
    assert info.value.__cause__ is error


def test_delivery_error_needs_no_network() -> None:
    assert delivery_error(Conflict("x")).permanent is False


@pytest.mark.parametrize(("user_id", "text"), [("not-a-number", "hi"), ("1", "  ")])
def test_send_refuses_what_cannot_be_sent(user_id: str, text: str) -> None:
    bot = StubBot()
    with pytest.raises(DeliveryError) as info:
        run(TelegramSender(bot, fast_limiter()).send(  # type: ignore[arg-type]
            Outbound("telegram", user_id, text)))
    assert info.value.permanent and bot.sent == []


def test_answer_callback_is_best_effort() -> None:
    bot = StubBot()
    run(answer_callback(bot, "q1"))  # type: ignore[arg-type]
    run(answer_callback(bot, None))  # type: ignore[arg-type]
    assert bot.answered == ["q1"]
    failing = StubBot([BadRequest("Query is too old and response timeout expired")])
    run(answer_callback(failing, "q2"))  # type: ignore[arg-type]   # no exception


def test_set_webhook_validates_the_secret() -> None:
    bot = StubBot()
    run(set_webhook(bot, "https://intake.example.com/telegram", "s3cr3t_-X"))  # type: ignore[arg-type]
    assert bot.webhooks == [{"url": "https://intake.example.com/telegram",
                             "secret_token": "s3cr3t_-X",
                             "allowed_updates": ["message", "edited_message",
                                                 "callback_query"]}]
    for bad in ["", "a" * 257, "has space", "点", "a/b"]:
        with pytest.raises(ValueError):
            run(set_webhook(bot, "https://x", bad))  # type: ignore[arg-type]
    run(set_webhook(bot, "https://x", "a" * 256))  # type: ignore[arg-type]
    assert len(bot.webhooks) == 2


# ---- poller --------------------------------------------------------------------------------

class Memory:
    def __init__(self, **values: str) -> None:
        self.values = dict(values)
        self.writes: list[str] = []

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value
        self.writes.append(value)


def text_update(update_id: int, text: str) -> dict:
    return message_update(update_id, text=text)


class PollBot:
    """Answers getUpdates from a script of batches (lists of Update dicts, or exceptions);
    past the script it long-polls forever, like Telegram with nothing new."""

    def __init__(self, script: list[list[dict] | Exception]) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.blocked = asyncio.Event()
        self.cancelled = False

    async def get_updates(self, **kwargs: Any) -> tuple[Update, ...]:
        self.calls.append(kwargs)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            offset = kwargs.get("offset") or 0
            return tuple(Update.de_json(copy.deepcopy(u), None) for u in step
                         if u["update_id"] >= offset)
        self.blocked.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return ()


async def poll(bot: PollBot, memory: Memory, handle, **kwargs: Any) -> None:
    """Run the poller until the script is used up (the bot then blocks), then stop it."""
    stop = asyncio.Event()
    poller = TelegramPoller(bot, memory, handle, backoff_start=0.001,  # type: ignore[arg-type]
                            backoff_max=0.004, **kwargs)
    task = asyncio.create_task(poller.run(stop))
    blocked = asyncio.create_task(bot.blocked.wait())
    await asyncio.wait({task, blocked}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    blocked.cancel()


def test_poller_hands_updates_in_order_and_stores_the_offset_after_each() -> None:
    bot = PollBot([[text_update(500, "一"), text_update(503, "二")], [text_update(504, "三")]])
    memory = Memory()
    seen: list[tuple[int, str | None]] = []

    async def handle(data: dict) -> None:
        seen.append((data["update_id"], memory.get("offset")))

    run(poll(bot, memory, handle, timeout=25))
    assert seen == [(500, None), (503, "501"), (504, "504")]
    assert memory.writes == ["501", "504", "505"]
    assert [c["offset"] for c in bot.calls] == [None, 504, 505]
    assert bot.calls[0]["timeout"] == 25
    assert bot.calls[0]["allowed_updates"] == list(ALLOWED_UPDATES)
    assert bot.cancelled                    # stop cancelled the in-flight long poll


def test_poller_hands_plain_update_dicts() -> None:
    bot = PollBot([[message_update(7, photo=PHOTO, caption="截图")]])
    got: list[dict] = []

    async def handle(data: dict) -> None:
        got.append(data)

    run(poll(bot, Memory(), handle))
    msg = parse_update(got[0], NOW)
    assert msg is not None and msg.kind == "attachment" and msg.message_id == "m123456789:42"
    assert msg.attachments[0].ref == "AgAD-large"


def test_poller_starts_from_the_stored_offset() -> None:
    bot = PollBot([[text_update(41, "old"), text_update(42, "new")]])
    memory = Memory(offset="42")
    seen: list[int] = []

    async def handle(data: dict) -> None:
        seen.append(data["update_id"])

    run(poll(bot, memory, handle))
    assert bot.calls[0]["offset"] == 42
    assert seen == [42] and memory.values["offset"] == "43"


def test_a_failing_handle_neither_loses_nor_skips_the_update() -> None:
    batch = [text_update(10, "a"), text_update(11, "b")]
    bot = PollBot([batch, batch])
    memory = Memory()
    seen: list[int] = []
    failures = [11]

    async def handle(data: dict) -> None:
        seen.append(data["update_id"])
        if data["update_id"] in failures:
            failures.remove(data["update_id"])
            raise RuntimeError("database is down")

    run(poll(bot, memory, handle))
    assert seen == [10, 11, 11]
    assert memory.writes == ["11", "12"]
    assert [c["offset"] for c in bot.calls] == [None, 11, 12]


def test_an_update_that_always_fails_is_parked_and_polling_goes_on() -> None:
    bad, good = text_update(20, "坏"), text_update(21, "好")
    bot = PollBot([[bad, good]] * MAX_HANDLE_ATTEMPTS + [[good]])
    memory = Memory()
    seen: list[int] = []

    async def handle(data: dict) -> None:
        seen.append(data["update_id"])
        if data["update_id"] == 20:
            raise RuntimeError("a bug in handling this one")

    run(poll(bot, memory, handle))
    assert seen == [20] * MAX_HANDLE_ATTEMPTS + [21]
    parked = json.loads(memory.values["parked:20"])
    assert parked["update"]["message"]["text"] == "坏"
    assert "a bug in handling this one" in parked["error"]
    assert memory.values["offset"] == "22"


def test_an_invalid_update_is_parked_at_once() -> None:
    bot = PollBot([[text_update(30, "x"), text_update(31, "y")]])
    memory = Memory()
    seen: list[int] = []

    async def handle(data: dict) -> None:
        seen.append(data["update_id"])
        if data["update_id"] == 30:
            raise InvalidPayload("message without a chat")

    run(poll(bot, memory, handle))
    assert seen == [30, 31]
    assert "InvalidPayload" in json.loads(memory.values["parked:30"])["error"]


def test_poller_backs_off_on_network_errors_and_goes_on() -> None:
    bot = PollBot([NetworkError("Bad Gateway"), TimedOut(), RetryAfter(0),
                   NetworkError("Internal Server Error (500)"), [text_update(1, "hi")]])
    memory = Memory()
    seen: list[int] = []

    async def handle(data: dict) -> None:
        seen.append(data["update_id"])

    run(poll(bot, memory, handle))
    assert seen == [1] and memory.values["offset"] == "2"
    assert len(bot.calls) == 6


def test_backoff_doubles_up_to_the_cap() -> None:
    async def go() -> list[float]:
        bot = PollBot([])
        poller = TelegramPoller(bot, Memory(), None)  # type: ignore[arg-type]
        delays: list[float] = []

        async def pause(seconds: float, stop: asyncio.Event) -> None:
            delays.append(seconds)

        poller._pause = pause  # type: ignore[method-assign]
        for _ in range(7):
            await poller._back_off(asyncio.Event())
        await poller._back_off(asyncio.Event(), at_least=60)
        return delays

    assert run(go()) == [1, 2, 4, 8, 16, 30, 30, 60]


def test_poller_stops_on_conflict() -> None:
    bot = PollBot([Conflict("Conflict: can't use getUpdates method while webhook is active")])

    async def handle(data: dict) -> None:
        raise AssertionError("no update expected")

    async def go() -> None:
        stop = asyncio.Event()
        poller = TelegramPoller(bot, Memory(), handle)  # type: ignore[arg-type]
        await asyncio.wait_for(poller.run(stop), timeout=1)

    run(go())
    assert len(bot.calls) == 1


def test_stop_during_backoff_is_prompt() -> None:
    bot = PollBot([NetworkError("down")])

    async def go() -> None:
        stop = asyncio.Event()
        poller = TelegramPoller(bot, Memory(), None)  # type: ignore[arg-type]
        task = asyncio.create_task(poller.run(stop))   # backs off 1 s after the failure
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=0.5)

    run(go())
    assert len(bot.calls) == 1
