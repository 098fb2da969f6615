"""A fake of WeChat's Official Account API server: a Starlette app served by uvicorn in a thread.

Usage from sync tests::

    with FakeWeChat(appid="wx5f0c1d2e3a4b6c7d", secret="s3cret") as wx:
        ...  # a client whose API base is wx.base_url ("http://127.0.0.1:PORT/cgi-bin/")
        [sent] = wx.wait_for_sent(1, timeout=5)
        assert sent.openid == "oUser" and sent.content == "收到"

Beware: wechatpy 1.8.18's ``WeChatClient.fetch_access_token`` ignores ``API_BASE_URL`` and
always asks https://api.weixin.qq.com/cgi-bin/token; the client must override it (see
``test_wechat_fakes.py``).

Implemented: ``GET /cgi-bin/token`` (client_credential), ``POST /cgi-bin/message/custom/send``
(text only) and ``GET /cgi-bin/media/get`` (temporary media registered with ``add_media``: the
file with its Content-Type and ``Content-disposition: attachment; filename="<media_id>.<ext>"``,
or 40007 ``invalid media_id``). Answers are HTTP 200 with a JSON ``errcode``/``errmsg``, as
WeChat's are; only ``set_down`` produces an HTTP error. A new token invalidates every earlier
one (WeChat's documented behaviour for ``/cgi-bin/token``; ``grace_seconds`` emulates its
overlap window).
Not emulated: the 48-hour / 5-message and 1-minute / 3-message windows (close them by hand with
``close_window``), quotas (inject 45009 with ``fail_next``), ``/cgi-bin/stable_token``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import ThreadedServer

JSONDict = dict[str, Any]

INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
EXPIRED_TOKEN = (42001, "access_token expired")
OUT_OF_WINDOW = (45015, "response out of time limit or subscription is canceled")

_SERVICE_UNAVAILABLE_HTML = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


@dataclass(frozen=True)
class Call:
    """One request as it arrived: what wechatpy really put on the wire."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class SentMessage:
    openid: str
    content: str
    token: str
    at: float  # time.time() when accepted


@dataclass(frozen=True)
class Rejected:
    openid: str | None
    content: str | None
    token: str | None
    errcode: int
    errmsg: str
    at: float


@dataclass
class _Token:
    issued: float  # time.monotonic()
    replaced: float | None = None  # when a newer token was issued
    expired: bool = False


def _error(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


class FakeWeChat:
    """The fake API and its test controls; every control is thread-safe."""

    def __init__(
        self,
        appid: str = "wx5f0c1d2e3a4b6c7d",
        secret: str = "0123456789abcdef0123456789abcdef",
        *,
        expires_in: int = 7200,
        grace_seconds: float = 0.0,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.expires_in = expires_in
        self.grace_seconds = grace_seconds
        self._lock = threading.RLock()
        self._sent_cond = threading.Condition(self._lock)
        self._tokens: dict[str, _Token] = {}
        self._current: str | None = None
        self._token_fetches = 0
        self._calls: list[Call] = []
        self._sent: list[SentMessage] = []
        self._rejected: list[Rejected] = []
        self._failures: list[list[Any]] = []  # [errcode, errmsg, times left]
        self._delays: list[list[float]] = []  # [seconds, times left]
        self._closed: set[str] = set()
        self._media: dict[str, tuple[bytes, str, str]] = {}  # id -> content, type, suffix
        self._down = False
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/token", self._token_endpoint, methods=["GET"]),
                Route("/cgi-bin/message/custom/send", self._send_endpoint, methods=["POST"]),
                Route("/cgi-bin/media/get", self._media_endpoint, methods=["GET"]),
                Route("/{rest:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )
        self._http = ThreadedServer(self.app, "fake-wechat")

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base, as ``WeChatClient.API_BASE_URL`` expects it (trailing slash)."""
        return f"{self.url}/cgi-bin/"

    def start(self) -> FakeWeChat:
        self.port = self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- inspection

    @property
    def token_fetches(self) -> int:
        """Tokens issued (failed fetches are only in ``calls``)."""
        with self._lock:
            return self._token_fetches

    @property
    def current_token(self) -> str | None:
        with self._lock:
            return self._current

    @property
    def calls(self) -> list[Call]:
        """Every request, failed ones included."""
        with self._lock:
            return list(self._calls)

    @property
    def sent(self) -> list[SentMessage]:
        """Accepted custom/send messages, in order."""
        with self._lock:
            return list(self._sent)

    @property
    def rejected(self) -> list[Rejected]:
        """custom/send attempts answered with a non-zero errcode."""
        with self._lock:
            return list(self._rejected)

    def messages_to(self, openid: str) -> list[str]:
        return [m.content for m in self.sent if m.openid == openid]

    def wait_for_sent(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until at least ``n`` messages were accepted; return all accepted so far."""
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            while len(self._sent) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    texts = [m.content for m in self._sent]
                    raise AssertionError(
                        f"expected {n} sent messages within {timeout}s, got {len(texts)}: {texts}"
                    )
                self._sent_cond.wait(remaining)
            return list(self._sent)

    def add_media(self, content: bytes, *, content_type: str = "image/jpeg",
                  suffix: str = ".jpg", media_id: str | None = None) -> str:
        """A temporary media file (what a user's image or voice message names by MediaId)."""
        media_id = media_id or secrets.token_urlsafe(48)  # real ones: 64 characters
        with self._lock:
            self._media[media_id] = (content, content_type, suffix)
        return media_id

    # ---------------------------------------------------------------- fault injection

    def expire_token(self) -> None:
        """The current token answers 42001 from now on."""
        with self._lock:
            if self._current is not None:
                self._tokens[self._current].expired = True

    def fail_next(self, errcode: int, errmsg: str, times: int = 1) -> None:
        """The next ``times`` custom/send calls answer this error, whatever they carry."""
        with self._lock:
            self._failures.append([errcode, errmsg, times])

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` custom/send answers for ``seconds`` (client timeouts)."""
        with self._lock:
            self._delays.append([seconds, times])

    def close_window(self, openid: str) -> None:
        """Sends to ``openid`` answer 45015 until ``open_window``."""
        with self._lock:
            self._closed.add(openid)

    def open_window(self, openid: str) -> None:
        with self._lock:
            self._closed.discard(openid)

    def set_down(self, down: bool) -> None:
        """While down, every request gets HTTP 503 with an HTML page (as from a proxy)."""
        with self._lock:
            self._down = down

    # ---------------------------------------------------------------- server side

    async def _record(self, request: Request) -> Call:
        call = Call(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            content_type=request.headers.get("content-type"),
            body=await request.body(),
        )
        with self._lock:
            self._calls.append(call)
        return call

    def _unavailable(self) -> Response:
        return Response(_SERVICE_UNAVAILABLE_HTML, status_code=503, media_type="text/html")

    async def _not_found(self, request: Request) -> Response:
        await self._record(request)
        return Response("Not Found", status_code=404)

    async def _token_endpoint(self, request: Request) -> Response:
        q = (await self._record(request)).query
        with self._lock:
            if self._down:
                return self._unavailable()
            if q.get("grant_type") != "client_credential":
                return _error(40002, "invalid grant_type")
            if not q.get("appid"):
                return _error(41002, "appid missing")
            if q["appid"] != self.appid:
                return _error(40013, "invalid appid")
            if not q.get("secret"):
                return _error(41004, "appsecret missing")
            if q["secret"] != self.secret:
                return _error(40125, "invalid appsecret")
            now = time.monotonic()
            for record in self._tokens.values():
                if record.replaced is None:
                    record.replaced = now
            token = secrets.token_urlsafe(96)  # real ones: ~136 characters of [A-Za-z0-9_-]
            self._tokens[token] = _Token(issued=now)
            self._current = token
            self._token_fetches += 1
        return JSONResponse({"access_token": token, "expires_in": self.expires_in})

    def _token_error(self, token: str | None) -> tuple[int, str] | None:
        if not token:
            return 41001, "access_token missing"
        record = self._tokens.get(token)
        now = time.monotonic()
        if record is None:
            return INVALID_CREDENTIAL
        if record.replaced is not None and now - record.replaced >= self.grace_seconds:
            return INVALID_CREDENTIAL
        if record.expired or now - record.issued >= self.expires_in:
            return EXPIRED_TOKEN
        return None

    @staticmethod
    def _parse_send(body: bytes) -> tuple[str | None, str | None, tuple[int, str] | None]:
        # wechatpy posts json.dumps(..., ensure_ascii=False).encode() with no Content-Type.
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, None, (47001, "data format error")
        if not isinstance(data, dict):
            return None, None, (47001, "data format error")
        openid = data.get("touser")
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(openid, str) or not openid:
            return None, content, (40003, "invalid openid")
        if data.get("msgtype") != "text":
            return openid, content, (40008, "invalid message type")
        if not isinstance(content, str) or not content:
            return openid, None, (44004, "empty content")
        return openid, content, None

    async def _send_endpoint(self, request: Request) -> Response:
        call = await self._record(request)
        token = call.query.get("access_token")
        with self._lock:
            if self._down:
                return self._unavailable()
            delay = self._take(self._delays)
        if delay is not None:
            await asyncio.sleep(delay[0])
        openid, content, error = self._parse_send(call.body)
        with self._lock:
            failure = self._take(self._failures)
            if failure is not None:
                error = (failure[0], failure[1])
            else:
                error = self._token_error(token) or error
                if error is None and openid in self._closed:
                    error = OUT_OF_WINDOW
            if error is not None:
                self._rejected.append(
                    Rejected(openid, content, token, error[0], error[1], time.time())
                )
                return _error(*error)
            assert openid is not None and content is not None and token is not None
            self._sent.append(SentMessage(openid, content, token, time.time()))
            self._sent_cond.notify_all()
        return _error(0, "ok")

    async def _media_endpoint(self, request: Request) -> Response:
        q = (await self._record(request)).query
        with self._lock:
            if self._down:
                return self._unavailable()
            error = self._token_error(q.get("access_token"))
            if error is not None:
                return _error(*error)
            found = self._media.get(q.get("media_id") or "")
        if found is None:
            return _error(40007, "invalid media_id")
        content, content_type, suffix = found
        return Response(content, media_type=content_type, headers={
            "Content-disposition": f'attachment; filename="{q["media_id"]}{suffix}"',
            "Cache-Control": "no-cache, must-revalidate"})

    @staticmethod
    def _take(queue: list[list[Any]]) -> list[Any] | None:
        if not queue:
            return None
        entry = queue[0]
        entry[-1] -= 1
        if entry[-1] <= 0:
            queue.pop(0)
        return entry
