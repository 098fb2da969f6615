"""The out half: `TelegramSender`, the inline keyboard, text splitting, webhook setup and
answering callback queries."""

from __future__ import annotations

import datetime as dtm
import logging
import re
import warnings
from collections.abc import Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from channels.base import DeliveryError, Outbound, QuickReply, split_within

from .parse import ALLOWED_UPDATES, CHANNEL
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096          # Telegram's limit per message (counted here in UTF-16 code units)
MAX_CALLBACK_DATA = 64      # bytes of callback_data
BUTTONS_PER_ROW = 2
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


SHARE_PHONE = "📱 分享我的手机号 / Share my number"

def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """`text` in messages of at most `limit` UTF-16 code units (Telegram's measure)."""
    return split_within(text, limit, _utf16_units)


def callback_data(reply: QuickReply) -> str:
    """The button's callback_data: the payload (the label when the payload is empty), cut to
    64 UTF-8 bytes at a character boundary.

    Truncation rather than a lookup table keeps the channel stateless and survives restarts;
    the price is that only payloads of at most 64 bytes come back unchanged (the engine's
    payloads are labels and codes, far shorter). A cut is logged."""
    value = reply.payload or reply.label or "?"
    raw = value.encode("utf-8")
    if len(raw) <= MAX_CALLBACK_DATA:
        return value
    cut = raw[:MAX_CALLBACK_DATA].decode("utf-8", "ignore")
    log.warning("telegram: quick-reply payload cut to 64 bytes: %r -> %r", value, cut)
    return cut


def keyboard(replies: Sequence[QuickReply],
             asks: str | None = None) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """One inline button per quick reply, at most two per row; asked for the phone without
    quick replies, a button that shares the user's own number (Telegram vouches for it, so
    it links their channels); None otherwise."""
    if not replies:
        if asks is not None and "phone" in asks.split("+"):
            return ReplyKeyboardMarkup([[KeyboardButton(SHARE_PHONE, request_contact=True)]],
                                       one_time_keyboard=True, resize_keyboard=True)
        return None
    buttons = [InlineKeyboardButton(text=r.label or r.payload or "?",
                                    callback_data=callback_data(r)) for r in replies]
    rows = [buttons[i:i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def _seconds(value: object) -> float:
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


def retry_after_seconds(error: RetryAfter) -> float:
    """`RetryAfter.retry_after` in seconds, whether PTB gives an int or a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(error.retry_after)


def delivery_error(error: TelegramError) -> DeliveryError:
    """A Bot API error as the DeliveryError the outbox understands."""
    message = error.message
    if isinstance(error, RetryAfter):
        seconds = retry_after_seconds(error)
        return DeliveryError(f"telegram: flood control, retry in {seconds:g} s",
                             retry_after=seconds)
    if isinstance(error, Forbidden):
        return DeliveryError(f"telegram: forbidden (the user blocked the bot?): {message}",
                             permanent=True)
    if isinstance(error, BadRequest):
        # "chat not found", "message is too long", bad markup...: the same request fails again.
        return DeliveryError(f"telegram: bad request: {message}", permanent=True)
    if isinstance(error, ChatMigrated):
        return DeliveryError(f"telegram: chat migrated: {message}", permanent=True)
    if isinstance(error, TimedOut):
        return DeliveryError(f"telegram: timed out: {message}")
    if isinstance(error, NetworkError):
        return DeliveryError(f"telegram: network error: {message}")
    if isinstance(error, InvalidToken):
        # A configuration fault, not the message's: keep it for when the token is fixed.
        return DeliveryError(f"telegram: the bot token was rejected: {message}")
    return DeliveryError(f"telegram: {type(error).__name__}: {message}")


class TelegramSender:
    """Sends Outbound messages as Telegram messages, paced by a `RateLimiter`.

    A text longer than 4096 characters goes as several messages; the buttons go with the
    last. If a later part fails, a retry of the outbox row sends the earlier parts again.
    """

    channel = CHANNEL

    def __init__(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter if limiter is not None else RateLimiter()

    async def send(self, message: Outbound) -> None:
        try:
            chat_id = int(message.user_id)
        except ValueError:
            raise DeliveryError(f"telegram: bad chat id {message.user_id!r}",
                                permanent=True) from None
        parts = split_text(message.text)
        if not parts:
            raise DeliveryError("telegram: empty message", permanent=True)
        markup = keyboard(message.quick_replies, message.asks)
        for i, part in enumerate(parts):
            await self.limiter.acquire(chat_id)
            try:
                await self.bot.send_message(
                    chat_id=chat_id, text=part,
                    reply_markup=markup if i == len(parts) - 1 else None)
            except TelegramError as e:
                raise delivery_error(e) from e


async def answer_callback(bot: Bot, callback_query_id: str | None) -> None:
    """Stop the button's spinner. Best effort: failures are logged, not raised."""
    if not callback_query_id:
        return
    try:
        await bot.answer_callback_query(callback_query_id)
    except Exception:
        log.warning("telegram: answering callback query %s failed", callback_query_id,
                    exc_info=True)


def validate_secret(secret: str) -> str:
    """The webhook secret: 1-256 characters of A-Z a-z 0-9 _ - (ValueError otherwise)."""
    if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise ValueError("the webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -")
    return secret


async def set_webhook(bot: Bot, url: str, secret: str) -> None:
    """Point Telegram at `url`; it will send `secret` in X-Telegram-Bot-Api-Secret-Token."""
    validate_secret(secret)
    await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
