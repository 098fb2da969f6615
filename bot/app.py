"""The HTTP app: builds the service and mounts each feature's router (`bot/endpoints/`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels import webchat

from .console import api as console_api
from .console import routes as console_routes
from .console.desk import Desk
from .core import build_core
from .endpoints import hotline as hotline_routes
from .endpoints import service as service_routes
from .endpoints import telegram as telegram_routes
from .endpoints import webchat as webchat_routes
from .endpoints import wechat as wechat_routes
from .endpoints.common import Service, StoreUnavailable, unavailable_response
from .hotline import HotlineIntake
from .settings import Settings
from .store import outbox
from .store.channel_state import StoreMemory
from .store.db import unavailable

__all__ = ["BodyLimit", "Service", "create_app"]
log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, declared or streamed; `per_path`
    sets other limits for some paths (transcripts of long calls are larger than chats)."""

    def __init__(self, app: ASGIApp, limit: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: migrate the store, warm the engine, mount the channels."""
    settings = settings or Settings()
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
            db.dispose()

    docs = {} if settings.docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="Complaint intake", lifespan=lifespan, **docs)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       per_path={hotline_routes.PATH: settings.hotline_max_bytes})
    _error_handlers(app)
    for routes in (service_routes, webchat_routes, telegram_routes, wechat_routes,
                   hotline_routes, console_routes, console_api):
        app.include_router(routes.router)
    return app


def _error_handlers(app: FastAPI) -> None:
    """The store down or too slow is a 503 the client can retry, never a 500; a 500 closes
    the connection, so nothing half-read stays on it."""

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return unavailable_response(str(exc) if isinstance(exc, StoreUnavailable)
                                    else "the store is unavailable")

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if unavailable(exc):
            return await store_unavailable(request, exc)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _server_error()

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _server_error()

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own checks (query and header parameters): one readable sentence, in the
        # same {"detail": str} shape as every other error.
        problems = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                           for e in problems) or "invalid request"
        return JSONResponse({"detail": detail[:500]}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(PoolTimeout, store_unavailable)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(Exception, server_error)


def _server_error() -> JSONResponse:
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500,
                        headers={"Connection": "close"})
