"""Long polling (`getUpdates`) for institutions without a public webhook URL."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Bot
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from channels.base import ChannelMemory, InvalidPayload

from .parse import ALLOWED_UPDATES
from .send import retry_after_seconds

log = logging.getLogger(__name__)

OFFSET_KEY = "offset"
PARKED_PREFIX = "parked:"
MAX_HANDLE_ATTEMPTS = 8  # then the update is parked, so one bad update stops nobody else
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0

T = TypeVar("T")


def _update_dict(update: Any) -> dict[str, Any]:
    """A getUpdates result item as a plain dict (PTB gives `Update` objects)."""
    if isinstance(update, dict):
        return update
    return update.to_dict()


class TelegramPoller:
    """Fetches updates and hands them, in order, to `handle`.

    The offset (next update id wanted) lives in `memory["offset"]` and is stored only after
    `handle` returned for an update, so a crash loses nothing; an update handled but not yet
    acknowledged comes again after a restart and the service's dedup by update id drops it.
    If `handle` raises, the poller backs off and fetches the same update again; an update that
    is not a valid message (InvalidPayload) or fails MAX_HANDLE_ATTEMPTS times is parked whole
    in `memory["parked:<update_id>"]` for someone to look at, and polling goes on past it.
    Network errors, 5xx and flood control back off (1 s doubling to 30 s, or `retry_after`);
    409 Conflict (a webhook is set, or another poller runs) and a rejected token stop it.
    Setting `stop` ends `run` promptly: the long poll in flight is cancelled; an update being
    handled is finished first.
    """

    def __init__(self, bot: Bot, memory: ChannelMemory,
                 handle: Callable[[dict[str, Any]], Awaitable[None]], timeout: int = 25,
                 *, backoff_start: float = BACKOFF_START,
                 backoff_max: float = BACKOFF_MAX) -> None:
        self.bot = bot
        self.memory = memory
        self.handle = handle
        self.timeout = timeout
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self._backoff = backoff_start
        self._failures: dict[Any, int] = {}

    def _offset(self) -> int | None:
        value = self.memory.get(OFFSET_KEY)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            log.error("telegram poller: ignoring a stored offset that is not a number: %r", value)
            return None

    async def _until_stop(self, awaitable: Awaitable[T],
                          stop: asyncio.Event) -> tuple[bool, T | None]:
        """(True, result) if `awaitable` finished first, (False, None) if `stop` was set (the
        awaitable is then cancelled)."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stopper):
                if not pending.done():
                    pending.cancel()
            await asyncio.wait({task, stopper})   # never raises their exceptions
        if task.cancelled() or (stop.is_set() and task.exception() is not None):
            return False, None
        return True, task.result()

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _back_off(self, stop: asyncio.Event, at_least: float = 0.0) -> None:
        delay = max(self._backoff, at_least)
        self._backoff = min(self._backoff * 2, self.backoff_max)
        await self._pause(delay, stop)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("telegram poller: started")
        while not stop.is_set():
            offset = self._offset()
            fetch = self.bot.get_updates(offset=offset, timeout=self.timeout,
                                         allowed_updates=list(ALLOWED_UPDATES))
            try:
                finished, updates = await self._until_stop(fetch, stop)
            except Conflict as e:
                log.error("telegram poller: stopped: getUpdates conflicts with a webhook or "
                          "another poller (%s); delete the webhook or stop the other one", e)
                return
            except InvalidToken as e:
                log.error("telegram poller: stopped: the bot token was rejected (%s)", e)
                return
            except RetryAfter as e:
                seconds = retry_after_seconds(e)
                log.warning("telegram poller: flood control, waiting %g s", seconds)
                await self._back_off(stop, at_least=seconds)
                continue
            except TelegramError as e:   # NetworkError, TimedOut, 5xx, bad responses
                log.warning("telegram poller: getUpdates failed (%s); retrying in %g s",
                            e, self._backoff)
                await self._back_off(stop)
                continue
            if not finished:
                break
            for update in updates or ():
                data = _update_dict(update)
                update_id = data.get("update_id")
                try:
                    await self.handle(data)
                except Exception as exc:
                    failures = self._failures.get(update_id, 0) + 1
                    self._failures = {update_id: failures}
                    if isinstance(exc, InvalidPayload) or failures >= MAX_HANDLE_ATTEMPTS:
                        self._park(update_id, data, exc)
                    else:
                        log.exception("telegram poller: handling update %s failed; retrying "
                                      "in %g s", update_id, self._backoff)
                        await self._back_off(stop)
                        break
                if isinstance(update_id, int) and not isinstance(update_id, bool):
                    self.memory.set(OFFSET_KEY, str(update_id + 1))
                if stop.is_set():
                    break
            else:
                self._backoff = self.backoff_start
        log.info("telegram poller: stopped")

    def _park(self, update_id: Any, data: dict[str, Any], exc: Exception) -> None:
        """Keep an update that cannot be handled, whole, and move past it."""
        self.memory.set(f"{PARKED_PREFIX}{update_id}", json.dumps(
            {"update": data, "error": f"{type(exc).__name__}: {exc}"[:2000]},
            ensure_ascii=False))
        log.error("telegram poller: update %s parked after %s (%s); polling goes on",
                  update_id, type(exc).__name__, "not a valid update"
                  if isinstance(exc, InvalidPayload) else "repeated failures")
