"""The call-back list at /console/callbacks: cases whose customer must be phoned (a hotline
call left fields to confirm, a reply could not be delivered, the channel is out of reach,
nobody was online). An agent records each call's outcome and the fields the customer
confirmed; the case leaves the list once the customer was reached and nothing is missing.

Leads see every case on the list; agents their own and the unassigned ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.classify import BUSINESS_LINES

from ..console import auth
from ..console.routes import _checked, _refused, _seat, _SignedOut, _to_login
from ..console.rules import Actor, Refused
from ..console.web import desk_of, render
from ..endpoints.common import store_call
from ..store import agents, audit, case_lists, cases
from . import alerts, work
from .lists import MAX_PAGE, NUMBER, PAGE_SIZE, Refusal

router = APIRouter(prefix="/console", include_in_schema=False)
OUTCOMES = ("reached", "no_answer", "wrong_number", "call_again")
# The outcomes in which the customer spoke to the agent: only then are fields confirmed.
SPOKE = ("reached", "call_again")
# What a call can confirm, in the order the form asks (the brief's fields).
CONFIRMABLE = ("name", "phone", "business", "incident_time", "amount", "description",
               "resolution", "branch")
MAX_NOTE = 2000


def refusal(code: str, status: int = 403, **values: str) -> Refusal:
    return Refusal("callbacks", code, status, **values)


def _plain(value: Any) -> Any:
    return None if value is None else work._plain(value)


def _attempt(event: Any, names: dict[str, str]) -> dict[str, Any]:
    after = event.after or {}
    who = event.actor.removeprefix("agent:")
    return {"outcome": after.get("outcome"), "note": after.get("note"),
            "at": event.at.isoformat(), "who": names.get(who, who),
            "confirmed": sorted((after.get("fields") or {}).keys())}


def read_list(service: Any, actor: Actor, page: int) -> dict[str, Any]:
    today = service.desk.clock().astimezone(service.settings.zone).date()
    scope = alerts.scope_of(actor, today)
    with service.sessions() as session:
        found = case_lists.callbacks(session, scope, limit=PAGE_SIZE + 1,
                                     offset=(page - 1) * PAGE_SIZE)
        shown = found[:PAGE_SIZE]
        calls = case_lists.attempts(session, [c.id for c, _ in shown])
        staff = agents.all_agents(session)
        by_id = {a.id: a.name for a in staff}
        by_login = {a.login: a.name for a in staff}
        rows = []
        for case, caller in shown:
            tried = [_attempt(e, by_login) for e in calls.get(case.id, [])]
            rows.append({
                "number": case.number, "name": case.name, "channel": case.channel,
                "status": case.status, "language": case.language,
                # The number to ring: agents must see it whole (it is no ID or card number).
                "phone": case.phone or caller, "phone_from_call": not case.phone and caller,
                "reason": case.callback_reason, "since": case.callback_at.isoformat()
                if case.callback_at else None,
                "missing": [f for f in CONFIRMABLE if f in (case.missing or [])],
                "agent": by_id.get(case.agent_id) if case.agent_id else None,
                "attempts": tried, "last": tried[-1] if tried else None,
            })
        return {"rows": rows, "more": len(found) > PAGE_SIZE,
                "total": case_lists.count_callbacks(session, scope),
                "alerts": alerts.for_actor(session, actor, today)}


@router.get("/callbacks", response_class=HTMLResponse)
async def callbacks_page(request: Request) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    raw_page = request.query_params.get("page") or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        return _refused(request, seat, refusal("bad_page", 422))
    page = int(raw_page)
    view = await store_call(service, read_list, service, seat.actor, page)
    return render("callbacks.html", seat.actor.lang, 200, service.settings.zone, seat=seat,
                  page="callbacks", outcomes=OUTCOMES, businesses=BUSINESS_LINES,
                  prev_href=f"/console/callbacks?page={page - 1}" if page > 1 else None,
                  next_href=f"/console/callbacks?page={page + 1}" if view["more"] else None,
                  alerts=view.pop("alerts"), **view)


# ---- recording a call ------------------------------------------------------------------------


def _form(form: dict[str, Any]) -> tuple[str, str | None, dict[str, str]]:
    """The outcome, the note and the fields typed in (non-empty), checked for shape."""
    outcome = str(form.get("outcome") or "")
    if outcome not in OUTCOMES:
        raise refusal("bad_outcome", 422, outcomes=", ".join(OUTCOMES))
    note = str(form.get("note") or "").replace("\x00", "").strip()
    if len(note) > MAX_NOTE:
        raise refusal("note_too_long", 422, limit=str(MAX_NOTE))
    typed = {f: str(form.get(f) or "").strip() for f in CONFIRMABLE}
    typed = {f: v for f, v in typed.items() if v}
    if typed and outcome not in SPOKE:
        raise refusal("not_reached", 422)
    return outcome, work._clean(note), typed


def record_call(service: Any, actor: Actor, number: str, form: dict[str, Any],
                address: str | None) -> dict[str, Any]:
    """Record the call: its outcome and note, the fields confirmed on the phone set on the
    case; the call-back is cleared when the customer was reached and nothing is missing."""
    now = service.desk.clock()
    today = now.astimezone(service.settings.zone).date()
    subject = f"case:{number[:40]}"
    try:
        if not NUMBER.match(number):
            raise refusal("no_case", 404, number=number[:40])
        outcome, note, typed = _form(form)
        with service.pipeline.transaction() as session:
            found = cases.by_number(session, number)
            case = cases.locked(session, found.id) if found is not None else None
            if case is None:
                raise refusal("no_case", 404, number=number)
            if not actor.is_lead and case.agent_id not in (None, actor.id):
                raise refusal("not_yours", 403, number=case.number)
            if case.callback_reason is None:
                raise refusal("not_listed", 409, number=case.number)
            missing = list(case.missing or [])
            for field in typed:
                if field not in missing:
                    raise refusal("not_missing", 409, field=field, number=case.number)
            values: dict[str, Any] = {}
            for field, raw in typed.items():
                try:
                    values[field] = work.parse_field(field, raw, today)
                except work.Invalid as invalid:
                    raise refusal(f"field_{invalid.code}", 422, field=field,
                                  **invalid.values) from None
            before = {"missing": missing, "callback_reason": case.callback_reason,
                      "fields": {f: _plain(getattr(case, f)) for f in values}}
            for field, value in values.items():
                setattr(case, field, value)
                if field == "amount" and value is not None and not case.currency:
                    case.currency = "CNY"
            case.missing = [f for f in missing if f not in values]
            case.updated_at = now
            cases.record(session, case, actor=actor.label, action="callback", before=before,
                         after={"outcome": outcome, "note": note, "missing": case.missing,
                                "fields": {f: _plain(v) for f, v in values.items()}},
                         now=now)
            cleared = outcome == "reached" and not case.missing
            if cleared:
                cases.clear_callback(session, case, (case.callback_reason,), now,
                                     actor=actor.label)
            # Who spoke to whom is audited; the values themselves stay on the case.
            audit.record(session, actor=actor.label, action="callback", subject=subject,
                         now=now, address=address,
                         detail={"outcome": outcome, "confirmed": sorted(values),
                                 "cleared": cleared})
            service.pipeline.notify(session, "case", case.conversation_id)
            return {"cleared": cleared, "missing": list(case.missing)}
    except Refused as refused:
        with service.pipeline.transaction() as session:
            audit.record(session, actor=actor.label, action="callback_refused",
                         subject=subject, now=now, address=address,
                         detail={"reason": refused.message})
        raise


@router.post("/callbacks/{number}")
async def record(request: Request, number: str) -> Response:
    service, _ = desk_of(request)
    seat = None
    try:
        seat, form = await _checked(request)
        await store_call(service, record_call, service, seat.actor, number, form,
                         auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    return RedirectResponse("/console/callbacks", status_code=303)
