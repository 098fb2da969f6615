"""The case lists at /console/cases (my cases, unassigned with a Take button, all, near due,
overdue, review requested), taking a case, an agent's availability and the lead's switch
for automatic assignment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from workflow.classify import BUSINESS_LINES, PRIORITIES
from workflow.extract.sensitive import find_sensitive, redact

from ..console import auth
from ..console.auth import Seat
from ..console.routes import _checked, _refused, _seat, _SignedOut, _to_login, changed
from ..console.rules import Actor, Refused, text
from ..console.web import desk_of, render
from ..endpoints.common import store_call
from ..store import agents, audit, case_lists, cases
from ..store.models import Case
from . import alerts, assignment, lifecycle, views, work

router = APIRouter(prefix="/console", include_in_schema=False)
CHANNELS = cases.CHANNELS
PAGE_SIZE = 100
MAX_PAGE = 1000
NUMBER = re.compile(r"^[A-Za-z0-9-]{1,32}$")
FLAGS = {"1": True, "0": False, "on": True, "off": False, "true": True, "false": False}


class Refusal(Refused):
    """A refusal whose text lives in a feature's own catalog: `<table>.refused.<code>`."""

    def __init__(self, table: str, code: str, status: int = 403, **values: str) -> None:
        super().__init__(code, status, **values)
        self.table = table
        self.message = text("en", f"{table}.refused.{code}", **values)
        self.args = (self.message,)

    def in_language(self, lang: str) -> str:
        return text(lang, f"{self.table}.refused.{self.code}", **self.values)


def refusal(code: str, status: int = 403, **values: str) -> Refusal:
    return Refusal("lists", code, status, **values)


@dataclass(frozen=True)
class Query:
    view: str
    filters: case_lists.Filters
    page: int


def parse_query(params: Any) -> Query:
    """The list's view, filters and page from the URL; an unknown value is refused (422)."""
    view = params.get("view") or "all"
    if view not in case_lists.VIEWS:
        raise refusal("bad_view", 422, views=", ".join(case_lists.VIEWS))
    allowed = {"channel": CHANNELS, "business": BUSINESS_LINES, "priority": PRIORITIES,
               "status": (*lifecycle.STATUSES, *lifecycle.LEGACY)}
    chosen: dict[str, str | None] = {}
    for name, choices in allowed.items():
        value = params.get(name) or None
        if value is not None and value not in choices:
            raise refusal("bad_filter", 422, name=name, choices=", ".join(choices))
        chosen[name] = value
    raw_page = params.get("page") or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise refusal("bad_page", 422)
    return Query(view, case_lists.Filters(**chosen), int(raw_page))


def _today(service: Any) -> Any:
    return service.desk.clock().astimezone(service.settings.zone).date()


def _row(case: Case, scope: case_lists.Scope, names: dict[int, str]) -> dict[str, Any]:
    is_open = case.status not in cases.OPEN_EXCLUDES
    snippet = (case.description or "")[:120]
    return {
        "number": case.number, "status": case.status, "priority": case.priority,
        "channel": case.channel, "business": case.business, "name": case.name,
        "description": redact(snippet, find_sensitive(snippet)),
        "due_date": case.due_date.isoformat(), "filed_at": case.filed_at.isoformat(),
        "overdue": is_open and case.due_date < scope.today,
        "near_due": is_open and scope.today <= case.due_date <= scope.near_until,
        "review": bool(case.review_requested) or case.status == "review_requested",
        "agent_id": case.agent_id, "agent": names.get(case.agent_id) if case.agent_id else None,
        "mine": case.agent_id == scope.me,
        "takeable": is_open and case.agent_id is None,
        "callback_reason": case.callback_reason,
    }


def read_lists(service: Any, actor: Actor, query: Query) -> dict[str, Any]:
    """Everything the page shows, in one read session."""
    today = _today(service)
    scope = alerts.scope_of(actor, today)
    offset = (query.page - 1) * PAGE_SIZE
    with service.sessions() as session:
        found = case_lists.listed(session, query.view, scope, query.filters,
                                  limit=PAGE_SIZE + 1, offset=offset)
        staff = agents.all_agents(session)
        names = {a.id: a.name for a in staff}
        me = next((a for a in staff if a.id == actor.id), None)
        team: list[dict[str, Any]] = []
        if actor.is_lead:
            active = [a for a in staff if a.disabled_at is None]
            load = case_lists.open_load(session, [a.id for a in active])
            team = [{"name": a.name, "login": a.login, "role": a.role,
                     "available": bool(a.available), "open": load.get(a.id, 0)}
                    for a in active]
        return {
            "rows": [_row(c, scope, names) for c in found[:PAGE_SIZE]],
            "more": len(found) > PAGE_SIZE,
            "counts": case_lists.counts(session, scope, query.filters),
            "available": bool(me.available) if me is not None else False,
            "auto_assign": assignment.enabled(session),
            "team": team,
            "alerts": alerts.for_actor(session, actor, today),
        }


@router.get("/cases", response_class=HTMLResponse)
async def lists_page(request: Request) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    try:
        query = parse_query(request.query_params)
    except Refused as refused:
        return _refused(request, seat, refused)
    view = await store_call(service, read_lists, service, seat.actor, query)
    filters = {k: v for k, v in vars(query.filters).items() if v}

    def href(name: str, page: int = 1) -> str:
        extra = {"page": str(page)} if page > 1 else {}
        return "/console/cases?" + urlencode({"view": name, **filters, **extra})

    tabs = [{"view": v, "href": href(v), "count": view["counts"][v]} for v in case_lists.VIEWS]
    return render("cases.html", seat.actor.lang, 200, service.settings.zone, seat=seat,
                  page="cases", query=query, filters=filters, tabs=tabs,
                  here=href(query.view, query.page),
                  prev_href=href(query.view, query.page - 1) if query.page > 1 else None,
                  next_href=href(query.view, query.page + 1) if view["more"] else None,
                  channels=CHANNELS, businesses=BUSINESS_LINES, priorities=PRIORITIES,
                  statuses=lifecycle.STATUSES, alerts=view.pop("alerts"), **view)


# ---- acting -------------------------------------------------------------------------------


def _audit(service: Any, actor: Actor, action: str, subject: str, now: datetime,
           address: str | None, detail: dict[str, Any] | None = None) -> None:
    with service.pipeline.transaction() as session:
        audit.record(session, actor=actor.label, action=action, subject=subject, now=now,
                     address=address, detail=detail)


def take_case(service: Any, actor: Actor, number: str, address: str | None) -> None:
    """The agent takes an unassigned open case (409 when someone has it)."""
    def act(session: Session, case: Case, now: datetime) -> None:
        if case.agent_id == actor.id:
            raise refusal("yours_already", 409, number=case.number)
        if case.agent_id is not None:
            holder = agents.get(session, case.agent_id)
            raise refusal("taken", 409, number=case.number,
                          name=holder.name if holder else "?")
        if case.status in cases.OPEN_EXCLUDES:
            raise refusal("not_open", 409, number=case.number)
        agent = agents.get(session, actor.id)
        if agent is None or agent.disabled_at is not None:
            raise Refused("agent_disabled", 409)
        work.assign(session, case, agent, actor=actor.label, now=now)

    views.change(service, actor, number, "take", act, address, visible=False)


def set_availability(service: Any, actor: Actor, available: bool, address: str | None
                     ) -> None:
    now = service.desk.clock()
    with service.pipeline.transaction() as session:
        before = agents.set_available(session, actor.id, available)
        audit.record(session, actor=actor.label, action="availability",
                     subject=f"agent:{actor.login}", now=now, address=address,
                     detail={"before": before, "after": available})


def switch_auto_assign(service: Any, actor: Actor, on: bool, address: str | None) -> None:
    """A lead turns automatic assignment on or off (403 for anyone else)."""
    now = service.desk.clock()
    subject = f"option:{assignment.OPTION}"
    if not actor.is_lead:
        _audit(service, actor, "auto_assign_refused", subject, now, address,
               {"reason": "lead only", "wanted": on})
        raise Refused("lead_only")
    with service.pipeline.transaction() as session:
        before = assignment.switch(session, on, actor=actor.label, now=now)
        audit.record(session, actor=actor.label, action="auto_assign", subject=subject,
                     now=now, address=address, detail={"before": before, "after": on})


def _back(form: dict[str, Any], default: str = "/console/cases") -> str:
    """Where to go after a change: the list the form was on (only a console list)."""
    target = str(form.get("next") or "")
    if target.startswith("/console/cases") and not target.startswith("//") \
            and "\\" not in target and len(target) <= 500:
        return target
    return default


@router.post("/cases/{number}/take")
async def take(request: Request, number: str) -> Response:
    service, _ = desk_of(request)
    seat = None
    try:
        seat, form = await _checked(request)
        await store_call(service, take_case, service, seat.actor, number,
                         auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    return RedirectResponse(_back(form, "/console/cases?view=mine"), status_code=303)


def _flag(form: dict[str, Any], name: str) -> bool:
    value = str(form.get(name) or "").strip().lower()
    if value not in FLAGS:
        raise refusal("bad_flag", 422, name=name)
    return FLAGS[value]


@router.post("/availability")
async def availability(request: Request) -> Response:
    service, _ = desk_of(request)

    async def act(seat: Seat, form: dict[str, Any]) -> Response:
        await store_call(service, set_availability, service, seat.actor,
                         _flag(form, "available"), auth.address_of(request))
        return RedirectResponse(_back(form), status_code=303)

    return await changed(request, act)


@router.post("/options/auto-assign")
async def auto_assign(request: Request) -> Response:
    service, _ = desk_of(request)

    async def act(seat: Seat, form: dict[str, Any]) -> Response:
        await store_call(service, switch_auto_assign, service, seat.actor, _flag(form, "on"),
                         auth.address_of(request))
        return RedirectResponse(_back(form), status_code=303)

    return await changed(request, act)
