"""The WeChat channel inside the service: verification, pushes, passive replies or the API.

WeChat waits 5 seconds for an answer and then retries the same push (3 times in all).
A push is committed first; its replies are held back from the outbox for a moment, and if
they are ready within INTAKE_WECHAT_REPLY_SECONDS the response carries them (a passive
reply). Otherwise the response is `success` and the outbox sends them through the
customer-service API. Which of the two gets them is settled in the store, so a reply goes
out one way only, whichever request or worker gets there first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from channels.wechat import (
    ApiClient,
    WeChatSecurity,
    WeChatSender,
    combine,
    fits,
    parse_message,
    passive_reply,
)

from .dispatcher import Dispatcher
from .pipeline import Handled, Pipeline
from .settings import Settings
from .store.channel_state import StoreMemory

log = logging.getLogger(__name__)
SUCCESS = "success"  # WeChat's "received, the answer comes later"
# Replies stay held this much longer than the reply budget, so that the dispatcher cannot
# take them while the request is still deciding.
HOLD_MARGIN = 2.0


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
        task = asyncio.ensure_future(run_in_threadpool(
            self.pipeline.handle, inbound, hold_seconds=budget + HOLD_MARGIN))
        try:
            handled = await asyncio.wait_for(asyncio.shield(task), timeout=budget)
        except TimeoutError:
            # Too slow for a passive reply: WeChat gets `success`, the outbox the replies.
            task.add_done_callback(self._release_when_done)
            return SUCCESS, "text/plain"
        self.dispatcher.wake()
        if not handled.replies:
            return SUCCESS, "text/plain"
        text = combine(handled.replies)
        if fits(text) and time.monotonic() - started < budget:
            if await run_in_threadpool(self.pipeline.take_for_response, handled):
                self.pipeline.metrics.messages_out.labels("wechat").inc(len(handled.replies))
                raw = inbound.raw or {}
                xml = passive_reply(text, to_user=inbound.user_id,
                                    from_user=str(raw.get("ToUserName", "")),
                                    create_time=int(time.time()))
                return self.security.seal(xml, opened), "application/xml"
        else:
            await run_in_threadpool(self.pipeline.release, handled)
            self.dispatcher.wake()
        return SUCCESS, "text/plain"

    def _release_when_done(self, task: asyncio.Future[Handled]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            # Nothing was committed: WeChat's retry of this push is handled afresh.
            log.error("WeChat push failed after its response: %r", task.exception())
            return
        release = asyncio.ensure_future(run_in_threadpool(self.pipeline.release, task.result()))
        release.add_done_callback(lambda _: self.dispatcher.wake())
