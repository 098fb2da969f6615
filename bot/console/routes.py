"""The console's pages at /console: log in, the queue, a conversation, canned replies, and
the live socket that tells open pages what changed.

Every page needs a live session (else: a redirect to the log-in page, or 401 for the page
fragments); every change needs the session's CSRF token (the `csrf` form field or the
X-CSRF-Token header) and, when the browser sends one, an Origin of this site.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocketDisconnect

from ..endpoints.common import StoreUnavailable, store_call
from ..store import audit
from . import auth, secrets
from .auth import COOKIE, Seat
from .desk import QueueFilters
from .rules import Refused, text
from .web import HEADERS, desk_of, render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
PRESENCE_SECONDS = 30.0  # how often an open console reports in (rules.ONLINE_WITHIN: 90 s)
CLOSE_SIGNED_OUT = 4401
CHANNELS = ("webchat", "telegram", "wechat", "hotline")
PRIORITIES = ("urgent", "high", "normal", "low")


class _SignedOut(Exception):
    pass


def _limits(request: Request | WebSocket) -> tuple[timedelta, timedelta]:
    service, _ = desk_of(request)
    s = service.settings
    return timedelta(minutes=s.console_idle_minutes), timedelta(hours=s.console_session_hours)


async def _seat(request: Request | WebSocket, touch: bool = True) -> Seat | None:
    """The session; `touch`: a person acted (a page refreshing itself does not count, so an
    unattended console still signs out when idle)."""
    service, _ = desk_of(request)
    idle, longest = _limits(request)
    return await store_call(service, auth.seat, service.sessions, request.cookies.get(COOKIE),
                            idle, longest, None, touch)


def _to_login(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response("signed out", status_code=401, headers={"HX-Redirect": "/console/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/login?next={quote(target, safe='')}", status_code=303)


def _same_origin(conn: Request | WebSocket) -> bool:
    """Browsers send Origin with every POST and WebSocket: one of another site (or "null")
    is a cross-site request. Scripts without a browser send none."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")


async def _checked(request: Request) -> tuple[Seat, dict[str, Any]]:
    """The session and the form of a change; raises _SignedOut or Refused('csrf')."""
    seat = await _seat(request)
    if seat is None:
        raise _SignedOut
    form = dict(await request.form())
    token = str(form.get("csrf") or request.headers.get(auth.CSRF_HEADER) or "")
    if not token or not secrets.same(token, seat.csrf) or not _same_origin(request):
        service, _ = desk_of(request)
        await store_call(service, _audit_csrf, service, seat, request.url.path,
                         auth.address_of(request))
        raise Refused("csrf", 403)
    return seat, form


async def changed(request: Request,
                  act: Callable[[Seat, dict[str, Any]], Awaitable[Response]]) -> Response:
    """A change from a console form: `act(seat, form)` once the session and CSRF check out;
    signed out -> the log-in page, a refusal -> the page saying why."""
    seat: Seat | None = None
    try:
        seat, form = await _checked(request)
        return await act(seat, form)
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)


def _audit_csrf(service: Any, seat: Seat, path: str, address: str) -> None:
    with service.pipeline.transaction() as session:
        audit.record(session, actor=seat.actor.label, action="csrf_refused", subject=None,
                     now=datetime.now(UTC), address=address, detail={"path": path[:200]})


def _refused(request: Request, seat: Seat | None, refused: Refused) -> HTMLResponse:
    service, _ = desk_of(request)
    lang = seat.actor.lang if seat else "zh"
    return render("refused.html", lang, refused.status, service.settings.zone,
                  seat=seat, message=refused.in_language(lang), page="refused")


# ---- log in / out ------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/console") or target.startswith("//"):
        return "/console"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    if await _seat(request) is not None:
        return RedirectResponse("/console", status_code=303)
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return render("login.html", lang, next=_safe_next(request.query_params.get("next")),
                  error=None, page="login")


@router.post("/login")
async def log_in(request: Request) -> Response:
    service, _ = desk_of(request)
    form = await request.form()
    login, password = str(form.get("login") or ""), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    lang = "en" if str(form.get("lang") or "") == "en" else "zh"
    if not _same_origin(request):
        return render("login.html", lang, 403, next=target, page="login",
                      error=Refused("csrf").in_language(lang))
    if not login or not password or len(login) > 64 or len(password) > 1024:
        return render("login.html", lang, 401, next=target, page="login",
                      error=text(lang, "bad_login"))
    try:
        token, _actor = await store_call(
            service, auth.log_in, service.sessions, login, password, auth.address_of(request),
            timedelta(minutes=service.settings.console_lock_minutes))
    except auth.LoginRefused as refused:
        message = text(lang, refused.code, minutes=refused.minutes)
        response = render("login.html", lang, refused.status, next=target, page="login",
                          error=message)
        if refused.status == 429:
            response.headers["Retry-After"] = str(refused.minutes * 60)
        return response
    response = RedirectResponse(target, status_code=303)
    secure = service.settings.console_secure_cookie
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https" if secure is None else secure,
                        max_age=service.settings.console_session_hours * 3600)
    return response


@router.post("/logout")
async def log_out(request: Request) -> Response:
    service, _ = desk_of(request)
    try:
        seat, _form = await _checked(request)
    except _SignedOut:
        return RedirectResponse("/console/login", status_code=303)
    except Refused as refused:
        return _refused(request, None, refused)
    await store_call(service, auth.log_out, service.sessions, seat, auth.address_of(request))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---- the queue ---------------------------------------------------------------------------


def _filters(request: Request) -> QueueFilters:
    q = request.query_params
    return QueueFilters(
        channel=q.get("channel") if q.get("channel") in CHANNELS else None,
        business=(q.get("business") or None) and q.get("business", "")[:32],
        priority=q.get("priority") if q.get("priority") in PRIORITIES else None,
        status=(q.get("status") or None) and q.get("status", "")[:24],
        overdue=q.get("overdue") == "1")


@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request) -> Response:
    return await _queue(request, "queue.html")


@router.get("/queue", response_class=HTMLResponse)
async def queue_rows(request: Request) -> Response:
    """The queue's body alone: what an open page swaps in when something changed."""
    return await _queue(request, "_queue.html")


async def _queue(request: Request, template: str) -> Response:
    service, desk = desk_of(request)
    seat = await _seat(request, touch=template == "queue.html")
    if seat is None:
        return _to_login(request)
    filters = _filters(request)
    view = await store_call(service, desk.queue, seat.actor, filters)
    from workflow.classify import BUSINESS_LINES

    from ..cases import alerts as case_alerts  # deadline banners (the page, not its refresh)

    banners = await store_call(service, case_alerts.read, service, seat.actor) \
        if template == "queue.html" else []
    return render(template, seat.actor.lang, 200, service.settings.zone, seat=seat,
                  view=view, filters=filters, channels=CHANNELS, priorities=PRIORITIES,
                  businesses=BUSINESS_LINES, query=request.url.query, page="queue",
                  alerts=banners)


# ---- a conversation ------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, conversation_id: int) -> Response:
    return await _conversation(request, conversation_id, "conversation.html")


@router.get("/conversations/{conversation_id}/live", response_class=HTMLResponse)
async def conversation_live(request: Request, conversation_id: int) -> Response:
    """The conversation's changing part alone (status, messages, fields)."""
    return await _conversation(request, conversation_id, "_conversation.html")


async def _conversation(request: Request, conversation_id: int, template: str) -> Response:
    service, desk = desk_of(request)
    opened = template == "conversation.html"
    seat = await _seat(request, touch=opened)
    if seat is None:
        return _to_login(request)
    try:
        view = await store_call(service, desk.conversation, seat.actor, conversation_id,
                                opened=opened, address=auth.address_of(request))
    except Refused as refused:
        if opened:
            return _refused(request, seat, refused)
        # An open page whose conversation went elsewhere (another agent took it): the page
        # says so in place of the conversation rather than keep showing a stale one (htmx
        # swaps 403 and 404 answers in, see base.html).
        return render("_gone.html", seat.actor.lang, refused.status, service.settings.zone,
                      seat=seat, message=refused.in_language(seat.actor.lang))
    replies: list[dict[str, Any]] = []
    others: list[Any] = []
    if opened:
        replies = await store_call(service, desk.canned_replies, seat.actor, conversation_id)
        if seat.actor.is_lead:
            others = await store_call(service, _active_agents, service)
    return render(template, seat.actor.lang, 200, service.settings.zone, seat=seat, view=view,
                  canned=replies, agents=others, page="conversation")


def _active_agents(service: Any) -> list[dict[str, str]]:
    from ..store import agents

    with service.sessions() as session:
        return [{"login": a.login, "name": a.name} for a in agents.active(session)]


async def _action(request: Request, conversation_id: int, action: str) -> Response:
    service, desk = desk_of(request)
    seat: Seat | None = None
    try:
        seat, form = await _checked(request)
        address = auth.address_of(request)
        if action == "take":
            await store_call(service, desk.take, seat.actor, conversation_id, address)
        elif action == "reply":
            await store_call(service, desk.reply, seat.actor, conversation_id,
                             str(form.get("text") or ""), address)
        elif action == "release":
            await store_call(service, desk.release, seat.actor, conversation_id, address)
        elif action == "close":
            await store_call(service, desk.close, seat.actor, conversation_id, address)
        elif action == "reassign":
            await store_call(service, desk.reassign, seat.actor, conversation_id,
                             str(form.get("agent") or "")[:64], address)
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    target = "/console" if action in ("release", "close") else \
        f"/console/conversations/{conversation_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/conversations/{conversation_id}/take")
async def take(request: Request, conversation_id: int) -> Response:
    return await _action(request, conversation_id, "take")


@router.post("/conversations/{conversation_id}/messages")
async def reply(request: Request, conversation_id: int) -> Response:
    return await _action(request, conversation_id, "reply")


@router.post("/conversations/{conversation_id}/release")
async def release(request: Request, conversation_id: int) -> Response:
    return await _action(request, conversation_id, "release")


@router.post("/conversations/{conversation_id}/close")
async def close(request: Request, conversation_id: int) -> Response:
    return await _action(request, conversation_id, "close")


@router.post("/conversations/{conversation_id}/reassign")
async def reassign(request: Request, conversation_id: int) -> Response:
    return await _action(request, conversation_id, "reassign")


# ---- canned replies ----------------------------------------------------------------------


@router.get("/canned", response_class=HTMLResponse)
async def canned_page(request: Request) -> Response:
    service, desk = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    replies = await store_call(service, desk.canned_replies, seat.actor, None)
    return render("canned.html", seat.actor.lang, 200, service.settings.zone, seat=seat,
                  replies=replies, page="canned")


@router.post("/canned")
async def save_canned(request: Request) -> Response:
    service, desk = desk_of(request)
    seat: Seat | None = None
    try:
        seat, form = await _checked(request)
        raw_id = str(form.get("id") or "")
        await store_call(service, desk.save_canned, seat.actor,
                         reply_id=int(raw_id) if raw_id.isdigit() else None,
                         lang=str(form.get("lang") or ""), title=str(form.get("title") or ""),
                         text=str(form.get("text") or ""), address=auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    return RedirectResponse("/console/canned", status_code=303)


# ---- static files and the live socket ------------------------------------------------------


_STATIC_TYPES = {"htmx.min.js": "text/javascript", "console.js": "text/javascript",
                 "console.css": "text/css"}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC_TYPES:
        return Response("not found", status_code=404)
    from importlib import resources

    body = resources.files("bot.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=f"{_STATIC_TYPES[name]}; charset=utf-8",
                    headers={**HEADERS, "Cache-Control": "public, max-age=300"})


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    """Notices of what changed ({kind, conversation_id, urgent?}), for open pages to read
    again; while open, the agent counts as online."""
    service, _ = desk_of(ws)
    if not _same_origin(ws):
        await ws.close(1008, "cross-site connection refused")
        return
    try:
        seat = await _seat(ws)
    except StoreUnavailable:
        await ws.close(1013, "the store is unavailable; try again shortly")
        return
    if seat is None:
        await ws.close(CLOSE_SIGNED_OUT, "signed out")
        return
    bulletin = service.bulletin
    if bulletin is None:  # pragma: no cover - the app always builds one
        await ws.close(1011)
        return
    await ws.accept()
    queue = bulletin.subscribe()
    idle, longest = _limits(ws)
    receiver = asyncio.create_task(_drain(ws))
    loop = asyncio.get_running_loop()
    beat = loop.time() + PRESENCE_SECONDS
    try:
        while not receiver.done():
            # Presence on a fixed beat, however busy the notices: an agent on a busy queue
            # stays online, and a session that ended closes the socket.
            if loop.time() >= beat:
                beat = loop.time() + PRESENCE_SECONDS
                try:
                    here = await store_call(service, auth.still_here, service.sessions, seat,
                                            idle, longest)
                except StoreUnavailable:
                    here = True
                if not here:
                    await ws.close(CLOSE_SIGNED_OUT, "signed out")
                    return
                await ws.send_json({"kind": "ping"})
            # Wait for a notice, the beat, or the page going away (whichever comes first:
            # a closing socket must not hold up a shutdown until the next beat).
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, receiver}, timeout=max(0.0, beat - loop.time()),
                               return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            await ws.send_json(getter.result())
    except (WebSocketDisconnect, RuntimeError, OSError):  # the page went away meanwhile
        pass
    finally:
        bulletin.unsubscribe(queue)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the page sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
