"""The fake Bot API (`tests/fakes/telegram_api.py`) as its own process, for `bench.telegram`.

    python -m bench.fake_bot_api --token T --port-file FILE

`FakeTelegram` as the tests use it, run on uvloop (when installed) in its own process so that
it does not share a CPU core's worth of Python with the load client, plus what a benchmark
needs:

* `GET /healthz`;
* `WS /bench/sends?lo=A&hi=B`: every successful sendMessage to a chat id in [A, B) is pushed
  to the socket as it is recorded, as JSON arrays of `{"chat", "text", "buttons", "t"}` (`t`:
  `time.monotonic()` when the fake recorded it; CLOCK_MONOTONIC is system-wide on Linux, so
  the load client can compare it with its own clock);
* `GET /bench/stats?since=T0&until=T1`: the Bot API calls whose handling started in the
  window: count, sendMessage count, and the fake's own handling time of sendMessage (from the
  request reaching the route to the response leaving it) p50/p99/max; plus the webhook URL
  set by the last setWebhook and the sends counted since the last reset;
* `POST /bench/reset`: forget everything between two targets.

The fake's lists of calls and sent messages are trimmed as they grow (the benchmark reads the
push feed, not them), so its cost per call does not grow with the run.

Its connections have Nagle's algorithm off (TCP_NODELAY), as those of a server made by
asyncio's `create_server(host, port)` would. The tests' server listens on a socket made with
`socket(AF_INET, SOCK_STREAM)` (proto 0), on whose connections asyncio does not set it, and
uvicorn writes a response's head and body separately: each Bot API call then waited for the
caller's delayed ACK, about 40 ms on Linux. That stall did not show in the fake's handling
time and capped a bot that sends one message at a time (the form bot) at about 22 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import threading
import time
from pathlib import Path
from socket import IPPROTO_TCP, TCP_NODELAY
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.server import ThreadedServer
from tests.fakes.telegram_api import FakeTelegram

_TRIM_AT = 2000


def _labels(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels = []
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict):
                labels.append(str(button.get("text", "")))
            elif isinstance(button, str):
                labels.append(button)
    return labels


def _percentile(ordered: list[float], q: float) -> float | None:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


class NoDelayServer(ThreadedServer):
    """The tests' threaded uvicorn server with TCP_NODELAY on its listening socket, which the
    connections it accepts inherit (Linux)."""

    async def _serve(self) -> None:
        assert self._sock is not None
        self._sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        await super()._serve()


class BenchTelegram(FakeTelegram):
    """FakeTelegram with a push feed of sends, per-call timings and a health route."""

    def __init__(self, token: str) -> None:
        super().__init__(token, strict_webhook=False)  # webhooks at http://127.0.0.1:port
        self._http = NoDelayServer(self.app, "fake-telegram")
        self._subscribers: list[tuple[int, int, asyncio.Queue[dict[str, Any]]]] = []
        self._timings: list[tuple[float, float, str]] = []  # (start, seconds, method)
        self._sent_count = 0
        self.app.router.routes[:0] = [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/bench/stats", self._stats, methods=["GET"]),
            Route("/bench/reset", self._reset, methods=["POST"]),
            WebSocketRoute("/bench/sends", self._feed),
        ]

    async def _endpoint(self, request: Request) -> Response:
        started = time.monotonic()
        response = await super()._endpoint(request)
        self._timings.append((started, time.monotonic() - started,
                              request.path_params["method"].lower()))
        return response

    async def _send_message(self, params: dict[str, Any]) -> Response:
        response = await super()._send_message(params)  # raises ApiError when refused
        chat = params.get("chat_id")
        event = {"chat": chat, "text": params.get("text"),
                 "buttons": _labels(params.get("reply_markup")), "t": time.monotonic()}
        self._sent_count += 1
        for lo, hi, queue in self._subscribers:
            if isinstance(chat, int) and lo <= chat < hi:
                queue.put_nowait(event)
        with self._lock:
            if len(self._sent) > _TRIM_AT:
                self._sent.clear()
                self._calls.clear()
                self._messages.clear()
        return response

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        with self._lock:
            self._messages.clear()
            self._chats.clear()
            self._clear_webhook(True)
        self._timings.clear()
        self._sent_count = 0
        return JSONResponse({"ok": True})

    async def _stats(self, request: Request) -> Response:
        since = float(request.query_params.get("since", "-inf"))
        until = float(request.query_params.get("until", "inf"))
        window = [(s, m) for t, s, m in self._timings if since <= t < until]
        sends = sorted(s for s, m in window if m == "sendmessage")
        return JSONResponse({
            "calls": len(window), "sends": len(sends),
            "send_p50": _percentile(sends, 0.5), "send_p99": _percentile(sends, 0.99),
            "send_max": sends[-1] if sends else None,
            "sent_since_reset": self._sent_count,
            "webhook_url": self.webhook["url"],
        })

    async def _feed(self, socket: WebSocket) -> None:
        lo = int(socket.query_params.get("lo", "0"))
        hi = int(socket.query_params.get("hi", str(2**62)))
        await socket.accept()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        entry = (lo, hi, queue)
        self._subscribers.append(entry)

        async def push() -> None:
            while True:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                await socket.send_text(json.dumps(batch, ensure_ascii=False))

        pusher = asyncio.create_task(push())
        try:
            while True:  # the client sends nothing; this returns when it hangs up
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._subscribers.remove(entry)
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pusher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--port-file", type=Path, required=True,
                        help="where to write the port it listens on")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        pass
    else:  # the server thread's asyncio.run then runs on uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    fake = BenchTelegram(args.token).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(fake.port))
    tmp.replace(args.port_file)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
