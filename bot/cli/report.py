"""`intake report`: the reports of a period in the terminal: a summary, or one JSON object
(`--format json`), or the period's cases (or its regulatory report) as CSV or XLSX, with a
progress bar on stderr for large exports. ID-card and card numbers are masked."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bot.cases import alerts
from bot.reports import clusters, exports, figures
from bot.reports import regulatory as jrt
from bot.settings import Settings
from bot.store import audit
from bot.store.db import make_engine, make_sessionmaker, migrate, reading
from workflow.topics import KeyTerms

PROGRESS_MIN = 1000  # rows: smaller exports need no bar


def _period(start: date | None, end: date | None, today: date,
            filters: dict[str, str | None]) -> figures.Period:
    end = end or today
    start = start or end - timedelta(days=29)
    return figures.Period(start, end, figures.Filters(**filters))


def report_object(session: Session, period: figures.Period, today: date, table: jrt.Table,
                  lang: str, by: str, found: list[clusters.Group]) -> dict[str, Any]:
    """The `--format json` object: every figure of the dashboard, the groups of similar
    complaints found in the period and the regulatory table."""
    out = figures.summary(session, period, today, today + timedelta(days=alerts.NEAR_DAYS), by)
    out["clusters"] = [g.as_dict() for g in found]
    out["regulatory"] = [jrt.labelled(table, row, lang)
                         for row in figures.regulatory(session, period)]
    out["regulatory_codes"] = {"source": table.source, "verified": False}
    return out


@contextlib.contextmanager
def _bar(total: int, what: str) -> Iterator[Any]:
    if total < PROGRESS_MIN:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=" rows", desc=what, file=sys.stderr, mininterval=0.2) as bar:
        yield bar.update


def run(start: date | None, end: date | None, fmt: str | None, out: str | None,
        kind: str, by: str | None, lang: str, filters: dict[str, str | None]) -> int:
    settings = Settings()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        migrate(engine)
        sessions = make_sessionmaker(engine)
        zone = settings.zone
        today = datetime.now(UTC).astimezone(zone).date()
        try:  # an unknown filter value or a backwards period
            period = _period(start, end, today, filters)
        except ValueError as exc:
            print(f"intake report: {exc}", file=sys.stderr)
            return 2
        by = by or ("week" if period.days > 92 else "day")
        try:
            table = jrt.load(settings.regulatory_file)
        except jrt.BadTable as exc:
            print(f"intake report: {exc}", file=sys.stderr)
            return 2
        if fmt == "xlsx" and not out:
            print("intake report: --format xlsx needs --out FILE", file=sys.stderr)
            return 2
        if fmt in (None, "json"):
            code = _summary(sessions, period, today, table, lang, by, fmt, out, zone)
        else:
            code = _export(sessions, period, table, lang, fmt, out, kind, zone)
        now = datetime.now(UTC)
        with sessions.begin() as session:  # who took what out of the store, as the console
            audit.record(session, actor="cli", action="report_export", subject="reports",
                         now=now, detail={"kind": kind if fmt in ("csv", "xlsx") else "report",
                                          "format": fmt or "text", "out": out,
                                          "from": period.start.isoformat(),
                                          "to": period.end.isoformat(),
                                          **period.filters.chosen()})
        return code
    finally:
        engine.dispose()


def _summary(sessions: Any, period: figures.Period, today: date, table: jrt.Table, lang: str,
             by: str, fmt: str | None, out: str | None, zone: Any) -> int:
    # New cases' key terms first: the groups are found among indexed cases.
    clusters.index_new(sessions.begin, sessions, KeyTerms(), datetime.now(UTC))
    with reading(sessions) as session:
        # Growth is measured to the period's end; open and overdue are as of today, as on
        # the dashboard.
        found = clusters.find(session, period, min(today, period.end))
        data = report_object(session, period, today, table, lang, by, found)
    if fmt == "json":
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        if out:
            Path(out).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        return 0
    print(_text(data, table, lang))
    return 0


def _text(data: dict[str, Any], table: jrt.Table, lang: str) -> str:
    p = data["period"]
    lines = [f"Cases received {p['from']} to {p['to']}: {data['total']}",
             f"  open {data['open']}, due within {alerts.NEAR_DAYS} days {data['near_due']}, "
             f"overdue {data['overdue']}"]
    for name in figures.GROUPS:
        counts = ", ".join(f"{k} {n}" for k, n in data[f"by_{name}"].items()) or "-"
        lines.append(f"  by {name}: {counts}")
    for kind in ("first_response", "resolution"):
        d = data[kind]
        lines.append(f"  {kind.replace('_', ' ')}: n {d['n']}, median {_hours(d['p50'])}, "
                     f"p90 {_hours(d['p90'])}")
    s = data["satisfaction"]
    lines.append(f"  satisfaction: mean {s['mean']}, {s['rated']} of {s['asked']} answered")
    b = data["bot_filed"]
    lines.append(f"  filed by the bot alone: {b['bot']} of {b['total']}")
    lines.append(f"  call-backs outstanding: {sum(data['callbacks'].values())}")
    lines.append(f"Groups of similar complaints: {len(data['clusters'])}")
    for g in data["clusters"][:10]:
        flags = " ".join(f for f, on in (("GROWING", g["growing"]), ("MAJOR?", g["major"])) if on)
        lines.append(f"  {' + '.join(g['terms'])} ({g['business']}): {g['customers']} customers, "
                     f"{g['case_count']} cases, {g['amount']} claimed, {g['first']}..{g['last']} "
                     f"{flags}".rstrip())
    lines.append(f"Regulatory (JR/T 0169; codes from {table.source}, not verified):")
    for r in data["regulatory"][:15]:
        lines.append(f"  {r['channel_code']}/{r['business_type_code']}/{r['reason_code']} "
                     f"{r['channel_label']} / {r['business_type_label']} / {r['reason_label']}: "
                     f"{r['count']}")
    return "\n".join(lines)


def _hours(seconds: int | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def _export(sessions: Any, period: figures.Period, table: jrt.Table, lang: str, fmt: str,
            out: str | None, kind: str, zone: Any) -> int:
    with reading(sessions) as session:
        if kind == "regulatory":
            headers, rows = list(exports.REGULATORY_HEADERS), exports.regulatory_rows(
                session, period, table, lang)
            total: int = len(rows)
        else:
            headers = exports.case_headers(table, lang)
            total = figures.total(session, period)
            rows = exports.case_rows(session, period, table, lang, zone)
        with _bar(total, kind) as progress:
            if fmt == "xlsx":
                assert out is not None
                sheets: list[tuple[str, list[str], Any]] = [(kind, headers, rows)]
                if kind == "cases":
                    sheets.append(("regulatory", list(exports.REGULATORY_HEADERS),
                                   exports.regulatory_rows(session, period, table, lang)))
                written = exports.write_xlsx(Path(out), sheets, progress)
            elif out:
                with open(out, "w", encoding="utf-8", newline="") as handle:
                    written = exports.write_csv(headers, rows, handle, progress)
            else:
                written = exports.write_csv(headers, rows, sys.stdout, progress)
    if out:
        print(f"intake report: {written} rows written to {out}", file=sys.stderr)
    return 0
