"""Open WebSockets per visitor, and the sender that pushes replies through them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.base import DeliveryError, Outbound

from .parse import CHANNEL

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0   # seconds one socket may take to accept a frame before it is dropped


class JsonSocket(Protocol):
    """What `Connections` needs of a socket (Starlette's WebSocket has it)."""

    async def send_json(self, data: Any) -> None: ...


def reply_payload(outbound: list[Outbound]) -> list[dict[str, Any]]:
    """Replies as the browser receives them."""
    return [
        {"text": o.text,
         "quick_replies": [{"label": q.label, "payload": q.payload} for q in o.quick_replies]}
        for o in outbound
    ]


class Connections:
    """The open sockets of each visitor (one per tab). Use from one event loop.

    `add` and `discard` never await, so they are atomic for asyncio; `push` sends on a
    snapshot, and frames to one socket are serialised by a per-socket lock so two pushes
    never interleave on the same socket.
    """

    def __init__(self, send_timeout: float = SEND_TIMEOUT) -> None:
        # Keyed by id(): sockets are told apart by identity (Starlette's WebSocket is a
        # Mapping, whose == compares the scopes).
        self._sockets: dict[str, dict[int, tuple[JsonSocket, asyncio.Lock]]] = {}
        self._send_timeout = send_timeout

    def add(self, visitor_id: str, ws: JsonSocket) -> None:
        self._sockets.setdefault(visitor_id, {}).setdefault(id(ws), (ws, asyncio.Lock()))

    def discard(self, visitor_id: str, ws: JsonSocket) -> None:
        sockets = self._sockets.get(visitor_id)
        if sockets is None:
            return
        entry = sockets.get(id(ws))
        if entry is not None and entry[0] is ws:
            del sockets[id(ws)]
        if not sockets:
            del self._sockets[visitor_id]

    def count(self, visitor_id: str) -> int:
        return len(self._sockets.get(visitor_id, ()))

    async def push(self, visitor_id: str, frame: dict[str, Any]) -> int:
        """Send `frame` to every socket of the visitor; the number reached. Failing ones are
        dropped."""
        targets = list(self._sockets.get(visitor_id, {}).values())
        if not targets:
            return 0
        results = await asyncio.gather(*(self._send(ws, lock, frame) for ws, lock in targets))
        for (ws, _), ok in zip(targets, results, strict=True):
            if not ok:
                self.discard(visitor_id, ws)
        return sum(results)

    async def send_to(self, visitor_id: str, ws: JsonSocket, frame: dict[str, Any]) -> bool:
        """Send one frame to one socket (e.g. the `replies` answer to that socket's message),
        serialised with pushes to it; False, and the socket dropped, when it fails."""
        entry = self._sockets.get(visitor_id, {}).get(id(ws))
        lock = entry[1] if entry is not None and entry[0] is ws else asyncio.Lock()
        ok = await self._send(ws, lock, frame)
        if not ok:
            self.discard(visitor_id, ws)
        return ok

    async def _send(self, ws: JsonSocket, lock: asyncio.Lock, frame: dict[str, Any]) -> bool:
        try:
            async with lock:
                await asyncio.wait_for(ws.send_json(frame), self._send_timeout)
        except Exception as exc:  # a closed, broken or stuck socket: drop it
            log.info("webchat socket dropped: %s", type(exc).__name__)
            await _close_quietly(ws)
            return False
        return True


async def _close_quietly(ws: JsonSocket) -> None:
    """Close a dropped socket so its tab notices and reconnects; never raises."""
    close = getattr(ws, "close", None)
    if close is None:
        return
    try:
        await asyncio.wait_for(close(code=1011), 1.0)
    except Exception:  # already closed or broken: nothing more to do
        pass


class WebchatSender:
    """The *out* half of the web chat: pushes to the visitor's open tabs."""

    channel = CHANNEL

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    async def send(self, message: Outbound) -> None:
        if message.channel != CHANNEL:
            raise DeliveryError(f"not a webchat message: {message.channel}", permanent=True)
        frame: dict[str, Any] = {"type": "message", "replies": reply_payload([message])}
        if message.message_id is not None:  # the widget shows a message once, pushed or not
            frame["id"] = message.message_id
        if await self.connections.push(message.user_id, frame) == 0:
            raise DeliveryError("visitor not connected")
