"""`intake telegram set-webhook URL | delete-webhook | poll`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable

from telegram.error import InvalidToken, TelegramError

from bot.core import build_core
from bot.logs import configure_logging
from bot.settings import Settings
from bot.store.channel_state import StoreMemory
from bot.telegram_service import TelegramChannel, make_bot
from channels.telegram import set_webhook


def _settings() -> Settings | None:
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"intake telegram: bad configuration: {exc}", file=sys.stderr)
        return None
    if settings.telegram_token is None:
        print("intake telegram: set INTAKE_TELEGRAM_TOKEN first", file=sys.stderr)
        return None
    return settings


def register_webhook(url: str) -> int:
    """Point Telegram at our webhook, with the secret it must send back."""
    settings = _settings()
    if settings is None:
        return 2
    if settings.telegram_webhook_secret is None:
        print("intake telegram: set INTAKE_TELEGRAM_WEBHOOK_SECRET first; the webhook refuses "
              "calls without it", file=sys.stderr)
        return 2
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        print("intake telegram: Telegram only calls https:// webhooks", file=sys.stderr)
        return 2

    async def run() -> None:
        async with make_bot(settings) as bot:
            await set_webhook(bot, url, settings.telegram_webhook_secret.get_secret_value())

    return _call(run, f"webhook set to {url}")


def remove_webhook() -> int:
    settings = _settings()
    if settings is None:
        return 2

    async def run() -> None:
        async with make_bot(settings) as bot:
            await bot.delete_webhook()

    return _call(run, "webhook removed; intake serve will poll")


def _call(run: Callable[[], Awaitable[None]], done: str) -> int:
    try:
        asyncio.run(run())
    except InvalidToken:
        print("intake telegram: Telegram rejected the token", file=sys.stderr)
        return 1
    except TelegramError as exc:
        print(f"intake telegram: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(done)
    return 0


def poll() -> int:
    """Long-poll Telegram without the HTTP service (for a host with no public URL)."""
    settings = _settings()
    if settings is None:
        return 2
    if settings.telegram_webhook_secret is not None:
        print("intake telegram: INTAKE_TELEGRAM_WEBHOOK_SECRET is set (webhook mode); unset it "
              "to poll", file=sys.stderr)
        return 2
    configure_logging(settings)
    core = build_core(settings)
    db, dispatcher = core.db, core.dispatcher
    channel = TelegramChannel(settings, core.pipeline, dispatcher,
                              StoreMemory(core.sessions, "telegram"))
    dispatcher.senders["telegram"] = channel.sender

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        sender = asyncio.create_task(dispatcher.run(stop))
        await channel.start(stop)
        await stop.wait()
        await channel.stop()
        await sender

    asyncio.run(run())
    db.dispose()
    return 0
