"""The Telegram channel inside the service: its bot, the webhook handler and the poller."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from datetime import UTC, datetime
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest

from channels.telegram import (
    RateLimiter,
    TelegramPoller,
    TelegramSender,
    answer_callback,
    callback_query_id,
    parse_update,
)
from channels.telegram.files import file_base_url
from channels.telegram.ratelimit import PER_CHAT_BURST

from .dispatcher import Dispatcher
from .pipeline import Pipeline
from .settings import Settings
from .store.channel_state import StoreMemory

log = logging.getLogger(__name__)


def make_bot(settings: Settings) -> Bot:
    if settings.telegram_token is None:
        raise ValueError("INTAKE_TELEGRAM_TOKEN is not set")
    return Bot(settings.telegram_token.get_secret_value(), base_url=settings.telegram_api_base,
               base_file_url=file_base_url(settings.telegram_api_base),
               # Enough for Telegram's 30 messages/s at a 0.5 s round trip; httpcore checks
               # every pooled connection on each request, so a larger pool costs CPU.
               request=HTTPXRequest(connection_pool_size=16),
               get_updates_request=HTTPXRequest(read_timeout=40))


class TelegramChannel:
    """Receives updates (webhook or polling) into the pipeline; its sender serves the outbox."""

    def __init__(self, settings: Settings, pipeline: Pipeline, dispatcher: Dispatcher,
                 memory: StoreMemory) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.dispatcher = dispatcher
        self.bot = make_bot(settings)
        limiter = RateLimiter(
            per_chat_rate=settings.telegram_per_chat_per_second,
            per_chat_burst=max(PER_CHAT_BURST, int(settings.telegram_per_chat_per_second)),
            global_rate=settings.telegram_max_per_second,
            global_burst=max(1, int(settings.telegram_max_per_second)))
        self.sender = TelegramSender(self.bot, limiter)
        self.memory = memory
        self._poller: asyncio.Task[None] | None = None

    @property
    def webhook_mode(self) -> bool:
        return self.settings.telegram_webhook_secret is not None

    def secret_matches(self, header: str | None) -> bool:
        secret = self.settings.telegram_webhook_secret
        if secret is None or header is None:
            return False
        return hmac.compare_digest(header.encode(), secret.get_secret_value().encode())

    async def start(self, stop: asyncio.Event) -> None:
        """Check the token and start polling when no webhook is configured."""
        try:
            await self.bot.initialize()
        except InvalidToken:
            # PTB's message quotes the token: never log it.
            log.error("Telegram rejected INTAKE_TELEGRAM_TOKEN")
        except TelegramError as exc:
            log.warning("Telegram not reachable at start (%s); sends are retried",
                        type(exc).__name__)
        if not self.webhook_mode:
            poller = TelegramPoller(self.bot, self.memory, self.handle_update)
            self._poller = asyncio.create_task(poller.run(stop))

    async def stop(self) -> None:
        if self._poller is not None:
            try:
                await asyncio.wait_for(self._poller, timeout=10)
            except TimeoutError:
                self._poller.cancel()
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.bot.shutdown()

    async def handle_update(self, data: dict[str, Any]) -> None:
        """One update through the pipeline: committed before this returns."""
        inbound = parse_update(data, datetime.now(UTC))
        if inbound is None:
            return
        await self.pipeline.handle_async(inbound)
        self.dispatcher.wake()
        query_id = callback_query_id(inbound)
        if query_id:
            await answer_callback(self.bot, query_id)
