"""Working a case, inside the caller's transaction: move it through its statuses, assign it,
add internal notes. Each change is a `case_events` row (who, when, before, after); a move the
customer cares about is told to them on their channel through the outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from workflow import catalog, classify, deadlines, feedback
from workflow.extract.phones import find_phones
from workflow.extract.sensitive import find_sensitive, redact
from workflow.model import State

from .. import outreach
from ..store import cases, conversations
from ..store.models import Agent, Case
from . import lifecycle

MAX_TEXT = 2000


def _clean(text: str | None) -> str | None:
    """Notes and outcomes as people will see them: card and ID numbers masked."""
    if text is None:
        return None
    text = text.replace("\x00", "").strip()[:MAX_TEXT]
    return redact(text, find_sensitive(text)) if text else None


def move(session: Session, case: Case, target: str, *, actor: str, now: datetime,
         note: str | None = None, outcome: str | None = None,
         today: date | None = None) -> lifecycle.Move:
    """Move the case (raises lifecycle.MoveRefused); tell the customer when it matters.
    `today`: the institution's local date (a review is due 30 days from its request)."""
    note, outcome = _clean(note), _clean(outcome)
    if case.conversation_id is not None:
        # The conversation first, as the message pipeline takes them: a customer's message
        # and this move never wait on each other's locks in opposite order.
        conversations.locked(session, case.conversation_id)
        session.refresh(case)
    done = lifecycle.check(case.status, target, outcome=outcome, note=note)
    before: dict[str, object] = {"status": case.status}
    case.status, case.updated_at = target, now
    after: dict[str, object] = {"status": target}
    if target == "resolved":
        case.outcome, case.resolved_at = outcome, now
        after["outcome"] = outcome
    elif target in ("reopened", "review_requested"):
        case.resolved_at = None  # open again: its time to resolution is yet to come
    if target == "review_requested":
        case.review_requested = True
        after["review_requested"] = True
        before["due_date"] = case.due_date.isoformat()
        case.due_date = deadlines.review_due(today or now.date())
        after["due_date"] = case.due_date.isoformat()
    if note:
        after["note"] = note
    cases.record(session, case, actor=actor, action="status_changed", before=before,
                 after=after, now=now)
    if done.tell_customer:
        tell(session, case, target, now)
    return done


def tell(session: Session, case: Case, status: str, now: datetime) -> None:
    """The customer hears of the move on their own channel; without one (a hotline call, a
    walk-in) or out of its reach, the case joins the call-back list. A resolved case also
    asks the customer to rate it (workflow.feedback)."""
    conv = conversations.locked(session, case.conversation_id) \
        if case.conversation_id else None
    if conv is None:
        reason = "branch" if case.channel == "branch" else "hotline"
        cases.flag_callback(session, case, reason, now, detail=f"tell the customer: {status}")
        return
    text = catalog.text(case.language, f"case.{status}", number=case.number,
                        due_date=case.due_date.isoformat(), outcome=case.outcome or "")
    _, item = outreach.send(session, conv, text, "team", now)  # the team speaks, not the bot
    if status == "resolved" and item.status != "failed" and conv.status != "closed":
        state = State.from_dict(conv.state) if conv.state else State(lang=case.language)
        state.lang = case.language
        step = feedback.ask(state, case.number)
        conversations.save_state(session, conv, step.state.to_dict(), now)
        for reply in step.replies:
            outreach.send(session, conv, reply.text, "bot", now, quick=[
                {"label": q.label, "payload": q.payload} for q in reply.quick_replies])


def rate(session: Session, case: Case, score: int, comment: str | None, *,
         now: datetime) -> None:
    """The customer's satisfaction (1-5) with the resolution, and their comment."""
    if not 1 <= score <= 5:
        raise lifecycle.MoveRefused("a rating is 1 to 5")
    before = {"rating": case.rating, "rating_comment": case.rating_comment}
    case.rating, case.rated_at, case.updated_at = score, now, now
    if comment:
        case.rating_comment = _clean(comment)
    cases.record(session, case, actor="customer", action="rated", before=before,
                 after={"rating": score, "rating_comment": case.rating_comment}, now=now)


def comment_on_rating(session: Session, case: Case, text: str, *, now: datetime) -> None:
    """A comment the customer sends after their rating: added to the rating's comment."""
    cleaned = _clean(text)
    if not cleaned:
        return
    before = {"rating_comment": case.rating_comment}
    joined = f"{case.rating_comment}\n{cleaned}" if case.rating_comment else cleaned
    case.rating_comment, case.updated_at = joined[:MAX_TEXT], now
    cases.record(session, case, actor="customer", action="rating_comment", before=before,
                 after={"rating_comment": case.rating_comment}, now=now)


def request_review(session: Session, case: Case, score: int, *, today: date,
                   now: datetime) -> date | None:
    """The customer rejects the resolution (复核): the case is reopened for review, due
    within 30 days of the request; None when the case cannot be reviewed now."""
    decided = [e.at for e in cases.events(session, case.id) if e.action == "status_changed"
               and (e.after or {}).get("status") == "resolved"]
    if not decided or not deadlines.review_open(decided[-1].date(), today):
        return None  # a review is asked within 30 days of the decision (BRIEF.md)
    note = f"the customer rated {score}" if score else "the customer asked for a review"
    if case.rating_comment:
        note += f": {case.rating_comment}"
    try:
        move(session, case, "review_requested", actor="customer", now=now, note=note,
             today=today)
    except lifecycle.MoveRefused:
        return None
    return case.due_date


def assign(session: Session, case: Case, agent: Agent, *, actor: str, now: datetime) -> None:
    if agent.disabled_at is not None:
        raise lifecycle.MoveRefused(f"agent {agent.login} is disabled")
    if case.status not in lifecycle.OPEN and case.status not in lifecycle.LEGACY:
        raise lifecycle.MoveRefused(f"a case {case.status} is not assigned; reopen it first")
    before = {"agent_id": case.agent_id}
    case.agent_id, case.updated_at = agent.id, now
    cases.record(session, case, actor=actor, action="assigned", before=before,
                 after={"agent_id": agent.id, "agent": agent.login}, now=now)


def note(session: Session, case: Case, text: str, *, actor: str, now: datetime) -> None:
    """An internal note: on the case page, never sent to the customer."""
    cleaned = _clean(text)
    if not cleaned:
        raise lifecycle.MoveRefused("a note needs some text")
    case.updated_at = now
    cases.record(session, case, actor=actor, action="note", before=None,
                 after={"text": cleaned}, now=now)


# ---- editing a field, extending the deadline (the case page) ---------------------------

# The fields an agent may correct, each with its column; the engine's reasons stay as filed.
EDITABLE = ("name", "phone", "business", "description", "incident_time", "amount", "branch",
            "resolution", "category", "priority")
REQUIRED = ("name", "phone", "business", "description", "incident_time", "resolution",
            "category", "priority")
LIMITS = {"name": 200, "branch": 200, "description": 10000, "resolution": 2000}
MAX_AMOUNT = Decimal("9999999999999999.99")  # Numeric(18, 2)
MAX_PAUSED_DAYS = 365


class Invalid(lifecycle.MoveRefused):
    """A value or request that does not fit; `code` names why (the console's texts),
    `values` fill its placeholders."""

    def __init__(self, code: str, message: str, **values: str) -> None:
        super().__init__(message)
        self.code, self.values = code, values


def parse_field(field: str, raw: str, today: date) -> Any:
    """The value an agent typed for `field`, normalised as the brief stores it (None clears
    an optional field); raises Invalid."""
    if field not in EDITABLE:
        raise Invalid("bad_field", f"{field!r} is not an editable field")
    text = (raw or "").replace("\x00", "").strip()
    if not text:
        if field in REQUIRED:
            raise Invalid("required", f"{field} cannot be empty")
        return None
    if field in LIMITS:
        if len(text) > LIMITS[field]:
            raise Invalid("too_long", f"{field} is longer than {LIMITS[field]} characters",
                          limit=str(LIMITS[field]))
        return redact(text, find_sensitive(text))
    if field == "phone":
        found = find_phones(text)
        if len(text) > 40 or len(found) != 1:
            raise Invalid("bad_phone", f"{text[:40]!r} is not one phone number")
        return found[0].e164
    if field == "incident_time":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise Invalid("bad_date", f"{text[:40]!r} is not a date (YYYY-MM-DD)") from None
        if day > today or day.year < 1900:
            raise Invalid("future_date", f"{day.isoformat()} is not a past date")
        return day
    if field == "amount":
        cleaned = text.replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
        try:
            amount = Decimal(cleaned.strip())
        except InvalidOperation:
            raise Invalid("bad_amount", f"{text[:40]!r} is not an amount") from None
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            raise Invalid("bad_amount", f"{text[:40]!r} is not an amount")
        return amount.quantize(Decimal("0.01"))
    choices = {"business": classify.BUSINESS_LINES, "category": classify.CATEGORIES,
               "priority": classify.PRIORITIES}[field]
    if text not in choices:
        raise Invalid("bad_choice", f"{field} must be one of {', '.join(choices)}",
                      choices=", ".join(choices))
    return text


def _plain(value: Any) -> Any:
    """A field value as the case_events JSON keeps it."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def edit(session: Session, case: Case, field: str, value: Any, *, reason: str, actor: str,
         now: datetime) -> bool:
    """Set a field (a value from parse_field) for a stated reason; False when it is the
    value the case has already. A required field confirmed this way is no longer missing."""
    if field not in EDITABLE:
        raise Invalid("bad_field", f"{field!r} is not an editable field")
    why = _clean(reason)
    if not why:
        raise Invalid("reason", "a change needs its reason")
    old = getattr(case, field)
    if _plain(old) == _plain(value):
        return False
    setattr(case, field, value)
    after: dict[str, Any] = {field: _plain(value), "reason": why}
    if field == "amount" and value is not None and not case.currency:
        case.currency = "CNY"
    if value is not None and field in (case.missing or []):
        case.missing = [f for f in case.missing if f != field]
        after["missing"] = list(case.missing)
    case.updated_at = now
    cases.record(session, case, actor=actor, action="field_changed",
                 before={field: _plain(old)}, after=after, now=now)
    if not case.missing:
        cases.clear_callback(session, case, ("fields_missing",), now, actor=actor)
    return True


def extend(session: Session, case: Case, level: int, reason: str, paused_days: int, *,
           actor: str, now: datetime, zone: tzinfo = UTC) -> date:
    """Extend the deadline (level 1: 30 days from receipt, 2: 60, with a senior manager's
    approval, which the caller checks), counting `paused_days` (the total that does not
    count: outside appraisal, mediation) on top; never earlier than it was. The customer is
    told. The new due date."""
    if level not in deadlines.EXTENSIONS:
        raise Invalid("bad_level", "an extension is level 1 (30 days) or 2 (60 days)")
    if not isinstance(paused_days, int) or not 0 <= paused_days <= MAX_PAUSED_DAYS:
        raise Invalid("bad_paused", f"paused days are 0 to {MAX_PAUSED_DAYS}",
                      limit=str(MAX_PAUSED_DAYS))
    why = _clean(reason)
    if not why:
        raise Invalid("reason", "an extension needs its reason")
    if case.status not in lifecycle.OPEN and case.status not in lifecycle.LEGACY:
        raise Invalid("not_open", f"a case {case.status} has no deadline to extend",
                      current=case.status)
    current = case.extension_level or 0
    if level < current:
        raise Invalid("lower_level", f"the case is extended at level {current} already",
                      level=str(current))
    if paused_days < (case.paused_days or 0):
        raise Invalid("fewer_paused", f"{case.paused_days} days are paused already",
                      days=str(case.paused_days))
    if level == current and paused_days == (case.paused_days or 0):
        raise Invalid("same_extension", f"the case is extended at level {level} already",
                      level=str(level))
    received = case.filed_at.astimezone(zone).date()
    due = max(deadlines.extended_due(received, level, paused_days), case.due_date)
    before = {"due_date": case.due_date.isoformat(), "extension_level": case.extension_level,
              "paused_days": case.paused_days}
    case.due_date, case.extension_level = due, level
    case.extension_reason, case.paused_days, case.updated_at = why, paused_days, now
    cases.record(session, case, actor=actor, action="extended", before=before,
                 after={"due_date": due.isoformat(), "extension_level": level,
                        "paused_days": paused_days, "reason": why}, now=now)
    say(session, case, catalog.text(case.language, "case.extended", number=case.number,
                                    due_date=due.isoformat(), reason=why), now,
        what="extended")
    return due


def say(session: Session, case: Case, text: str, now: datetime, *, what: str) -> None:
    """Send the customer `text` from the team on their channel; without one (a hotline
    call) the case joins the call-back list (as `tell` does)."""
    conv = conversations.get(session, case.conversation_id) if case.conversation_id else None
    if conv is None:
        cases.flag_callback(session, case, "hotline", now, detail=f"tell the customer: {what}")
        return
    outreach.send(session, conv, text, "team", now)
