"""The web chat's routes: the widget script, messages over HTTP and WebSocket, history.

The visitor id is the chat's only credential, so it never travels in a URL (browser
history, proxy and server logs keep URLs): HTTP takes it in the body or the `X-Visitor-Id`
header, the socket in its first frame. An id idle longer than INTAKE_WEBCHAT_IDLE_DAYS is
expired (401 / close 4401): the widget makes a new one and starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from channels import webchat
from channels.base import InvalidPayload
from channels.wire import UnsafeJson, load_json
from workflow import catalog

from ..pipeline import Expired
from ..store import conversations, outbox
from .common import (
    Service,
    StoreUnavailable,
    error,
    errors,
    json_body,
    pipeline_call,
    service_of,
    store_call,
)
from .service import static

log = logging.getLogger(__name__)
router = APIRouter(prefix="/channels/webchat", tags=["web chat"])
HELLO_SECONDS = 10.0      # a socket that does not say who it is by then is closed
CLOSE_POLICY = 1008       # no or bad visitor id
CLOSE_EXPIRED = 4401      # the visitor id has expired: make a new one
CLOSE_UNSUPPORTED = 1003  # binary frames
CLOSE_INVALID = 1007      # hostile JSON (too deep, huge numbers, NaN, lone surrogates)
CLOSE_TOO_BIG = 1009


class MessageIn(BaseModel):
    visitor_id: str = Field(pattern=r"^[A-Za-z0-9_-]{22,64}$")
    text: str = Field(min_length=1, max_length=webchat.MAX_TEXT)
    client_message_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    lang: str | None = Field(None, pattern="^(zh|en)$")


class ReplyOut(BaseModel):
    text: str
    quick_replies: list[dict[str, str]]


class RepliesOut(BaseModel):
    replies: list[ReplyOut]
    waiting_for: str | None
    duplicate: bool
    masked_text: str | None = Field(None, description="the message as stored, when an ID "
                                    "or card number in it was masked")


class HistoryItem(BaseModel):
    id: int
    direction: str
    text: str
    quick_replies: list[dict[str, str]]
    at: str
    client_message_id: str | None = None


class HistoryOut(BaseModel):
    messages: list[HistoryItem]


class WelcomeOut(BaseModel):
    text: str
    quick_replies: list[dict[str, str]]


# The greeting's starter buttons: each sends its label, which the engine understands.
WELCOME_KEYS = ("welcome.complain", "welcome.status", "welcome.human")


def _max_idle(service: Service) -> timedelta:
    return timedelta(days=service.settings.webchat_idle_days)


@router.get("/widget.js", response_class=Response)
def widget() -> Response:
    """The widget: one script tag on any page."""
    return Response(static("widget.js"), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/welcome", responses={200: {"model": WelcomeOut, "description": "the greeting"},
                                   **errors(422)})
def welcome(lang: Literal["zh", "en"] = Query("zh", description="the page's language")
            ) -> JSONResponse:
    """What the widget shows when a visitor without history opens it: the greeting with the
    privacy notice, and starter buttons. Not stored: it is no message of the conversation.
    The texts are the engine's catalogs, so an institution corrects them in one place."""
    text = catalog.text(lang, "greeting") + "\n" + catalog.text(lang, "privacy")
    starters = [catalog.text(lang, key) for key in WELCOME_KEYS]
    return JSONResponse({"text": text,
                         "quick_replies": [{"label": s, "payload": s} for s in starters]})


@router.post("/messages", openapi_extra=json_body(MessageIn.model_json_schema()),
             responses={200: {"model": RepliesOut, "description": "the bot's replies"},
                        **errors(400, 401, 409, 413, 422, 503)})
async def message(request: Request) -> JSONResponse:
    """One message from the widget; the replies come back in the response. A resent
    `client_message_id` gets the same answer and stores nothing new."""
    service = service_of(request)
    try:
        data = load_json(await request.body())
    except InvalidPayload as exc:
        return error(400, exc.detail)
    try:
        inbound = webchat.parse_http_message(data, datetime.now(UTC))
    except InvalidPayload as exc:
        return error(422, exc.detail)
    try:
        handled = await pipeline_call(service, inbound, answered_inline=True,
                                      max_idle=_max_idle(service))
    except Expired as exc:
        return error(401, str(exc))
    except InvalidPayload as exc:  # a hash collision of two visitors' message keys
        return error(409, exc.detail)
    return JSONResponse({"replies": webchat.reply_payload(list(handled.replies)),
                         "waiting_for": handled.waiting_for,
                         "duplicate": handled.duplicate,
                         "masked_text": handled.masked_text})


@router.get("/history", responses={200: {"model": HistoryOut, "description": "oldest first"},
                                   **errors(400, 401, 422, 503)})
async def history(request: Request,
                  x_visitor_id: str | None = Header(None, description="the widget's visitor "
                                                    "id (required; never in the URL)")
                  ) -> JSONResponse:
    """The visitor's conversation (the latest 200 messages)."""
    service = service_of(request)
    if "visitor_id" in request.query_params:
        return error(400, "visitor_id must not be in the URL: send the X-Visitor-Id header")
    if x_visitor_id is None:
        return error(422, "the X-Visitor-Id header is required")
    try:
        webchat.validate_visitor_id(x_visitor_id)
    except InvalidPayload as exc:
        return error(422, exc.detail)

    def read() -> list[dict[str, Any]] | None:
        with service.sessions() as session:
            if _expired(service, session, x_visitor_id):
                return None
            items, outgoing = [], []
            for m in conversations.history(session, webchat.CHANNEL, x_visitor_id):
                item = {"id": m.id, "direction": m.direction, "text": m.text,
                        "quick_replies": m.quick_replies or [], "at": m.created_at.isoformat()}
                if m.direction == "in" and m.external_id:
                    item["client_message_id"] = webchat.client_message_id(m.external_id)
                else:
                    outgoing.append(m.id)
                items.append(item)
            unsent = outbox.pending_for(session, outgoing)
        if unsent:
            _shown(service, unsent)
        return items

    messages = await store_call(service, read)
    if messages is None:
        return error(401, "this visitor id has expired; start afresh")
    return JSONResponse({"messages": messages})


def _shown(service: Service, item_ids: list[int]) -> None:
    """The page has these messages now (an agent's reply queued while it had no socket):
    delivered, and the console shows it, rather than retried until a call-back is flagged."""
    now = datetime.now(UTC)
    with service.pipeline.transaction() as session:
        for item in outbox.shown_elsewhere(session, item_ids, now, "history"):
            if item.payload.get("agent"):
                service.pipeline.notify(session, "delivery", item.conversation_id)


def _expired(service: Service, session: Any, visitor_id: str) -> bool:
    last = conversations.last_activity(session, webchat.CHANNEL, visitor_id)
    return last is not None and last < datetime.now(UTC) - _max_idle(service)


@router.websocket("/ws")
async def socket(ws: WebSocket) -> None:
    """The widget's socket; see `channels.webchat` for the frames."""
    service = service_of(ws)
    await ws.accept()
    if "visitor_id" in ws.query_params:
        await ws.close(CLOSE_POLICY, "visitor_id must not be in the URL: send a hello frame")
        return
    visitor_id = await _hello(ws, service)
    if visitor_id is None:
        return
    service.connections.add(visitor_id, ws)
    service.dispatcher.wake()  # anything queued for this visitor can go now
    try:
        while True:
            data = await _next_frame(ws, service.settings.max_body_bytes)
            if data is not _SKIP:
                await _one_message(ws, service, visitor_id, data)
    except (WebSocketDisconnect, _Closed):
        pass
    finally:
        service.connections.discard(visitor_id, ws)


async def _hello(ws: WebSocket, service: Service) -> str | None:
    """The visitor id from the first frame, answered `ready`; None once the socket is closed."""
    try:
        data = await asyncio.wait_for(_next_frame(ws, service.settings.max_body_bytes),
                                      HELLO_SECONDS)
    except TimeoutError:
        await ws.close(CLOSE_POLICY, "no hello frame")
        return None
    except (WebSocketDisconnect, _Closed):
        return None
    try:
        visitor_id = webchat.parse_hello(None if data is _SKIP else data)
    except InvalidPayload as exc:
        await ws.close(CLOSE_POLICY, exc.detail[:120])
        return None

    def expired() -> bool:
        with service.sessions() as session:
            return _expired(service, session, visitor_id)

    try:
        if await store_call(service, expired):
            await ws.close(CLOSE_EXPIRED, "this visitor id has expired; start afresh")
            return None
    except StoreUnavailable:
        await ws.close(1013, "the store is unavailable; try again shortly")  # try again later
        return None
    await ws.send_json({"type": "ready"})
    return visitor_id


async def _one_message(ws: WebSocket, service: Service, visitor_id: str, data: Any) -> None:
    try:
        inbound = webchat.parse_ws_message(data, visitor_id, datetime.now(UTC))
    except InvalidPayload as exc:
        frame = {"type": "error", "detail": exc.detail}
        if isinstance(data, dict) and isinstance(data.get("client_message_id"), str):
            frame["in_reply_to"] = data["client_message_id"][:64]
        await service.connections.send_to(visitor_id, ws, frame)
        return
    client_id = webchat.client_message_id(inbound.message_id)
    try:
        handled = await pipeline_call(service, inbound, answered_inline=True,
                                      max_idle=_max_idle(service))
    except Expired as exc:
        await ws.close(CLOSE_EXPIRED, str(exc)[:120])
        raise _Closed from None
    except (InvalidPayload, StoreUnavailable) as exc:
        # Not acknowledged: the widget sends it again (by socket or POST), stored once.
        detail = exc.detail if isinstance(exc, InvalidPayload) else f"{exc}; try again shortly"
        await service.connections.send_to(visitor_id, ws, {
            "type": "error", "detail": detail, "in_reply_to": client_id,
            "retry": isinstance(exc, StoreUnavailable)})
        return
    await service.connections.send_to(visitor_id, ws, {
        "type": "replies", "in_reply_to": client_id,
        "replies": webchat.reply_payload(list(handled.replies)),
        "waiting_for": handled.waiting_for, "masked_text": handled.masked_text})


class _Closed(Exception):
    """We closed the socket."""


_SKIP = object()  # a frame answered with an error: nothing to handle


async def _next_frame(ws: WebSocket, limit: int) -> Any:
    """The next frame as JSON. A malformed frame is answered with an error frame; a binary,
    oversized or hostile one closes the socket with its code (1003, 1009, 1007)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    if raw is None:
        await ws.close(CLOSE_UNSUPPORTED, "frames must be text (JSON)")
        raise _Closed
    if len(raw) > limit or len(raw.encode("utf-8", "surrogatepass")) > limit:
        await ws.close(CLOSE_TOO_BIG, f"frame larger than {limit} bytes")
        raise _Closed
    try:
        return load_json(raw, "frame")
    except UnsafeJson as exc:
        await ws.close(CLOSE_INVALID, exc.detail[:120])
        raise _Closed from None
    except InvalidPayload as exc:
        await ws.send_json({"type": "error", "detail": exc.detail})
        return _SKIP

