"""Owner of `cases`, `case_events` and `case_counters`: filed complaints and their audit trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import raw
from .models import Case, CaseCounter, CaseEvent

# The fields of the brief, in the brief's order, as `--json` and exports name them.
FIELDS = ("name", "phone", "business", "description", "incident_time", "resolution", "amount",
          "currency", "branch", "category", "secondary_categories", "priority")


def next_number(session: Session, day: date, prefix: str) -> str:
    """A new case number for `day`, e.g. TS20261128-0042: unique under concurrency.

    One atomic upsert per number: concurrent transactions queue on the day's counter row.
    """
    key = day.strftime("%Y%m%d")
    statement = _NEXT_NUMBER[session.get_bind().dialect.name]
    last = statement.run(session, {"day": key}).fetchone()[0]
    return f"{prefix}{key}-{last:04d}"


_counters = CaseCounter.__table__
_NEXT_NUMBER = {
    name: raw.Statement(flavour.insert(_counters).values(day=bindparam("day"), last=1)
                        .on_conflict_do_update(index_elements=[_counters.c.day],
                                               set_={"last": _counters.c.last + 1})
                        .returning(_counters.c.last))
    for name, flavour in (("sqlite", sqlite), ("postgresql", postgresql))}


# Every channel a case comes from.
CHANNELS = ("webchat", "telegram", "wechat", "hotline", "branch")
# Channels where a person takes the complaint: it is answered by a person from the start.
PERSON_CHANNELS = ("hotline", "branch")
# Case events by an agent that answer the customer (the first one is the first response).
RESPONSES = ("status_changed", "callback", "extended")


@event.listens_for(Case.description, "set")
@event.listens_for(Case.business, "set")
def _terms_stale(target: Case, value: Any, old: Any, _initiator: Any) -> None:
    """A new description or business line: the case's key terms are stored again by the
    reports' next refresh (bot/reports/clusters.py)."""
    if value != old:
        target.terms_at = None


def file(session: Session, draft: dict[str, Any], *, number: str, customer_id: int,
         conversation_id: int | None, channel: str, now: datetime, due: date,
         actor: str = "customer", received: date | None = None, by_bot: bool = False) -> Case:
    """Store the engine's case draft as a new case, with its `filed` audit event.
    `received`: the day of receipt in the institution's zone; `by_bot`: the bot filed it with
    no person in the conversation."""
    regulatory = draft.get("regulatory") or {}
    case = Case(
        number=number, customer_id=customer_id, conversation_id=conversation_id,
        channel=channel, language=draft.get("language") or "zh",
        name=draft.get("name"), phone=draft.get("phone"), business=draft.get("business"),
        description=draft.get("description") or "",
        incident_time=_date(draft.get("incident_time")),
        incident_time_text=draft.get("incident_time_text"),
        resolution=draft.get("resolution"), amount=_amount(draft.get("amount")),
        currency=draft.get("currency"), branch=draft.get("branch"),
        category=draft.get("category") or "service",
        secondary_categories=list(draft.get("secondary_categories") or []),
        priority=draft.get("priority") or "normal", reasons=draft.get("reasons") or {},
        regulatory=regulatory, missing=list(draft.get("missing") or []),
        status="new", due_date=due, filed_at=now, updated_at=now,
        filed_on=received or now.date(), filed_by_bot=by_bot,
        first_response_at=now if channel in PERSON_CHANNELS else None,
        reg_channel=regulatory.get("channel"), reg_business=regulatory.get("business_type"),
        reg_reason=regulatory.get("reason"),
    )
    session.add(case)
    session.flush()
    record(session, case, actor=actor, action="filed", before=None, after=to_dict(case), now=now)
    return case


def record(session: Session, case: Case, *, actor: str, action: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None, now: datetime) -> None:
    if action in RESPONSES and actor.startswith("agent:"):
        responded(case, now)
    session.add(CaseEvent(case_id=case.id, actor=actor, action=action, before=before,
                          after=after, at=now))


def responded(case: Case, now: datetime) -> None:
    """A person answered the customer: the first time is the case's first response."""
    if case.first_response_at is None:
        case.first_response_at = now


def responded_in_conversation(session: Session, conversation_id: int, now: datetime) -> None:
    """An agent wrote to the customer in this conversation: the first response of its case
    filed before now that has none yet (one statement; no case: nothing)."""
    session.execute(update(Case).where(Case.conversation_id == conversation_id,
                                       Case.first_response_at.is_(None),
                                       Case.filed_at <= now)
                    .values(first_response_at=now).execution_options(synchronize_session=False))


def flag_callback(session: Session, case: Case, reason: str, now: datetime, *,
                  detail: str | None = None, actor: str = "system") -> None:
    """Mark the case for an agent to call the customer back (kept until an agent clears it)."""
    before = {"callback_reason": case.callback_reason}
    if case.callback_reason is None:
        case.callback_reason, case.callback_at = reason, now
        case.updated_at = now
    record(session, case, actor=actor, action="callback_needed", before=before,
           after={"callback_reason": reason, "detail": detail}, now=now)


def clear_callback(session: Session, case: Case, reasons: tuple[str, ...], now: datetime, *,
                   actor: str) -> None:
    """The call-back is no longer needed (a person has the customer now)."""
    if case.callback_reason not in reasons:
        return
    before = {"callback_reason": case.callback_reason}
    case.callback_reason, case.callback_at, case.updated_at = None, None, now
    record(session, case, actor=actor, action="callback_cleared", before=before,
           after={"callback_reason": None}, now=now)


def last_filed_at(session: Session, conversation_id: int) -> datetime | None:
    """When this conversation's latest case was filed (None: it has none)."""
    return session.scalar(select(func.max(Case.filed_at))
                          .where(Case.conversation_id == conversation_id))


def latest_for_conversation(session: Session, conversation_id: int) -> Case | None:
    return session.scalar(select(Case).where(Case.conversation_id == conversation_id)
                          .order_by(Case.id.desc()).limit(1))


def find_for_customer(session: Session, number: str, customer_id: int) -> Case | None:
    """A case by number, only if this customer owns it (status queries answer no one else)."""
    return session.scalar(select(Case).where(Case.number == number.upper(),
                                             Case.customer_id == customer_id))


def by_number(session: Session, number: str) -> Case | None:
    return session.scalar(select(Case).where(Case.number == number.upper()))


def latest(session: Session, limit: int = 50, offset: int = 0) -> list[Case]:
    return list(session.scalars(select(Case).order_by(Case.id.desc()).limit(limit)
                                .offset(offset)))


def events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                .order_by(CaseEvent.id)))


def last_update(session: Session, case: Case) -> datetime:
    at = session.scalar(select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id))
    return at or case.updated_at


def to_dict(case: Case) -> dict[str, Any]:
    """The case with the brief's field names plus number, status, channel and due_date."""
    amount = case.amount
    return {
        "number": case.number,
        "status": case.status,
        "channel": case.channel,
        "due_date": case.due_date.isoformat(),
        "filed_at": case.filed_at.isoformat() if case.filed_at else None,
        "name": case.name,
        "phone": case.phone,
        "business": case.business,
        "description": case.description,
        "incident_time": case.incident_time.isoformat() if case.incident_time else None,
        "incident_time_text": case.incident_time_text,
        "resolution": case.resolution,
        "amount": _number(amount) if amount is not None else None,
        "currency": case.currency,
        "branch": case.branch,
        "category": case.category,
        "secondary_categories": list(case.secondary_categories or []),
        "priority": case.priority,
        "reasons": case.reasons,
        "regulatory": case.regulatory,
        "missing": list(case.missing or []),
        "callback_reason": case.callback_reason,
        "language": case.language,
    }


def _number(value: Decimal) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


OPEN_EXCLUDES = ("resolved", "closed")


def open_cases(session: Session, *, agent_id: int | None = None, include_unassigned: bool = True,
               channel: str | None = None, business: str | None = None,
               priority: str | None = None, status: str | None = None,
               overdue_on: date | None = None, limit: int = 200) -> list[Case]:
    """Cases not yet resolved, filtered; `agent_id`: only that agent's (and the unassigned
    ones when `include_unassigned`). `overdue_on`: only those due before that day."""
    query = select(Case).where(Case.status.not_in(OPEN_EXCLUDES))
    if agent_id is not None:
        mine = Case.agent_id == agent_id
        query = query.where(mine | Case.agent_id.is_(None) if include_unassigned else mine)
    if channel:
        query = query.where(Case.channel == channel)
    if business:
        query = query.where(Case.business == business)
    if priority:
        query = query.where(Case.priority == priority)
    if status:
        query = query.where(Case.status == status)
    if overdue_on is not None:
        query = query.where(Case.due_date < overdue_on)
    return list(session.scalars(query.order_by(Case.due_date, Case.id).limit(limit)))


def count_open(session: Session, *, overdue_on: date | None = None, callback: bool = False,
               agent_id: int | None = None) -> int:
    """Open cases (due before `overdue_on`; flagged for a call-back); `agent_id`: only that
    agent's and the unassigned ones."""
    query = select(func.count()).select_from(Case).where(Case.status.not_in(OPEN_EXCLUDES))
    if overdue_on is not None:
        query = query.where(Case.due_date < overdue_on)
    if callback:
        query = query.where(Case.callback_reason.is_not(None))
    if agent_id is not None:
        query = query.where((Case.agent_id == agent_id) | Case.agent_id.is_(None))
    return session.scalar(query) or 0


def of_conversations(session: Session, conversation_ids: list[int]) -> list[Case]:
    if not conversation_ids:
        return []
    return list(session.scalars(select(Case).where(Case.conversation_id.in_(conversation_ids))
                                .order_by(Case.id)))


def of_customer(session: Session, customer_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.customer_id == customer_id)
                                .order_by(Case.id)))


def locked(session: Session, case_id: int) -> Case | None:
    """The case, read afresh and locked for this transaction (changes to it take turns)."""
    return session.scalar(select(Case).where(Case.id == case_id).with_for_update()
                          .execution_options(populate_existing=True))
