"""Working a case, inside the caller's transaction: move it through its statuses, assign it,
add internal notes. Each change is a `case_events` row (who, when, before, after); a move the
customer cares about is told to them on their channel through the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from workflow import catalog
from workflow.extract.sensitive import find_sensitive, redact

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
         note: str | None = None, outcome: str | None = None) -> lifecycle.Move:
    """Move the case (raises lifecycle.MoveRefused); tell the customer when it matters."""
    note, outcome = _clean(note), _clean(outcome)
    done = lifecycle.check(case.status, target, outcome=outcome, note=note)
    before = {"status": case.status}
    case.status, case.updated_at = target, now
    after: dict[str, object] = {"status": target}
    if target == "resolved":
        case.outcome = outcome
        after["outcome"] = outcome
    if target == "review_requested":
        case.review_requested = True
        after["review_requested"] = True
    if note:
        after["note"] = note
    cases.record(session, case, actor=actor, action="status_changed", before=before,
                 after=after, now=now)
    if done.tell_customer:
        tell(session, case, target, now)
    return done


def tell(session: Session, case: Case, status: str, now: datetime) -> None:
    """The customer hears of the move on their own channel; without one (a hotline call)
    or out of its reach, the case joins the call-back list."""
    conv = conversations.get(session, case.conversation_id) if case.conversation_id else None
    if conv is None:
        cases.flag_callback(session, case, "hotline", now,
                            detail=f"tell the customer: {status}")
        return
    text = catalog.text(case.language, f"case.{status}", number=case.number,
                        due_date=case.due_date.isoformat(), outcome=case.outcome or "")
    outreach.send(session, conv, text, "team", now)  # the team speaks, not the bot


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
