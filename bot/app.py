"""The HTTP app: builds the service and mounts each feature's router (`bot/endpoints/`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from channels import webchat

from .cases import callbacks as case_callbacks
from .cases import evidence_routes as case_evidence
from .cases import lists as case_lists
from .cases import page as case_page
from .console import api as console_api
from .console import routes as console_routes
from .console.desk import Desk
from .core import build_core
from .endpoints import errors
from .endpoints import hotline as hotline_routes
from .endpoints import service as service_routes
from .endpoints import telegram as telegram_routes
from .endpoints import webchat as webchat_routes
from .endpoints import wechat as wechat_routes
from .endpoints.common import Service
from .endpoints.limits import BodyLimit
from .hotline import HotlineIntake
from .reports import regulatory as reports_regulatory
from .reports import routes as reports_routes
from .reports import schedule as reports_schedule
from .settings import Settings
from .store import outbox
from .store.channel_state import StoreMemory
from .walkin import routes as walkin_routes

__all__ = ["BodyLimit", "Service", "create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: migrate the store, warm the engine, mount the channels."""
    settings = settings or Settings()
    reports_regulatory.load(settings.regulatory_file)  # a wrong JR/T 0169 file stops start-up
    connections = webchat.Connections()
    core = build_core(settings, {"webchat": webchat.WebchatSender(connections)})
    db, sessions, metrics = core.db, core.sessions, core.metrics
    pipeline, dispatcher = core.pipeline, core.dispatcher
    telegram = None
    if settings.telegram_token is not None:
        from .telegram_service import TelegramChannel

        telegram = TelegramChannel(settings, pipeline, dispatcher,
                                   StoreMemory(sessions, "telegram"))
        dispatcher.senders["telegram"] = telegram.sender
    wechat = None
    if settings.wechat_token is not None:
        from .wechat_service import WeChatChannel

        wechat = WeChatChannel(settings, pipeline, dispatcher, StoreMemory(sessions, "wechat"))
        dispatcher.senders["wechat"] = wechat.sender
    hotline = HotlineIntake(sessions, pipeline.engine, settings, metrics)
    service = Service(settings, sessions, pipeline, dispatcher, metrics, connections, telegram,
                      wechat, hotline, Desk(pipeline, dispatcher.wake), core.bulletin)

    def backlog() -> int:
        with sessions() as session:
            return outbox.backlog(session)

    metrics.watch_backlog(backlog)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        notices = asyncio.create_task(core.bulletin.run(stop))
        reports = asyncio.create_task(reports_schedule.run(service, stop))
        if telegram is not None:
            await telegram.start(stop)
        try:
            yield
        finally:
            stop.set()
            if telegram is not None:
                await telegram.stop()
            if wechat is not None:
                await wechat.stop()
            await task
            await notices
            await reports
            db.dispose()

    docs = {} if settings.docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="Complaint intake", lifespan=lifespan, **docs)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       per_path={hotline_routes.PATH: settings.hotline_max_bytes})
    errors.install(app)
    for routes in (service_routes, webchat_routes, telegram_routes, wechat_routes,
                   hotline_routes, console_routes, console_api, case_page, case_evidence):
        app.include_router(routes.router)
    app.include_router(walkin_routes.router)
    app.include_router(case_lists.router)
    app.include_router(case_callbacks.router)
    app.include_router(reports_routes.router)
    return app
