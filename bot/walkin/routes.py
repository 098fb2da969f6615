"""The walk-in page at /console/walk-in: branch staff paste the customer's words, the engine
prefills the form (a plain form post, so it works without JavaScript), staff complete it and
file; the receipt shows the case number and due date to hand the customer on paper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from workflow.classify import BUSINESS_LINES

from ..console import auth
from ..console.auth import Seat
from ..console.routes import _seat, _to_login, changed
from ..console.rules import text
from ..console.web import desk_of, render
from ..endpoints.common import store_call
from ..store import audit, cases
from . import filing

router = APIRouter(prefix="/console/walk-in", include_in_schema=False)


def _page(request: Request, seat: Seat, form: filing.Form, status: int = 200, *,
          problems: dict[str, str] | None = None, prefilled: bool = False) -> HTMLResponse:
    service, _ = desk_of(request)
    zone = service.settings.zone
    shown = filing.preview(form, seat.actor) if form.description else None
    return render("walkin.html", seat.actor.lang, status, zone, seat=seat, page="walk-in",
                  form=form, preview=shown, problems=problems or {}, prefilled=prefilled,
                  businesses=BUSINESS_LINES, currencies=filing.CURRENCIES,
                  limits=filing.LIMITS, today=datetime.now(zone).date().isoformat(),
                  receipt=None)


@router.get("", response_class=HTMLResponse)
async def walk_in_page(request: Request) -> Response:
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    return _page(request, seat, filing.Form())


@router.post("/prefill", response_class=HTMLResponse)
async def prefill(request: Request) -> Response:
    """The form again, with what the engine reads in the customer's words filled in."""
    service, _ = desk_of(request)

    async def act(seat: Seat, data: dict[str, Any]) -> Response:
        form = filing.Form.read(data)
        now = datetime.now(UTC).astimezone(service.settings.zone)
        try:
            form = await run_in_threadpool(filing.prefill, service.pipeline.engine, form, now)
        except filing.Invalid as invalid:
            return _page(request, seat, form, 422, problems=invalid.problems)
        return _page(request, seat, form, prefilled=True)

    return await changed(request, act)


@router.post("")
async def file(request: Request) -> Response:
    """File the case; the form again with what is wrong (422), nothing filed."""
    service, _ = desk_of(request)

    async def act(seat: Seat, data: dict[str, Any]) -> Response:
        form = filing.Form.read(data)
        try:
            filed = await store_call(service, filing.file_case, service.pipeline, seat.actor,
                                     form, auth.address_of(request))
        except filing.Invalid as invalid:
            return _page(request, seat, form, 422, problems=invalid.problems)
        return RedirectResponse(f"/console/walk-in/filed/{filed.number}", status_code=303)

    return await changed(request, act)


@router.get("/filed/{number}", response_class=HTMLResponse)
async def receipt(request: Request, number: str) -> Response:
    """The confirmation of a walk-in case: the number and due date for the customer (print
    it), and the way to the case. For the agent who filed it and for leads."""
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    found = await store_call(service, _receipt, service, number[:32], seat.actor.label)
    lang = seat.actor.lang
    if found is None:
        return render("refused.html", lang, 404, service.settings.zone, seat=seat,
                      page="refused", message=text(lang, "walkin.not_found"))
    if not (found.pop("mine") or seat.actor.is_lead):
        return render("refused.html", lang, 403, service.settings.zone, seat=seat,
                      page="refused", message=text(lang, "walkin.not_yours"))
    await store_call(service, _audit_view, service, seat.actor.label, found["number"],
                     auth.address_of(request))
    # The slip the customer takes away is in their language, whatever the console's.
    said = found["language"] if found["language"] in ("zh", "en") else "zh"
    slip = {key: text(said, f"walkin.slip_{key}", **found) for key in
            ("title", "number", "received", "due", "branch", "keep")}
    return render("walkin.html", lang, 200, service.settings.zone, seat=seat, page="walk-in",
                  receipt=found, slip=slip)


def _receipt(service: Any, number: str, actor: str) -> dict[str, Any] | None:
    with service.sessions() as session:
        case = cases.by_number(session, number)
        if case is None or case.channel != filing.CHANNEL:
            return None
        events = cases.events(session, case.id)
        filer = next((e.actor for e in events if e.action == "filed"), None)
        local = case.filed_at.astimezone(service.settings.zone)
        return {"number": case.number, "filed_at": case.filed_at.isoformat(),
                "received": local.strftime("%Y-%m-%d %H:%M"),
                "due_date": case.due_date.isoformat(), "name": case.name,
                "branch": case.branch, "business": case.business,
                "priority": case.priority, "category": case.category,
                "missing": list(case.missing or []), "language": case.language,
                "mine": filer == actor}


def _audit_view(service: Any, actor: str, number: str, address: str) -> None:
    with service.pipeline.transaction() as session:
        audit.record(session, actor=actor, action="view", subject=f"case:{number}",
                     now=datetime.now(UTC), address=address, detail={"page": "walk-in"})
