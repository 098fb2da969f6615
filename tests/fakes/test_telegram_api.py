"""The fake Telegram Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123:ABC"
CHAT = 424242


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.x warns on reading retry_after, duration, ... as int; opt in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as fake:
        yield fake


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=tg.base_url, base_file_url=tg.base_file_url)


def test_get_me(tg: FakeTelegram) -> None:
    async def main():
        async with make_bot(tg) as bot:  # initialize() calls getMe too
            return bot, await bot.get_me()

    bot, me = asyncio.run(main())
    assert me.is_bot and me.id == 123
    assert me.username == "intake_test_bot" == bot.username
    assert [name for name, _ in tg.calls] == ["getMe", "getMe"]


def test_get_updates_offset_and_long_poll(tg: FakeTelegram) -> None:
    first = tg.text_update(CHAT, "/start 投诉")
    second = tg.text_update(CHAT, "银行乱扣费 😡💸", first_name="李雷")
    assert second["update_id"] == first["update_id"] + 1
    assert second["message"]["message_id"] == first["message"]["message_id"] + 1

    async def main():
        async with make_bot(tg) as bot:
            updates = await bot.get_updates()
            again = await bot.get_updates()  # nothing confirmed yet: the same two
            after = await bot.get_updates(offset=updates[-1].update_id + 1)
            started = time.monotonic()
            empty = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
            waited = time.monotonic() - started

            timer = threading.Timer(0.3, tg.text_update, (CHAT, "还在吗？"))
            timer.start()
            started = time.monotonic()
            late = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=10)
            woke_after = time.monotonic() - started
            return updates, again, after, empty, waited, late, woke_after

    updates, again, after, empty, waited, late, woke_after = asyncio.run(main())
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert [u.update_id for u in again] == [u.update_id for u in updates]
    start, complaint = (u.message for u in updates)
    assert start.text == "/start 投诉"
    assert start.entities[0].type == "bot_command" and start.entities[0].length == len("/start")
    assert complaint.text == "银行乱扣费 😡💸"
    assert complaint.chat.id == CHAT and complaint.chat.type == "private"
    assert complaint.from_user.first_name == "李雷"
    assert complaint.from_user.language_code == "zh-hans"
    assert after == () and empty == ()
    assert 0.9 <= waited < 3
    assert [u.message.text for u in late] == ["还在吗？"]
    assert woke_after < 2
    # The offset confirmed the first two: only the late one is still pending.
    assert [u["message"]["text"] for u in tg.pending_updates] == ["还在吗？"]
    assert tg.calls_to("getUpdates")[-1] == {"offset": second["update_id"] + 1, "timeout": 10}


def test_send_message_with_inline_keyboard(tg: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("确认 ✅", callback_data="confirm:1")],
            [InlineKeyboardButton("取消", callback_data="cancel:1")],
        ]
    )

    async def main():
        async with make_bot(tg) as bot:
            one = await bot.send_message(CHAT, "您的投诉已受理 📝", reply_markup=keyboard)
            two = await bot.send_message(CHAT, "<b>123</b>", parse_mode=ParseMode.HTML)
            return one, two

    one, two = asyncio.run(main())
    assert one.message_id < two.message_id
    assert one.chat.id == CHAT and one.from_user.is_bot and one.from_user.id == 123
    assert one.text == "您的投诉已受理 📝"
    assert one.reply_markup.inline_keyboard[0][0].callback_data == "confirm:1"
    assert two.text == "<b>123</b>"

    sent = tg.wait_for_sent(2, timeout=1)
    assert sent[0]["chat_id"] == CHAT
    assert sent[0]["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "确认 ✅", "callback_data": "confirm:1"}],
            [{"text": "取消", "callback_data": "cancel:1"}],
        ]
    }
    assert sent[0]["message_id"] == one.message_id
    assert sent[1]["parse_mode"] == "HTML"
    assert sent[1]["text"] == "<b>123</b>"


def test_callback_data_over_64_bytes_is_refused(tg: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="投诉" * 11)]])

    async def main():
        async with make_bot(tg) as bot:
            await bot.send_message(CHAT, "确认？", reply_markup=keyboard)

    # PTB strips "Bad Request: " and capitalizes: the message reads "Button_data_invalid".
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        asyncio.run(main())
    assert tg.sent == []


def test_429_surfaces_as_retry_after(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=7)

    async def main():
        async with make_bot(tg) as bot:
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(CHAT, "第一次")
            await bot.send_message(CHAT, "第二次")
            return info.value

    error = asyncio.run(main())
    assert error.retry_after == dtm.timedelta(seconds=7)
    assert [entry["text"] for entry in tg.sent] == ["第二次"]
    assert [params["text"] for params in tg.calls_to("sendMessage")] == ["第一次", "第二次"]


def test_server_errors_and_down_surface_as_network_errors(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", status=500, times=2)

    async def main():
        async with make_bot(tg) as bot:
            for _ in range(2):
                with pytest.raises(NetworkError, match="Internal Server Error"):
                    await bot.send_message(CHAT, "试试")
            await bot.send_message(CHAT, "好了")
            tg.down()
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.get_me()
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(CHAT, "没发出去")
            tg.up()
            await bot.send_message(CHAT, "恢复了")

    asyncio.run(main())
    assert [entry["text"] for entry in tg.sent] == ["好了", "恢复了"]


def test_blocked_user_is_forbidden(tg: FakeTelegram) -> None:
    tg.block(CHAT)

    async def main():
        async with make_bot(tg) as bot:
            await bot.send_message(CHAT, "您好")

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        asyncio.run(main())


def test_webhook_with_secret_then_get_updates_conflicts(tg: FakeTelegram) -> None:
    url = "https://intake.example.com/telegram/webhook"

    async def main():
        async with make_bot(tg) as bot:
            with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
                await bot.set_webhook(url, secret_token="not allowed!")
            with pytest.raises(BadRequest, match=r"(?i)https url"):
                await bot.set_webhook("http://intake.example.com/hook")

            async def set_webhook_soon():
                await asyncio.sleep(0.3)
                return await bot.set_webhook(url, secret_token="S3cret_token-1")

            polled, was_set = await asyncio.gather(
                bot.get_updates(timeout=10), set_webhook_soon(), return_exceptions=True
            )
            info = await bot.get_webhook_info()
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates()
            assert await bot.delete_webhook()
            after = await bot.get_updates()
            return polled, was_set, info, after

    polled, was_set, info, after = asyncio.run(main())
    assert isinstance(polled, Conflict) and "terminated by setWebhook request" in str(polled)
    assert was_set is True
    assert info.url == url and info.pending_update_count == 0
    assert after == ()
    assert tg.webhook["url"] == ""
    assert tg.calls_to("setWebhook")[-1]["secret_token"] == "S3cret_token-1"


def test_webhook_state_is_visible(tg: FakeTelegram) -> None:
    async def main():
        async with make_bot(tg) as bot:
            await bot.set_webhook(
                "https://intake.example.com:8443/tg", secret_token="abc", max_connections=5
            )

    asyncio.run(main())
    assert tg.webhook["url"] == "https://intake.example.com:8443/tg"
    assert tg.webhook["secret_token"] == "abc"
    assert tg.webhook["max_connections"] == 5


def test_second_poller_terminates_the_first(tg: FakeTelegram) -> None:
    async def main():
        async with make_bot(tg) as first, make_bot(tg) as second:

            async def later():
                await asyncio.sleep(0.3)
                return await second.get_updates(timeout=0)

            return await asyncio.gather(
                first.get_updates(timeout=10), later(), return_exceptions=True
            )

    old, new = asyncio.run(main())
    assert isinstance(old, Conflict) and "terminated by other getUpdates request" in str(old)
    assert new == ()


def test_answer_callback_query(tg: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])

    async def main():
        async with make_bot(tg) as bot:
            question = await bot.send_message(CHAT, "确认提交？", reply_markup=keyboard)
            tg.callback_update(CHAT, "yes", question.message_id)
            [update] = await bot.get_updates()
            query = update.callback_query
            answered = await bot.answer_callback_query(query.id, text="已收到 👍")
            with pytest.raises(BadRequest, match=r"(?i)query is too old"):
                await bot.answer_callback_query(query.id)
            edited = await bot.edit_message_reply_markup(CHAT, question.message_id)
            return question, query, answered, edited

    question, query, answered, edited = asyncio.run(main())
    assert query.data == "yes"
    assert query.from_user.id == CHAT
    assert query.message.message_id == question.message_id
    assert query.message.text == "确认提交？"
    assert query.message.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    assert answered is True
    assert edited.reply_markup is None
    assert tg.calls_to("answerCallbackQuery")[0] == {
        "callback_query_id": query.id,
        "text": "已收到 👍",
    }


def test_media_updates_and_get_file(tg: FakeTelegram) -> None:
    tg.photo_update(CHAT, caption="截图")
    tg.document_update(CHAT, content=b"%PDF-1.4 statement")
    tg.voice_update(CHAT, duration=5)
    tg.sticker_update(CHAT)
    tg.edited_update(CHAT, 1, "改一下：扣了 ¥300")
    tg.document_update(CHAT, file_name="big.zip", file_size=25 * 1024 * 1024)

    async def main():
        async with make_bot(tg) as bot:
            photo, document, voice, sticker, edited, big = await bot.get_updates()
            file = await document.message.document.get_file()
            data = await file.download_as_bytearray()
            largest = await photo.message.photo[-1].get_file()
            with pytest.raises(BadRequest, match=r"(?i)file is too big"):
                await big.message.document.get_file()
            with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
                await bot.get_file("nope")
            return photo, document, voice, sticker, edited, bytes(data), largest

    photo, document, voice, sticker, edited, data, largest = asyncio.run(main())
    assert photo.message.caption == "截图" and len(photo.message.photo) == 4
    assert photo.message.photo[-1].width == 1280
    assert document.message.document.file_name == "合同.pdf"
    assert data == b"%PDF-1.4 statement"
    assert largest.file_path.startswith(tg.base_file_url)
    assert voice.message.voice.duration == dtm.timedelta(seconds=5)
    assert sticker.message.sticker.emoji == "😡"
    assert edited.edited_message.text == "改一下：扣了 ¥300"
    assert edited.edited_message.message_id == 1


def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    async def main():
        async with make_bot(tg, token="123:WRONG"):
            pass

    # Bot.initialize() re-raises the 401 with its own message; the server's is the cause.
    with pytest.raises(InvalidToken, match="rejected by the server") as info:
        asyncio.run(main())
    assert isinstance(info.value.__cause__, InvalidToken)
    assert info.value.__cause__.message == "Unauthorized"

    async def direct():
        bot = make_bot(tg, token="123:WRONG")
        # Without initialize() the server's description comes through; Bot.shutdown() would
        # not close a request object that initialize() did not open, so close it here.
        async with bot.request:
            await bot.get_me()

    with pytest.raises(InvalidToken, match=r"^Unauthorized$"):
        asyncio.run(direct())


def test_raw_http_json_form_query_and_unknown_method(tg: FakeTelegram) -> None:
    api = f"{tg.base_url}{TOKEN}"
    with httpx.Client() as client:
        by_json = client.post(f"{api}/sendMessage", json={"chat_id": CHAT, "text": "json"})
        by_form = client.post(
            f"{api}/SENDMESSAGE",
            data={"chat_id": str(CHAT), "text": "42", "reply_markup": '{"inline_keyboard": []}'},
        )
        by_query = client.get(f"{api}/sendMessage", params={"chat_id": CHAT, "text": "query"})
        unknown = client.post(f"{api}/sendTelepathy")
        wrong = client.get(f"{tg.base_url}999:XYZ/getMe")
    assert by_json.json()["result"]["text"] == "json"
    assert by_form.json()["result"]["text"] == "42"  # a string, not JSON-decoded to 42
    assert by_query.json()["result"]["chat"]["id"] == CHAT
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert [entry["text"] for entry in tg.sent] == ["json", "42", "query"]
