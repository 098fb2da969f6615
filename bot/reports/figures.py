"""The reports' figures for a period and filters, each computed in the database (grouping,
counting and percentiles in SQL; no case is loaded into Python).

A period is a range of days of receipt (`cases.filed_on`, the institution's local date),
both ends included; every figure is of the cases received in it that match the filters.
Open, near due and overdue are as of `today`. Percentiles are nearest-rank: the p-th
percentile of n values is the ceil(p*n)-th smallest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import KeyedColumnElement

from workflow.classify import BUSINESS_LINES, CATEGORIES, PRIORITIES

from ..cases import lifecycle
from ..store.cases import CHANNELS, OPEN_EXCLUDES, PERSON_CHANNELS
from ..store.models import Case, CaseTerm

GROUPS = ("category", "business", "channel", "priority", "status")
BUCKETS = ("day", "week")
RATINGS = (1, 2, 3, 4, 5)
MAX_DAYS = 3 * 366  # the longest period a report covers
# The days a period may cover: the one before it (hot topics compare) stays a real date.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9000, 12, 31)
# What each filter may be.
CHOICES: dict[str, tuple[str, ...]] = {
    "category": CATEGORIES, "business": BUSINESS_LINES, "channel": CHANNELS,
    "priority": PRIORITIES, "status": (*lifecycle.STATUSES, *lifecycle.LEGACY)}


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    business: str | None = None
    channel: str | None = None
    priority: str | None = None
    status: str | None = None

    def chosen(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    filters: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        for name, value in self.filters.chosen().items():
            if value not in CHOICES[name]:
                raise ValueError(f"unknown {name} {value!r}; one of {', '.join(CHOICES[name])}")
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        if not FIRST_DAY <= self.start <= self.end <= LAST_DAY:
            raise ValueError(f"a period lies between {FIRST_DAY} and {LAST_DAY}")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"a period is at most {MAX_DAYS} days")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def where(period: Period) -> list[ColumnElement[bool]]:
    """The period and filters as conditions on `cases` (what every figure counts)."""
    out: list[ColumnElement[bool]] = [Case.filed_on >= period.start,
                                      Case.filed_on <= period.end]
    for name, value in period.filters.chosen().items():
        out.append(getattr(Case, name) == value)
    return out


def _is_open() -> ColumnElement[bool]:
    return Case.status.not_in(OPEN_EXCLUDES)


def total(session: Session, period: Period) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(*where(period))) or 0


def counts_by(session: Session, period: Period, name: str) -> dict[str, int]:
    """{value: cases} of one of GROUPS, largest first (ties by value)."""
    if name not in GROUPS:
        raise ValueError(f"unknown grouping {name!r}; one of {', '.join(GROUPS)}")
    column = getattr(Case, name)
    rows = session.execute(select(column, func.count()).where(*where(period))
                           .group_by(column)).all()
    return _ordered((str(k) if k is not None else "none", n) for k, n in rows)


def _ordered(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def over_time(session: Session, period: Period, by: str = "day") -> list[dict[str, Any]]:
    """Cases received per day (or per week, weeks starting on Monday), every bucket of the
    period listed, empty ones as 0; each bucket split by category."""
    if by not in BUCKETS:
        raise ValueError(f"unknown bucket {by!r}; one of {', '.join(BUCKETS)}")
    rows = session.execute(select(Case.filed_on, Case.category, func.count())
                           .where(*where(period)).group_by(Case.filed_on, Case.category)).all()

    def bucket(day: date) -> date:
        return day - timedelta(days=day.weekday()) if by == "week" else day

    out: dict[date, dict[str, Any]] = {}
    day = period.start
    while day <= period.end:
        out.setdefault(bucket(day), {"start": bucket(day), "total": 0, "by_category": {}})
        day += timedelta(days=1)
    for filed_on, category, n in rows:
        entry = out[bucket(as_date(filed_on))]
        entry["total"] += n
        entry["by_category"][category] = entry["by_category"].get(category, 0) + n
    return [out[k] for k in sorted(out)]


def as_date(value: Any) -> date:
    """A DATE column's value (SQLite may hand back its text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def deadlines(session: Session, period: Period, today: date, near_until: date
              ) -> dict[str, int]:
    """Open cases, those due from today to `near_until`, and those past due."""
    is_open = _is_open()
    row = session.execute(select(
        func.count().filter(is_open),
        func.count().filter(and_(is_open, Case.due_date >= today, Case.due_date <= near_until)),
        func.count().filter(and_(is_open, Case.due_date < today)),
    ).where(*where(period))).one()
    return {"open": row[0] or 0, "near_due": row[1] or 0, "overdue": row[2] or 0}


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * literal(86400.0)


DURATIONS = {"first_response": Case.first_response_at, "resolution": Case.resolved_at}


def duration(session: Session, period: Period, kind: str,
             percentiles: tuple[float, ...] = (0.5, 0.9)) -> dict[str, Any]:
    """Time from receipt to a person's first answer ("first_response") or to the last
    resolution ("resolution"), over the cases that have one: n and nearest-rank
    percentiles in whole seconds ({"p50": ..., "p90": ...})."""
    column: KeyedColumnElement[Any] = DURATIONS[kind]
    conditions = [*where(period), column.is_not(None)]
    seconds = _seconds(session, column, Case.filed_at)
    keys = [f"p{round(p * 100)}" for p in percentiles]
    if session.get_bind().dialect.name == "postgresql":
        # One sort for every percentile: percentile_disc over an array of fractions.
        n, values = session.execute(select(
            func.count(), func.percentile_disc(postgresql.array(percentiles))
            .within_group(seconds)).where(*conditions)).one()
        values = list(values or [None] * len(keys))
    else:
        # SQLite has no percentile: it sorts the durations once; the ranks are read off.
        ordered = session.scalars(select(seconds).where(*conditions).order_by(seconds)).all()
        n = len(ordered)
        values = [ordered[max(1, math.ceil(p * n)) - 1] if n else None for p in percentiles]
    out: dict[str, Any] = {"n": n or 0}
    for key, value in zip(keys, values, strict=True):
        out[key] = max(0, round(float(value))) if value is not None else None
    return out


def satisfaction(session: Session, period: Period) -> dict[str, Any]:
    """Ratings: how many customers were asked (resolved cases with a conversation: the bot
    asks on their channel), how many answered, the mean and the count per score."""
    asked_when = and_(Case.conversation_id.is_not(None),
                      Case.status.in_(("resolved", "closed")) | Case.rating.is_not(None))
    head = session.execute(select(func.count().filter(asked_when),
                                  func.count(Case.rating),
                                  func.avg(cast(Case.rating, Float)))
                           .where(*where(period))).one()
    asked, rated, mean = head[0] or 0, head[1] or 0, head[2]
    spread = dict(session.execute(select(Case.rating, func.count())
                                  .where(*where(period), Case.rating.is_not(None))
                                  .group_by(Case.rating)).all())
    return {"asked": asked, "rated": rated,
            "share": round(rated / asked, 4) if asked else None,
            "mean": round(float(mean), 2) if mean is not None else None,
            "distribution": {str(r): int(spread.get(r, 0)) for r in RATINGS}}


def bot_filed(session: Session, period: Period) -> dict[str, Any]:
    """Complaints the bot filed with no person in the conversation, of all received."""
    row = session.execute(select(func.count(), func.count().filter(Case.filed_by_bot.is_(True)))
                          .where(*where(period))).one()
    n, bot = row[0] or 0, row[1] or 0
    return {"total": n, "bot": bot, "share": round(bot / n, 4) if n else None,
            "person_channels": list(PERSON_CHANNELS)}


def callbacks(session: Session, period: Period) -> dict[str, int]:
    """Call-backs outstanding (an agent must phone the customer), by reason."""
    rows = session.execute(select(Case.callback_reason, func.count())
                           .where(*where(period), Case.callback_reason.is_not(None))
                           .group_by(Case.callback_reason)).all()
    return _ordered((str(k), n) for k, n in rows)


def regulatory(session: Session, period: Period) -> list[dict[str, Any]]:
    """Cases per JR/T 0169 channel, business type and reason (keys; "unknown" where the
    engine gave none), largest first."""
    columns = (Case.reg_channel, Case.reg_business, Case.reg_reason)
    rows = session.execute(select(*columns, func.count()).where(*where(period))
                           .group_by(*columns)).all()
    out = [{"channel": c or "unknown", "business_type": b or "other", "reason": r or "other",
            "count": n} for c, b, r, n in rows]
    merged: dict[tuple[str, str, str], int] = {}
    for row in out:  # a missing key and its stand-in are one row
        key = (row["channel"], row["business_type"], row["reason"])
        merged[key] = merged.get(key, 0) + row["count"]
    return [{"channel": k[0], "business_type": k[1], "reason": k[2], "count": n}
            for k, n in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))]


def hot_terms(session: Session, period: Period, limit: int = 20) -> list[dict[str, Any]]:
    """The key terms most cases of the period share, with their count in the period before
    of the same length (how a topic moves)."""
    previous = Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1),
                      period.filters)

    def counted(p: Period, terms: list[str] | None) -> dict[str, int]:
        query = select(CaseTerm.term, func.count()).where(CaseTerm.filed_on >= p.start,
                                                         CaseTerm.filed_on <= p.end)
        chosen = p.filters.chosen()
        if chosen:
            query = query.join(Case, Case.id == CaseTerm.case_id).where(*where(p))
        if terms is not None:
            query = query.where(CaseTerm.term.in_(terms))
        query = query.group_by(CaseTerm.term)
        if terms is None:
            query = query.order_by(func.count().desc(), CaseTerm.term).limit(limit)
        return dict(session.execute(query).all())

    now = counted(period, None)
    before = counted(previous, list(now)) if now else {}
    return [{"term": t, "cases": n, "before": before.get(t, 0)}
            for t, n in sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))]


def summary(session: Session, period: Period, today: date, near_until: date,
            by: str = "day") -> dict[str, Any]:
    """Every figure of the dashboard for the period."""
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(),
                   "filters": period.filters.chosen(), "by": by},
        "total": total(session, period),
        **{f"by_{name}": counts_by(session, period, name) for name in GROUPS},
        "over_time": [{**b, "start": b["start"].isoformat()}
                      for b in over_time(session, period, by)],
        **deadlines(session, period, today, near_until),
        "first_response": duration(session, period, "first_response"),
        "resolution": duration(session, period, "resolution"),
        "satisfaction": satisfaction(session, period),
        "bot_filed": bot_filed(session, period),
        "callbacks": callbacks(session, period),
        "hot_terms": hot_terms(session, period),
    }
