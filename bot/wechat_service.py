"""The WeChat channel inside the service: verification, pushes, passive replies or the API.

WeChat waits 5 seconds for an answer and then retries the same push (3 times in all).
A push is committed first; its replies are held back from the outbox for a moment, and if
they are ready within INTAKE_WECHAT_REPLY_SECONDS the response carries them (a passive
reply). Otherwise the response is `success` and the outbox sends them through the
customer-service API. Which of the two gets them is settled in the store, so a reply goes
out one way only, whichever request or worker gets there first. A retry of a push proves
WeChat never received the earlier answer, so its replies are given again, passively or
through the API. A push answered `success` before it was committed is finished in the
background (retried, and kept in channel_state if the store stays down): WeChat will not
send it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from channels.base import Inbound, InvalidPayload
from channels.wechat import (
    ApiClient,
    WeChatSecurity,
    WeChatSender,
    combine,
    fits,
    parse_message,
    passive_reply,
)
from workflow.extract.sensitive import find_sensitive, redact

from .dispatcher import Dispatcher
from .pipeline import Handled, Pipeline
from .settings import Settings
from .store.channel_state import StoreMemory

log = logging.getLogger(__name__)
SUCCESS = "success"  # WeChat's "received, the answer comes later"
# Replies stay held this much longer than the reply budget, so that the dispatcher cannot
# take them while the request is still deciding.
HOLD_MARGIN = 2.0
# A push answered `success` but not yet committed is retried this many times (backing off
# to 30 s between tries), then kept in channel_state for an operator: never dropped.
BACKGROUND_ATTEMPTS = 6


class WeChatChannel:
    def __init__(self, settings: Settings, pipeline: Pipeline, dispatcher: Dispatcher,
                 memory: StoreMemory) -> None:
        if settings.wechat_token is None:
            raise ValueError("INTAKE_WECHAT_TOKEN is not set")
        if not settings.wechat_appid or settings.wechat_secret is None:
            raise ValueError("the WeChat channel needs INTAKE_WECHAT_APPID and "
                             "INTAKE_WECHAT_SECRET (replies after 5 seconds go through "
                             "the customer-service API)")
        aes_key = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        self.security = WeChatSecurity(settings.wechat_token.get_secret_value(),
                                       settings.wechat_appid, aes_key)
        self.client = ApiClient(settings.wechat_appid, settings.wechat_secret.get_secret_value(),
                                settings.wechat_api_base)
        self.sender = WeChatSender(self.client, memory)
        self.settings = settings
        self.pipeline = pipeline
        self.dispatcher = dispatcher
        self.memory = memory
        self._background: set[asyncio.Task[None]] = set()

    def verify(self, params: Mapping[str, str]) -> str:
        """WeChat's server-URL check: the echostr, when the signature holds."""
        return self.security.verify_url(params)

    async def receive(self, body: bytes, params: Mapping[str, str]) -> tuple[str, str]:
        """One verified push: (body, media type) of the answer WeChat gets.

        Raises BadSignature (403) or InvalidPayload (400) with nothing stored.
        """
        opened = self.security.open(body, params)
        inbound = parse_message(opened.xml, datetime.now(UTC))
        if inbound is None:
            return SUCCESS, "text/plain"
        budget = self.settings.wechat_reply_seconds
        started = time.monotonic()
        deadline = datetime.now(UTC) + timedelta(seconds=budget)
        task = asyncio.ensure_future(self.pipeline.handle_async(
            inbound, hold_seconds=budget + HOLD_MARGIN))
        try:
            handled = await asyncio.wait_for(asyncio.shield(task), timeout=budget)
        except TimeoutError:
            # Too slow for a passive reply: WeChat gets `success`, and from then on the
            # push is ours to finish, since WeChat will not send it again.
            self._keep(self._finish(task, inbound))
            return SUCCESS, "text/plain"
        if handled.replies:
            text = combine(handled.replies)
            if fits(text) and time.monotonic() - started < budget and await run_in_threadpool(
                    self.pipeline.take_for_response, handled, deadline):
                self.pipeline.metrics.messages_out.labels("wechat").inc(len(handled.replies))
                xml = passive_reply(text, to_user=inbound.user_id,
                                    from_user=str((inbound.raw or {}).get("ToUserName", "")),
                                    create_time=int(time.time()))
                return self.security.seal(xml, opened), "application/xml"
            await run_in_threadpool(self.pipeline.release, handled)
        self.dispatcher.wake()
        return SUCCESS, "text/plain"

    async def stop(self, timeout: float = 20.0) -> None:
        """Finish the pushes already answered `success` before the service stops."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    def _keep(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish(self, first: asyncio.Future[Handled], inbound: Inbound) -> None:
        """Commit a push WeChat was told we have, retrying; park it if the store stays down."""
        handled: Handled | None = None
        try:
            handled = await first
        except InvalidPayload as exc:  # retrying cannot help
            log.error("WeChat push %s refused after its answer: %s", inbound.message_id,
                      exc.detail)
            await run_in_threadpool(self._park, inbound)
            return
        except Exception as exc:
            log.warning("WeChat push %s failed after its answer (%s); retrying",
                        inbound.message_id, type(exc).__name__)
        for attempt in range(1, BACKGROUND_ATTEMPTS):
            if handled is not None:
                break
            await asyncio.sleep(min(2.0 ** attempt, 30.0))
            try:
                handled = await self.pipeline.handle_async(inbound)
            except Exception as exc:
                log.warning("WeChat push %s: attempt %s failed (%s)", inbound.message_id,
                            attempt + 1, type(exc).__name__)
        if handled is None:
            await run_in_threadpool(self._park, inbound)
            return
        await run_in_threadpool(self.pipeline.release, handled)
        self.dispatcher.wake()

    def _park(self, inbound: Inbound) -> None:
        """Keep a push that could not be committed, masked, for someone to replay."""
        masked = redact(inbound.text, find_sensitive(inbound.text))
        record = json.dumps({"user": inbound.user_id, "message_id": inbound.message_id,
                             "kind": inbound.kind, "text": masked,
                             "at": inbound.timestamp.isoformat()}, ensure_ascii=False)
        try:
            self.memory.set(f"unprocessed:{inbound.message_id}", record)
            log.error("WeChat push %s could not be processed; kept in channel_state "
                      "wechat:unprocessed:%s", inbound.message_id, inbound.message_id)
        except Exception:
            # The store itself is down: the log is the last place left.
            log.error("WeChat push could not be processed or kept: %s", record)
