"""The HTTP app: health, metrics, the demo page and the web chat channel's routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels import webchat
from channels.base import BadSignature, InvalidPayload

if TYPE_CHECKING:
    from .telegram_service import TelegramChannel
    from .wechat_service import WeChatChannel

from .core import build_core
from .dispatcher import Dispatcher
from .hotline import HotlineIntake
from .metrics import Metrics
from .pipeline import Pipeline
from .settings import Settings
from .store import conversations, outbox
from .store.channel_state import StoreMemory

log = logging.getLogger(__name__)
HOTLINE_PATH = "/channels/hotline/transcripts"


@dataclass
class Service:
    """Everything one running app holds; built once per app, never module-global."""

    settings: Settings
    sessions: sessionmaker[Session]
    pipeline: Pipeline
    dispatcher: Dispatcher
    metrics: Metrics
    connections: webchat.Connections
    telegram: TelegramChannel | None = None
    wechat: WeChatChannel | None = None
    hotline: HotlineIntake | None = None


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
                      wechat, hotline)

    def backlog() -> int:
        with sessions() as session:
            return outbox.backlog(session)

    metrics.watch_backlog(backlog)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
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
            db.dispose()

    app = FastAPI(title="Complaint intake", lifespan=lifespan)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       per_path={HOTLINE_PATH: settings.hotline_max_bytes})
    _routes(app, service)
    return app


def _routes(app: FastAPI, service: Service) -> None:
    pipeline, sessions = service.pipeline, service.sessions

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # report, do not raise: this is what probes read
            return JSONResponse({"status": "error", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", response_class=HTMLResponse)
    def demo() -> HTMLResponse:
        return HTMLResponse(_static("demo.html"))

    @app.get("/channels/webchat/widget.js")
    def widget() -> Response:
        return Response(_static("widget.js"), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    @app.post("/channels/webchat/messages")
    async def webchat_message(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)
        try:
            inbound = webchat.parse_http_message(data, datetime.now(UTC))
        except InvalidPayload as exc:
            return JSONResponse({"detail": exc.detail}, status_code=422)
        try:
            handled = await run_in_threadpool(pipeline.handle, inbound, answered_inline=True)
        except InvalidPayload as exc:  # a message id another visitor used
            return JSONResponse({"detail": exc.detail}, status_code=409)
        return JSONResponse({"replies": webchat.reply_payload(list(handled.replies)),
                             "waiting_for": handled.waiting_for,
                             "duplicate": handled.duplicate})

    @app.get("/channels/webchat/history")
    def webchat_history(visitor_id: str = Query(..., max_length=64)) -> JSONResponse:
        try:
            webchat.validate_visitor_id(visitor_id)
        except InvalidPayload as exc:
            return JSONResponse({"detail": exc.detail}, status_code=422)
        with sessions() as session:
            rows = conversations.history(session, "webchat", visitor_id)
            messages = []
            for m in rows:
                item = {"id": m.id, "direction": m.direction, "text": m.text,
                        "quick_replies": m.quick_replies or [], "at": m.created_at.isoformat()}
                if m.direction == "in" and m.external_id:
                    item["client_message_id"] = m.external_id
                messages.append(item)
        return JSONResponse({"messages": messages})

    @app.post("/channels/telegram/webhook")
    async def telegram_webhook(request: Request) -> JSONResponse:
        telegram = service.telegram
        if telegram is None or not telegram.webhook_mode:
            return JSONResponse({"detail": "the Telegram webhook is not configured"},
                                status_code=404)
        if not telegram.secret_matches(request.headers.get("x-telegram-bot-api-secret-token")):
            return JSONResponse({"detail": "wrong or missing secret token"}, status_code=403)
        try:
            data = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)
        try:
            await telegram.handle_update(data)
        except InvalidPayload as exc:
            return JSONResponse({"detail": exc.detail}, status_code=400)
        return JSONResponse({"ok": True})

    @app.get("/channels/wechat")
    def wechat_verify(request: Request) -> Response:
        if service.wechat is None:
            return JSONResponse({"detail": "the WeChat channel is not configured"},
                                status_code=404)
        try:
            echostr = service.wechat.verify(request.query_params)
        except BadSignature:
            return JSONResponse({"detail": "signature does not match"}, status_code=403)
        except InvalidPayload as exc:
            return JSONResponse({"detail": exc.detail}, status_code=400)
        return Response(echostr, media_type="text/plain")

    @app.post("/channels/wechat")
    async def wechat_push(request: Request) -> Response:
        if service.wechat is None:
            return JSONResponse({"detail": "the WeChat channel is not configured"},
                                status_code=404)
        try:
            body, media_type = await service.wechat.receive(await request.body(),
                                                            request.query_params)
        except BadSignature as exc:
            return JSONResponse({"detail": str(exc)}, status_code=403)
        except InvalidPayload as exc:
            return JSONResponse({"detail": exc.detail}, status_code=400)
        return Response(body, media_type=media_type)

    @app.post(HOTLINE_PATH)
    async def hotline_transcript(request: Request,
                                 name: str = Query("api", max_length=200)) -> JSONResponse:
        """One call's transcript (JSON, speaker-labelled text or WebVTT) from the call centre."""
        key = service.settings.hotline_api_key
        if key is None:
            return JSONResponse({"detail": "the hotline API is not configured "
                                 "(INTAKE_HOTLINE_API_KEY)"}, status_code=404)
        given = _api_key(request)
        if given is None:
            return JSONResponse({"detail": "an API key is required (Authorization: Bearer ...)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
            return JSONResponse({"detail": "wrong API key"}, status_code=403)
        assert service.hotline is not None
        result = await run_in_threadpool(service.hotline.ingest, await request.body(), name)
        body = {"status": result.status, "case_number": result.case_number,
                "priority": result.priority, "missing": list(result.missing)}
        if result.status == "failed":
            return JSONResponse({"detail": result.reason, **body}, status_code=422)
        if result.status == "skipped":
            return JSONResponse({**body, "detail": result.reason}, status_code=200)
        return JSONResponse(body, status_code=201)

    @app.websocket("/channels/webchat/ws")
    async def webchat_socket(socket: WebSocket) -> None:
        visitor_id = socket.query_params.get("visitor_id", "")
        try:
            webchat.validate_visitor_id(visitor_id)
        except InvalidPayload as exc:
            await socket.close(code=1008, reason=exc.detail[:120])
            return
        await socket.accept()
        service.connections.add(visitor_id, socket)
        service.dispatcher.wake()  # anything queued for this visitor can go now
        try:
            while True:
                data = await _receive_json(socket, service.settings.max_body_bytes)
                if data is None:
                    continue
                try:
                    inbound = webchat.parse_ws_message(data, visitor_id, datetime.now(UTC))
                except InvalidPayload as exc:
                    frame = {"type": "error", "detail": exc.detail}
                    if isinstance(data, dict) and isinstance(data.get("client_message_id"), str):
                        frame["in_reply_to"] = data["client_message_id"][:64]
                    await service.connections.send_to(visitor_id, socket, frame)
                    continue
                try:
                    handled = await run_in_threadpool(pipeline.handle, inbound,
                                                      answered_inline=True)
                except InvalidPayload as exc:
                    await service.connections.send_to(visitor_id, socket, {
                        "type": "error", "detail": exc.detail,
                        "in_reply_to": inbound.message_id})
                    continue
                await service.connections.send_to(visitor_id, socket, {
                    "type": "replies", "in_reply_to": inbound.message_id,
                    "replies": webchat.reply_payload(list(handled.replies)),
                    "waiting_for": handled.waiting_for})
        except WebSocketDisconnect:
            pass
        finally:
            service.connections.discard(visitor_id, socket)


async def _receive_json(socket: WebSocket, limit: int) -> Any:
    """The next frame as JSON; a malformed frame is answered with an error, not a hang-up.

    Frames are held to the same size limit as HTTP bodies (INTAKE_MAX_BODY_BYTES)."""
    raw = await socket.receive_text()
    if len(raw.encode()) > limit:
        await socket.send_json({"type": "error", "detail": f"frame larger than {limit} bytes"})
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        await socket.send_json({"type": "error", "detail": f"frame is not valid JSON: {exc}"})
        return None


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return request.headers.get("x-api-key") or None


def _static(name: str) -> str:
    return resources.files("channels.webchat").joinpath("static", name).read_text("utf-8")
