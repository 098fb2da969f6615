"""The reports in the console, for leads: the dashboard at /console/reports (a period and
filters), its downloads (cases and the regulatory report, CSV or XLSX), a lead's "recompute
now" of the groups of similar complaints, and an agent's correction of a case's JR/T 0169
dimensions (on the case page)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from workflow import catalog

from ..cases import alerts, views
from ..cases.lists import Refusal, _audit, _today
from ..console import auth
from ..console.routes import _checked, _refused, _seat, _SignedOut, _to_login, changed
from ..console.rules import Actor, Refused, text
from ..console.web import HEADERS, desk_of, render
from ..endpoints.common import store_call
from ..store.db import reading
from . import clusters, exports, figures, schedule, svg
from . import regulatory as jrt

router = APIRouter(prefix="/console", include_in_schema=False)
DEFAULT_DAYS = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHOICES = figures.CHOICES


def refusal(code: str, status: int = 403, **values: str) -> Refusal:
    return Refusal("reports", code, status, **values)


@dataclass(frozen=True)
class Query:
    period: figures.Period
    by: str


def _day(raw: str | None, name: str, default: date) -> date:
    text = (raw or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 else date.fromisoformat(text)
    except ValueError:
        raise refusal("bad_date", 422, name=name, value=text[:20]) from None


def parse(params: Any, today: date) -> Query:
    """The period (from/to, days of receipt, both included; default the last 30 days), the
    bucket (day/week) and the filters from the URL; anything unknown is refused (422)."""
    end = _day(params.get("to"), "to", today)
    try:
        start = _day(params.get("from"), "from", end - timedelta(days=DEFAULT_DAYS - 1))
    except OverflowError:  # "to" on the first days of year 1
        raise refusal("bad_period", 422, days=str(figures.MAX_DAYS)) from None
    by = params.get("by") or ("week" if (end - start).days > 92 else "day")
    if by not in figures.BUCKETS:
        raise refusal("bad_bucket", 422, choices=", ".join(figures.BUCKETS))
    chosen: dict[str, str | None] = {}
    for name, choices in CHOICES.items():
        value = params.get(name) or None
        if value is not None and value not in choices:
            raise refusal("bad_filter", 422, name=name, choices=", ".join(choices))
        chosen[name] = value
    try:
        period = figures.Period(start, end, figures.Filters(**chosen))
    except ValueError:
        raise refusal("bad_period", 422, days=str(figures.MAX_DAYS)) from None
    return Query(period, by)


def _lead(actor: Actor) -> None:
    if not actor.is_lead:
        raise refusal("lead_only", 403)


def table_of(service: Any) -> jrt.Table:
    return jrt.load(service.settings.regulatory_file)


def read(service: Any, actor: Actor, query: Query) -> dict[str, Any]:
    """Everything the dashboard shows, in one read session (groups as the last refresh
    stored them)."""
    _lead(actor)
    today = _today(service)
    table = table_of(service)
    with reading(service.sessions) as session:
        figures_ = figures.summary(session, query.period, today,
                                   today + timedelta(days=alerts.NEAR_DAYS), query.by)
        regulatory = [jrt.labelled(table, row, actor.lang)
                      for row in figures.regulatory(session, query.period)]
        groups = clusters.stored(session, query.period)
        refreshed = clusters.refreshed_at(session)
        banners = alerts.for_actor(session, actor, today)
    return {"figures": figures_, "regulatory": regulatory, "groups": groups,
            "refreshed_at": refreshed, "alerts": banners, "today": today.isoformat(),
            "table_source": table.source}


def namer(lang: str) -> Any:
    """`name(group, key)`: how the page names a category, business line, channel, priority,
    status or call-back reason."""
    def name(group: str, key: str | None) -> str:
        if not key or key == "none":
            return "—"
        if group in ("category", "business", "priority"):
            return catalog.label(lang, group, key)
        prefix = {"channel": "channel_label", "status": "case_page.status",
                  "callback": "callback_label"}[group]
        return text(lang, f"{prefix}.{key}")

    return name


def charts(lang: str, view: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's charts as inline SVG (each is also a table on the page)."""
    f = view["figures"]
    name = namer(lang)
    out: dict[str, Any] = {
        group: svg.bars([(name(group, k), n) for k, n in f[f"by_{group}"].items()],
                        title=text(lang, f"reports.by_{group}"), chart=group)
        for group in figures.GROUPS}
    out["over_time"] = svg.columns([(b["start"], b["total"]) for b in f["over_time"]],
                                   title=text(lang, "reports.over_time"), chart="over_time")
    out["satisfaction"] = svg.bars(
        [(f"{k} ★", n) for k, n in f["satisfaction"]["distribution"].items()],
        title=text(lang, "reports.satisfaction"), chart="satisfaction")
    return out


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    try:
        query = parse(request.query_params, _today(service))
        view = await store_call(service, read, service, seat.actor, query)
    except Refused as refused:
        return _refused(request, seat, refused)
    params = _params(query)
    lang = seat.actor.lang
    return render("reports.html", lang, 200, service.settings.zone, seat=seat, page="reports",
                  query=query, params=params, choices=CHOICES, charts=charts(lang, view),
                  named=namer(lang), groups_list=figures.GROUPS,
                  export=lambda kind, fmt: "/console/reports/export?" + urlencode(
                      {**params, "kind": kind, "format": fmt}),
                  alerts=view.pop("alerts"), **view)


def _params(query: Query) -> dict[str, str]:
    return {"from": query.period.start.isoformat(), "to": query.period.end.isoformat(),
            "by": query.by, **query.period.filters.chosen()}


@router.get("/reports/export")
async def export(request: Request) -> Response:
    """A download of the period's cases or its regulatory report (lead only; audited once
    the file is written, a refusal too)."""
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    actor = seat.actor
    address = auth.address_of(request)
    kind = request.query_params.get("kind") or "cases"
    try:
        if not actor.is_lead:
            await store_call(service, _audit, service, actor, "report_export_refused",
                             "reports", service.desk.clock(), address, {"kind": kind[:20]})
            _lead(actor)
        fmt = request.query_params.get("format") or "csv"
        if kind not in exports.KINDS:
            raise refusal("bad_kind", 422, choices=", ".join(exports.KINDS))
        if fmt not in exports.FORMATS:
            raise refusal("bad_format", 422, choices=", ".join(exports.FORMATS))
        query = parse(request.query_params, _today(service))
    except Refused as refused:
        return _refused(request, seat, refused)
    period = query.period
    # Written to a temporary file first: no database session waits on a slow download,
    # and a failure is an error page, not a truncated file.
    path, rows = await run_in_threadpool(export_file, service, period, kind, fmt, actor.lang)
    await store_call(service, _audit, service, actor, "report_export", "reports",
                     service.desk.clock(), address,
                     {"kind": kind, "format": fmt, "rows": rows, **_params(query)})
    name = f"{kind}-{period.start.isoformat()}-{period.end.isoformat()}.{fmt}"
    headers = {**HEADERS, "Content-Disposition": f"attachment; filename=\"{name}\"; "
               f"filename*=UTF-8''{quote(name)}"}
    return FileResponse(path, media_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
                        headers=headers, background=BackgroundTask(os.unlink, path))


def export_file(service: Any, period: figures.Period, kind: str, fmt: str, lang: str
                ) -> tuple[Path, int]:
    """The export in a temporary file (the caller deletes it), and its rows."""
    table = table_of(service)
    handle, name = tempfile.mkstemp(suffix=f".{fmt}", prefix="intake-report-")
    os.close(handle)
    path = Path(name)
    try:
        with reading(service.sessions) as session:
            if kind == "cases":
                head = exports.case_headers(table, lang)
                rows: Any = exports.case_rows(session, period, table, lang,
                                              service.settings.zone)
            else:
                head = list(exports.REGULATORY_HEADERS)
                rows = exports.regulatory_rows(session, period, table, lang)
            if fmt == "csv":
                with open(path, "w", encoding="utf-8", newline="") as out:
                    written = exports.write_csv(head, rows, out)
            else:
                sheets: list[tuple[str, list[str], Any]] = [(kind, head, rows)]
                if kind == "cases":
                    sheets.append(("regulatory", list(exports.REGULATORY_HEADERS),
                                   exports.regulatory_rows(session, period, table, lang)))
                written = exports.write_xlsx(path, sheets)
                if kind == "cases":
                    written -= len(sheets[1][2])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, written


@router.post("/reports/refresh")
async def refresh(request: Request) -> Response:
    """A lead recomputes the groups of similar complaints now (audited)."""
    service, _ = desk_of(request)

    async def act(seat: Any, form: dict[str, Any]) -> Response:
        actor = seat.actor
        if not actor.is_lead:
            raise refusal("lead_only", 403)
        done = await asyncio.to_thread(schedule.refresh_now, service, scheduled=False)
        await store_call(service, _audit, service, actor, "reports_refresh", "reports",
                         service.desk.clock(), auth.address_of(request),
                         {"indexed": done.indexed, "groups": done.groups,
                          "alerts": len(done.alerts)})
        back = str(form.get("next") or "/console/reports")
        if not back.startswith("/console/reports") or "\\" in back or len(back) > 500:
            back = "/console/reports"
        return RedirectResponse(back, status_code=303)

    return await changed(request, act)


def correct_regulatory(service: Any, actor: Actor, number: str, form: dict[str, str],
                       address: str | None) -> None:
    """An agent who may change the case sets its JR/T 0169 dimensions, with a reason."""
    table = table_of(service)
    chosen = {d: form[d] for d in jrt.DIMENSIONS if form.get(d)}
    if not chosen:
        raise refusal("no_dimension", 422)

    def act(session: Any, case: Any, now: datetime) -> dict[str, Any]:
        views.may_change(actor, case)
        try:
            changed_ = jrt.correct(session, case, chosen, form.get("note", ""),
                                   table=table, actor=actor.label, now=now)
        except jrt.Invalid as invalid:
            raise refusal(f"regulatory_{invalid.code}", 422, **invalid.values) from None
        return {"changed": changed_, **chosen}

    views.change(service, actor, number, "regulatory", act, address)


@router.post("/cases/{number}/regulatory")
async def regulatory_form(request: Request, number: str) -> Response:
    service, _ = desk_of(request)
    seat = None
    try:
        seat, form = await _checked(request)
        await store_call(service, correct_regulatory, service, seat.actor, number,
                         {k: str(v)[:2000] for k, v in form.items()},
                         auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    return RedirectResponse(f"/console/cases/{quote(number.upper(), safe='')}",
                            status_code=303)
