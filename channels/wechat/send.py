"""The customer-service message API (`message/custom/send`) through wechatpy's client.

The access token is shared by every worker through the store: WeChat invalidates the old
token when a new one is fetched, so a worker that meets an expired token first looks
whether another worker already fetched a new one, and only fetches itself (under a lock
all workers share) when none did. wechatpy's own retry is off: it re-fetches on every
40001 without limit, which would invalidate the other workers' token each time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from channels.base import ChannelMemory, DeliveryError, Outbound

from . import reply

log = logging.getLogger(__name__)
DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
TOKEN_KEY = "access_token"
PARTS_PREFIX = "parts_sent:"  # memory key prefix: how many parts of a long reply went out
REFRESH_BEFORE = 300  # seconds before expiry a token is renewed
# The customer-service API answers a user only within 48 hours of their last message.
WINDOW = timedelta(hours=48)
WINDOW_MARGIN = timedelta(minutes=5)
TOKEN_ERRORS = {40001, 40014, 42001}
_WINDOW_ERRORS = {45015: "window_closed", 45047: "window_closed", 43004: "unsubscribed",
                  40003: "unknown_user", 43019: "blocked"}


class ApiClient(WeChatClient):
    """wechatpy's client at a configurable API base, taking its token from a TokenKeeper."""

    def __init__(self, appid: str, secret: str, api_base: str = DEFAULT_API_BASE,
                 timeout: float = 10.0) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        self.keeper: TokenKeeper | None = None

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's own fetch names api.weixin.qq.com outright and sets no timeout: a hung
        # token endpoint would stall every send. The base and the timeout must be ours.
        response = self._http.get(
            f"{self.API_BASE_URL}token", timeout=self.timeout,
            params={"grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret})
        if response.status_code >= 400:
            raise WeChatClientException(None, None, client=self, request=response.request,
                                        response=response)
        try:
            result = response.json()
        except ValueError:
            raise WeChatClientException(None, "token endpoint did not answer JSON", client=self,
                                        request=response.request, response=response) from None
        if result.get("errcode"):
            raise WeChatClientException(int(result["errcode"]), result.get("errmsg"),
                                        client=self, request=response.request,
                                        response=response)
        return result

    @property
    def access_token(self) -> str:
        if self.keeper is None:
            raise RuntimeError("ApiClient has no TokenKeeper")
        return self.keeper.current()

    def fetch_media(self, media_id: str, limit: int) -> Media:
        """A temporary media file the user sent (`media/get`; WeChat keeps them 3 days), at
        most `limit` bytes; MediaFailed otherwise. An expired or replaced token is renewed
        once, as for sends."""
        token = self.access_token
        try:
            return self._media(media_id, token, limit)
        except MediaFailed as exc:
            if exc.errcode not in TOKEN_ERRORS or self.keeper is None:
                raise
            return self._media(media_id, self.keeper.refresh(stale=token), limit)

    def _media(self, media_id: str, token: str, limit: int) -> Media:
        try:
            response = self._http.get(f"{self.API_BASE_URL}media/get", timeout=self.timeout,
                                      params={"access_token": token, "media_id": media_id},
                                      stream=True)
        except requests.RequestException as exc:  # its text quotes the URL and the token
            raise MediaFailed(f"WeChat API unreachable: {type(exc).__name__}") from None
        with response:
            if response.status_code >= 400:
                raise MediaFailed(f"WeChat API HTTP error {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaFailed(f"the file has {declared} bytes", too_large=True)
            chunks, total = [], 0
            try:
                for chunk in response.iter_content(65536):
                    total += len(chunk)
                    if total > limit:
                        raise MediaFailed(f"the file is larger than {limit} bytes",
                                          too_large=True)
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise MediaFailed(f"WeChat API unreachable: {type(exc).__name__}") from None
            content = b"".join(chunks)
            kind = response.headers.get("Content-Type", "")
            disposition = response.headers.get("Content-disposition", "")
        if kind.split(";")[0].strip() in ("application/json", "text/plain"):
            # An error, or a video's download link, comes as JSON instead of the file.
            try:
                data = json.loads(content.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("errcode"):
                raise MediaFailed(f"WeChat refused: {data.get('errcode')} {data.get('errmsg')}",
                                  errcode=int(data["errcode"]))
            if isinstance(data, dict):
                raise MediaFailed("WeChat gives this media only as a link (a video)")
        name = disposition.partition("filename=")[2].strip().strip('"') or None
        return Media(content, kind or None, name)


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str | None  # as WeChat said
    name: str | None  # WeChat's file name (the media id and a suffix)


class MediaFailed(Exception):
    """A media file could not be had: `reason` says why (no secrets in it)."""

    def __init__(self, reason: str, *, too_large: bool = False,
                 errcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.too_large, self.errcode = reason, too_large, errcode


class TokenKeeper:
    """The account's access token: cached here, shared through the store, renewed once."""

    def __init__(self, memory: ChannelMemory, fetch: Callable[[], dict[str, Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self._memory = memory
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def current(self) -> str:
        if self._token and self._expires_at - self._clock() > REFRESH_BEFORE:
            return self._token
        if self._adopt_stored(stale=None):
            return self._token  # type: ignore[return-value]
        return self.refresh(stale=self._token)

    def refresh(self, stale: str | None) -> str:
        """A new token unless another worker already replaced `stale`."""
        with self._memory.lock(TOKEN_KEY):
            if self._adopt_stored(stale=stale):
                return self._token  # type: ignore[return-value]
            result = self._fetch()
            token = result.get("access_token")
            if not isinstance(token, str) or not token:
                raise DeliveryError("token endpoint gave no access_token")
            expires_at = self._clock() + float(result.get("expires_in") or 7200)
            self._memory.set(TOKEN_KEY, json.dumps({"token": token,
                                                    "expires_at": expires_at}))
            self._token, self._expires_at = token, expires_at
            log.info("fetched a new WeChat access token")
            return token

    def _adopt_stored(self, stale: str | None) -> bool:
        stored = self._memory.get(TOKEN_KEY)
        if not stored:
            return False
        try:
            data = json.loads(stored)
            token, expires_at = str(data["token"]), float(data["expires_at"])
        except (ValueError, KeyError, TypeError):
            return False
        if token == stale or expires_at - self._clock() <= REFRESH_BEFORE:
            return False
        self._token, self._expires_at = token, expires_at
        return True


class WeChatSender:
    """The *out* half: one reply as one or more customer-service text messages."""

    channel = "wechat"

    def __init__(self, client: ApiClient, memory: ChannelMemory,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.memory = memory
        self.tokens = TokenKeeper(memory, client.fetch_access_token)
        client.keeper = self.tokens
        self._clock = clock or (lambda: datetime.now(UTC))

    async def send(self, message: Outbound) -> None:
        if message.queued_at is not None and \
                self._clock() - message.queued_at > WINDOW - WINDOW_MARGIN:
            raise DeliveryError("outside WeChat's 48-hour customer-service window",
                                permanent=True, code="window_closed")
        parts = reply.split(reply.render(message))
        # A long reply goes out in parts; a retry after a failed part resumes after the
        # parts already delivered, so the customer never reads one twice.
        progress = f"{PARTS_PREFIX}{message.ref}" if len(parts) > 1 and message.ref else None
        done = int(self.memory.get(progress) or 0) if progress else 0
        for index in range(done, len(parts)):
            await asyncio.to_thread(self._send_text, message.user_id, parts[index])
            if progress:
                self.memory.set(progress, str(index + 1))

    def _send_text(self, openid: str, text: str) -> None:
        try:
            try:
                self.client.message.send_text(openid, text)
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_ERRORS:
                    raise
                # Expired or replaced: renew once (or take the one another worker fetched
                # since this request read its token) and try again.
                self.tokens.refresh(stale=_token_used(exc) or self.tokens.current())
                self.client.message.send_text(openid, text)
        except WeChatClientException as exc:
            raise _delivery_error(exc) from None
        except requests.RequestException as exc:
            raise DeliveryError(f"WeChat API unreachable: {type(exc).__name__}") from None


def _token_used(exc: WeChatClientException) -> str | None:
    """The access token the failed request carried (in its URL)."""
    url = getattr(exc.request, "url", None)
    if not isinstance(url, str):
        return None
    values = parse_qs(urlsplit(url).query).get("access_token")
    return values[0] if values else None


def _delivery_error(exc: WeChatClientException) -> DeliveryError:
    code = exc.errcode
    if code in _WINDOW_ERRORS:
        return DeliveryError(f"WeChat refused: {code} {exc.errmsg}", permanent=True,
                             code=_WINDOW_ERRORS[code])
    if code in (45009, 45011, -1):  # rate limited or WeChat busy: later
        return DeliveryError(f"WeChat busy: {code} {exc.errmsg}", retry_after=30)
    if code is None:
        status = getattr(exc.response, "status_code", None)
        return DeliveryError(f"WeChat API HTTP error {status}")
    return DeliveryError(f"WeChat API error {code} {exc.errmsg}")
