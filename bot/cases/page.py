"""The console's page for one case, /console/cases/{number}, and its forms: correct a field
(with a reason), move the status, assign or take it, extend the deadline, add an internal
note. Every form carries the session's CSRF token; every change answers 303 back to the
page, a refusal a page saying why (403, 404, 409, 422).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.classify import BUSINESS_LINES, CATEGORIES, PRIORITIES

from ..console import auth
from ..console.auth import Seat
from ..console.routes import _checked, _refused, _seat, _SignedOut, _to_login
from ..console.rules import Refused
from ..console.web import desk_of, render
from ..endpoints.common import store_call
from ..reports import regulatory
from . import views, work

router = APIRouter(prefix="/console/cases", include_in_schema=False)


def _page(request: Request, seat: Seat, view: dict[str, Any], status: int = 200,
          error: str | None = None) -> HTMLResponse:
    service, _ = desk_of(request)
    return render("case.html", seat.actor.lang, status, service.settings.zone, seat=seat,
                  view=view, evidence=view.get("evidence"), error=error, page="case",
                  editable=work.EDITABLE, businesses=BUSINESS_LINES, categories=CATEGORIES,
                  priorities=PRIORITIES, max_paused=work.MAX_PAUSED_DAYS,
                  jrt=regulatory.for_page(regulatory.load(service.settings.regulatory_file),
                                          seat.actor.lang, view.get("regulatory")))


@router.get("/{number}", response_class=HTMLResponse)
async def case_page(request: Request, number: str) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    try:
        view = await store_call(service, views.read, service, seat.actor, number,
                                opened=True, address=auth.address_of(request))
    except Refused as refused:
        return _refused(request, seat, refused)
    return _page(request, seat, view)


@router.get("/{number}/stamp")
async def case_stamp(request: Request, number: str) -> Response:
    """The case's change stamp (see views.stamp), for the open page's live check."""
    service, _ = desk_of(request)
    seat = await _seat(request, touch=False)
    if seat is None:
        return Response("signed out", status_code=401)
    try:
        value = await store_call(service, views.stamp, service, seat.actor, number)
    except Refused as refused:
        return Response(refused.in_language(seat.actor.lang), status_code=refused.status,
                        media_type="text/plain; charset=utf-8")
    return Response(value, media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


async def _act(request: Request, number: str, change: Any) -> Response:
    """Check the session and CSRF, run `change(service, actor, form, address)`; back to the
    page, or the page again with the refusal (a refused move shows the moves allowed)."""
    service, _ = desk_of(request)
    seat: Seat | None = None
    try:
        seat, form = await _checked(request)
        await store_call(service, change, service, seat.actor,
                         {k: str(v) for k, v in form.items()}, auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        if seat is None or refused.status in (403, 404):
            return _refused(request, seat, refused)
        try:
            view = await store_call(service, views.read, service, seat.actor, number,
                                    opened=False)
        except Refused:
            return _refused(request, seat, refused)
        return _page(request, seat, view, refused.status,
                     refused.in_language(seat.actor.lang))
    return RedirectResponse(f"/console/cases/{quote(number.upper(), safe='')}",
                            status_code=303)


def _int(raw: str | None, code: str) -> int:
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise Refused(code, 422, limit=str(work.MAX_PAUSED_DAYS))
    return int(text)


@router.post("/{number}/fields")
async def edit_field(request: Request, number: str) -> Response:
    def change(service: Any, actor: Any, form: dict[str, str], address: str) -> None:
        views.edit_field(service, actor, number, form.get("field", "")[:32],
                         form.get("value", ""), form.get("reason", ""), address)

    return await _act(request, number, change)


@router.post("/{number}/move")
async def move(request: Request, number: str) -> Response:
    def change(service: Any, actor: Any, form: dict[str, str], address: str) -> None:
        views.move(service, actor, number, form.get("status", "")[:32],
                   outcome=form.get("outcome"), note=form.get("note"), address=address)

    return await _act(request, number, change)


@router.post("/{number}/assign")
async def assign(request: Request, number: str) -> Response:
    def change(service: Any, actor: Any, form: dict[str, str], address: str) -> None:
        # The "take" button sends no login: the agent's own.
        login = form.get("agent") or actor.login
        views.assign(service, actor, number, login, address)

    return await _act(request, number, change)


@router.post("/{number}/extend")
async def extend(request: Request, number: str) -> Response:
    def change(service: Any, actor: Any, form: dict[str, str], address: str) -> None:
        level = _int(form.get("level"), "case_page_bad_level")
        paused = _int(form.get("paused_days") or "0", "case_page_bad_paused")
        views.extend(service, actor, number, level, form.get("reason", ""), paused, address)

    return await _act(request, number, change)


@router.post("/{number}/notes")
async def note(request: Request, number: str) -> Response:
    def change(service: Any, actor: Any, form: dict[str, str], address: str) -> None:
        views.add_note(service, actor, number, form.get("text", ""), address)

    return await _act(request, number, change)
