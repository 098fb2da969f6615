"""Send pacing for the Bot API: about 1 message/s per chat (short bursts pass) and about 30
messages/s overall, so the service rarely sees a 429.

Each limit is a GCRA ("virtual scheduling") bucket: `rate` messages per second, `burst` of
them back to back. `acquire(chat)` works in two stages: it books the chat's next slot
(`reserve`) and sleeps until it, then books a global slot (`reserve_global`) and sleeps until
that. Booking the global slot only once the chat's slot has come keeps one chat's backlog
from holding up the others; both stages are first come, first served, so messages to one
chat keep their order. A cancelled waiter's slot is simply lost (a little conservative).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

PER_CHAT_RATE = 1.0
PER_CHAT_BURST = 3
GLOBAL_RATE = 30.0
GLOBAL_BURST = 30
_PRUNE_AT = 10_000      # chats remembered before idle ones are forgotten


class RateLimiter:
    """`await limiter.acquire(chat)` before each send. Use from one event loop."""

    def __init__(self, *, per_chat_rate: float = PER_CHAT_RATE,
                 per_chat_burst: int = PER_CHAT_BURST, global_rate: float = GLOBAL_RATE,
                 global_burst: int = GLOBAL_BURST,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if min(per_chat_rate, global_rate) <= 0 or min(per_chat_burst, global_burst) < 1:
            raise ValueError("rates must be positive and bursts at least 1")
        self._chat_interval = 1.0 / per_chat_rate
        self._chat_tolerance = (per_chat_burst - 1) * self._chat_interval
        self._global_interval = 1.0 / global_rate
        self._global_tolerance = (global_burst - 1) * self._global_interval
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[Hashable, float] = {}   # chat -> theoretical arrival time
        self._global = float("-inf")

    def reserve(self, chat: Hashable) -> float:
        """Book the next slot for `chat`; the seconds to wait for it (0 for now)."""
        now = self._clock()
        tat = self._chats.get(chat, now)
        start = max(now, tat - self._chat_tolerance)
        self._chats[chat] = max(tat, start) + self._chat_interval
        if len(self._chats) > _PRUNE_AT:
            self._prune(now)
        return start - now

    def reserve_global(self) -> float:
        """Book the next slot of the overall limit; the seconds to wait for it."""
        now = self._clock()
        start = max(now, self._global - self._global_tolerance)
        self._global = max(self._global, start) + self._global_interval
        return start - now

    async def acquire(self, chat: Hashable) -> None:
        """Wait until `chat` may be sent another message."""
        delay = self.reserve(chat)
        if delay > 0:
            await self._sleep(delay)
        delay = self.reserve_global()
        if delay > 0:
            await self._sleep(delay)

    def _prune(self, now: float) -> None:
        # A chat whose arrival time has passed is back to a full burst: forgetting it is exact.
        for chat in [c for c, tat in self._chats.items() if tat <= now]:
            del self._chats[chat]
