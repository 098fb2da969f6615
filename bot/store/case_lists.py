"""The console's case lists, read from `cases` (owned by bot/store/cases.py): my cases,
unassigned, all, near due, overdue, review requested, the call-back list, and the open
work per agent. Everything is filtered, counted and ordered in SQL.

Open means not resolved and not closed: bot.cases.lifecycle.OPEN and the legacy "open"
(the same rule as the queue, `cases.OPEN_EXCLUDES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from .cases import OPEN_EXCLUDES
from .models import CallTranscript, Case, CaseEvent

VIEWS = ("mine", "unassigned", "all", "near_due", "overdue", "review")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class Scope:
    """Who is looking, and when: `me` the agent's id; `everyone` a lead (sees every case);
    `today` in the service's zone; `near_until` the last day counted as near due."""

    me: int
    everyone: bool
    today: date
    near_until: date


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    business: str | None = None
    priority: str | None = None
    status: str | None = None


def _open() -> ColumnElement[bool]:
    return Case.status.not_in(OPEN_EXCLUDES)


def _visible(scope: Scope) -> ColumnElement[bool]:
    """A lead sees every case; an agent their own and the unassigned ones."""
    if scope.everyone:
        return true()
    return or_(Case.agent_id == scope.me, Case.agent_id.is_(None))


def _view(view: str, scope: Scope) -> ColumnElement[bool]:
    if view == "mine":
        return and_(_open(), Case.agent_id == scope.me)
    if view == "unassigned":
        return and_(_open(), Case.agent_id.is_(None))
    if view == "all":
        return true()
    if view == "near_due":
        return and_(_open(), Case.due_date >= scope.today, Case.due_date <= scope.near_until)
    if view == "overdue":
        return and_(_open(), Case.due_date < scope.today)
    if view == "review":
        return and_(_open(), or_(Case.review_requested.is_(True),
                                 Case.status == "review_requested"))
    raise ValueError(f"unknown view {view!r}")


def _filtered(filters: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.channel:
        out.append(Case.channel == filters.channel)
    if filters.business:
        out.append(Case.business == filters.business)
    if filters.priority:
        out.append(Case.priority == filters.priority)
    if filters.status:
        out.append(Case.status == filters.status)
    return out


def listed(session: Session, view: str, scope: Scope, filters: Filters = Filters(), *,
           limit: int = 100, offset: int = 0) -> list[Case]:
    """The view's cases: overdue first, then by priority, then the earliest due
    (rules.case_key, in SQL)."""
    overdue = when((and_(_open(), Case.due_date < scope.today), 0), else_=1)
    rank = when(PRIORITY_RANK, value=Case.priority, else_=9)
    query = (select(Case).where(_view(view, scope), _visible(scope), *_filtered(filters))
             .order_by(overdue, rank, Case.due_date, Case.filed_at, Case.id)
             .limit(limit).offset(offset))
    return list(session.scalars(query))


def counts(session: Session, scope: Scope, filters: Filters = Filters()) -> dict[str, int]:
    """How many cases each view holds (with the same filters), and the open ones due today,
    in one query."""
    columns = [func.count(when((_view(v, scope), 1))).label(v) for v in VIEWS]
    columns.append(func.count(when((and_(_open(), Case.due_date == scope.today), 1)))
                   .label("due_today"))
    row = session.execute(select(*columns).select_from(Case)
                          .where(_visible(scope), *_filtered(filters))).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def overdue_of(session: Session, agent_id: int, today: date, limit: int = 3
               ) -> tuple[int, list[Case]]:
    """The agent's own open cases past their due date: how many, and the first `limit`."""
    where = (_open(), Case.agent_id == agent_id, Case.due_date < today)
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    first = list(session.scalars(select(Case).where(*where)
                                 .order_by(Case.due_date, Case.id).limit(limit)))
    return total, first


def open_load(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """Open cases per agent (agents without any are absent)."""
    if not agent_ids:
        return {}
    rows = session.execute(select(Case.agent_id, func.count()).where(
        _open(), Case.agent_id.in_(agent_ids)).group_by(Case.agent_id))
    return {agent_id: int(n) for agent_id, n in rows}


def callbacks(session: Session, scope: Scope, *, limit: int = 100, offset: int = 0
              ) -> list[tuple[Case, str | None]]:
    """Cases flagged for a call-back (oldest flag first), each with the number a hotline
    call came from (the one to ring when the case has no phone yet)."""
    query = (select(Case, CallTranscript.caller)
             .outerjoin(CallTranscript, CallTranscript.case_id == Case.id)
             .where(Case.callback_reason.is_not(None), _visible(scope))
             .order_by(Case.callback_at, Case.id).limit(limit).offset(offset))
    return [(case, caller) for case, caller in session.execute(query)]


def count_callbacks(session: Session, scope: Scope) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(
        Case.callback_reason.is_not(None), _visible(scope))) or 0


def attempts(session: Session, case_ids: list[int]) -> dict[int, list[CaseEvent]]:
    """The call-back calls recorded on these cases, oldest first."""
    if not case_ids:
        return {}
    out: dict[int, list[CaseEvent]] = {}
    for event in session.scalars(select(CaseEvent).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.action == "callback")
            .order_by(CaseEvent.id)):
        out.setdefault(event.case_id, []).append(event)
    return out
