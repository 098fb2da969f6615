"""The case page's calls: read one case as the page shows it, and change it (a field, the
status, the assignee, the deadline, a note), each change one transaction that locks the
case's conversation and the case, checks who may, writes the change through `work` with its
audit event, and tells every open console once it commits.

Who may: a lead any case; an agent a case assigned to them or to nobody (to read it and to
take it), and changes only to their own. Refusals are `rules.Refused` (texts in
data/case_page.*.toml, [refused]) and are audited like the changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.extract.sensitive import find_sensitive, redact

from ..console import rules
from ..console.rules import Actor, Refused
from ..hotline import transcript_of
from ..store import agents, audit, cases, conversations
from ..store.models import Agent, Case, CaseEvent, Conversation
from . import lifecycle, work

NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
MAX_MESSAGES = 500


def mask(text: Any) -> Any:
    """Text as people may see it: ID-card and bank-card numbers masked."""
    if not isinstance(text, str) or not text:
        return text
    return redact(text, find_sensitive(text))


def may_see(actor: Actor, case: Case) -> None:
    """A lead any case; an agent theirs and the unassigned ones."""
    if actor.is_lead or case.agent_id in (None, actor.id):
        return
    raise Refused("case_page_not_yours", 403)


def may_change(actor: Actor, case: Case) -> None:
    """Changes: a lead, or the agent the case is assigned to (an unassigned one is taken
    first)."""
    if actor.is_lead or case.agent_id == actor.id:
        return
    if case.agent_id is None:
        raise Refused("case_page_take_first", 409)
    raise Refused("case_page_not_yours", 403)


# ---- reading --------------------------------------------------------------------------


def read(service: Any, actor: Actor, number: str, *, opened: bool = True,
         address: str | None = None) -> dict[str, Any]:
    """The page's view of case `number`; raises Refused (404 unknown, 403 not theirs).
    `opened`: a person opens the page (audited, after the read closes: on SQLite a session
    holds the one write lock while open)."""
    now = datetime.now(UTC)
    subject = f"case:{number.upper()[:32]}"
    refused: Refused | None = None
    view: dict[str, Any] = {}
    with service.sessions() as session:
        case = cases.by_number(session, number) if NUMBER.match(number) else None
        if case is None:
            raise Refused("case_page_unknown", 404, number=number[:32])
        try:
            may_see(actor, case)
            view = _view(service, actor, session, case, now)
        except Refused as exc:
            refused = exc
    if opened:
        with service.pipeline.transaction() as session:
            audit.record(session, actor=actor.label,
                         action="case_view" if refused is None else "case_view_refused",
                         subject=subject, now=now, address=address,
                         detail={"reason": refused.message} if refused else None)
    if refused is not None:
        raise refused
    return view


def stamp(service: Any, actor: Actor, number: str) -> str:
    """What changes whenever the case does: an open page compares it with its own when its
    live socket (re)opens, so a change made while it loaded is not missed."""
    with service.sessions() as session:
        case = cases.by_number(session, number) if NUMBER.match(number) else None
        if case is None:
            raise Refused("case_page_unknown", 404, number=number[:32])
        may_see(actor, case)
        return _stamp(session, case)


def _stamp(session: Session, case: Case) -> str:
    return f"{case.updated_at.isoformat()}/{len(cases.events(session, case.id))}"


def _view(service: Any, actor: Actor, session: Session, case: Case, now: datetime
          ) -> dict[str, Any]:
    zone = service.settings.zone
    today = now.astimezone(zone).date()
    staff = agents.all_agents(session)
    by_id = {a.id: a for a in staff}
    events = cases.events(session, case.id)
    edits: dict[str, dict[str, Any]] = {}
    for e in events:  # the latest change of each field, shown beside it
        if e.action in ("field_changed", "regulatory_changed"):
            # a correction of the JR/T 0169 dimensions shows beside them as one
            shown = ("regulatory",) if e.action == "regulatory_changed" else (e.before or {})
            for field in shown:
                edits[field] = {"actor": _who(e.actor, staff), "at": e.at.isoformat(),
                                "reason": mask((e.after or {}).get("reason"))}
    assignee = by_id.get(case.agent_id) if case.agent_id else None
    transcript = transcript_of(session, case)
    from . import evidence as evidence_of  # it asks this module who may see a case

    evidence = evidence_of.view(session, case)
    return {
        "case": _fields(case),
        "reasons": case.reasons or {},
        "regulatory": case.regulatory or {},
        "edits": edits,
        "status": case.status,
        "moves": lifecycle.allowed(case.status),
        "open": case.status in lifecycle.OPEN or case.status in lifecycle.LEGACY,
        "assignee": {"id": assignee.id, "login": assignee.login, "name": assignee.name}
        if assignee else None,
        "agents": [{"login": a.login, "name": a.name} for a in staff
                   if a.disabled_at is None] if actor.is_lead else [],
        "may_change": actor.is_lead or case.agent_id == actor.id,
        "may_take": case.agent_id is None and not actor.is_lead,
        "due": {"date": case.due_date.isoformat(), "overdue": case.due_date < today,
                "days_left": (case.due_date - today).days,
                "level": case.extension_level, "reason": mask(case.extension_reason),
                "paused_days": case.paused_days or 0},
        "messages": _messages(actor, session, case, staff),
        "transcript": [{"speaker": str(t.get("speaker") or "?"), "text": mask(t.get("text")),
                        "start": t.get("start")}
                       for t in (transcript.turns if transcript else []) if isinstance(t, dict)],
        "transcript_started": transcript.started_at.isoformat()
        if transcript and transcript.started_at else None,
        "notes": [{"actor": _who(e.actor, staff), "at": e.at.isoformat(),
                   "text": mask((e.after or {}).get("text"))}
                  for e in reversed(events) if e.action == "note"],
        "history": [_event_row(e, staff) for e in reversed(events)],
        "evidence": evidence,
        "stamp": _stamp(session, case),
    }


def _fields(case: Case) -> dict[str, Any]:
    return {
        "number": case.number, "conversation_id": case.conversation_id,
        "name": mask(case.name), "phone": case.phone,
        "business": case.business, "description": mask(case.description),
        "incident_time": case.incident_time.isoformat() if case.incident_time else None,
        "incident_time_text": mask(case.incident_time_text),
        "amount": str(case.amount) if case.amount is not None else None,
        "currency": case.currency, "branch": mask(case.branch),
        "resolution": mask(case.resolution), "category": case.category,
        "secondary_categories": [c for c in (case.secondary_categories or [])
                                 if c != case.category],
        "priority": case.priority, "missing": list(case.missing or []),
        "channel": case.channel, "language": case.language,
        "filed_at": case.filed_at.isoformat(), "status": case.status,
        "outcome": mask(case.outcome), "rating": case.rating,
        "rating_comment": mask(case.rating_comment),
        "rated_at": case.rated_at.isoformat() if case.rated_at else None,
        "review_requested": bool(case.review_requested),
        "callback_reason": case.callback_reason,
    }


def _who(actor: str, staff: list[Agent]) -> str:
    if actor.startswith("agent:"):
        login = actor.removeprefix("agent:")
        return next((a.name for a in staff if a.login == login), login)
    return actor


def _visible(actor: Actor, session: Session, conv: Conversation, case: Case) -> bool:
    """The customer's other conversations as far as this agent may see them (the console's
    rule: none held by someone else, none whose case is another agent's)."""
    if actor.is_lead or conv.id == case.conversation_id:
        return True
    latest = cases.latest_for_conversation(session, conv.id)
    held = conv.status == "handoff" and conv.agent_id is not None
    situation = rules.Situation(
        status=conv.status,
        waiting=conv.status == "bot" and conv.handoff_requested_at is not None,
        holder_id=conv.agent_id if held else None,
        case_agent_id=latest.agent_id if latest is not None else None)
    try:
        rules.may_view(actor, situation)
    except Refused:
        return False
    return True


def _messages(actor: Actor, session: Session, case: Case, staff: list[Agent]
              ) -> list[dict[str, Any]]:
    """Every message of the case's customer, on every channel, oldest first."""
    mine = [c for c in conversations.of_customer(session, case.customer_id)
            if _visible(actor, session, c, case)]
    channel_of = {c.id: c.channel for c in mine}
    rows = []
    for m in conversations.messages_of(session, [c.id for c in mine], MAX_MESSAGES):
        attachments = [a.get("kind") for a in ((m.raw or {}).get("attachments") or [])
                       if isinstance(a, dict)]
        rows.append({"id": m.id, "direction": m.direction, "sender": m.sender,
                     "who": _who(m.sender, staff), "text": mask(m.text),
                     "channel": channel_of.get(m.conversation_id, m.channel),
                     "at": m.created_at.isoformat(), "attachments": attachments})
    return rows


# What the history shows of each change (the `filed` event holds the whole case: its
# channel is enough there, the fields are on the page).
_SHOWN = {"filed": ("channel",)}


def _event_row(e: CaseEvent, staff: list[Agent]) -> dict[str, Any]:
    before, after = e.before or {}, e.after or {}
    keys = _SHOWN.get(e.action) or tuple(dict.fromkeys([*before, *after]))
    names = {a.id: a.name for a in staff}
    changes = []
    for key in keys:
        if key == "agent" and "agent_id" in keys:
            continue  # the login beside the name: one line is enough
        old, new = before.get(key), after.get(key)
        if old is None and new is None:
            continue
        if key == "agent_id":
            old, new = names.get(old, old) if old else None, names.get(new, new) if new else None
        changes.append({"key": key, "before": _shown(old), "after": _shown(new),
                        "changed": key in before})
    return {"actor": _who(e.actor, staff), "action": e.action, "at": e.at.isoformat(),
            "changes": changes}


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    return mask(text if len(text) <= 400 else text[:400] + "…")


# ---- changing -------------------------------------------------------------------------


def change(service: Any, actor: Actor, number: str, action: str,
           act: Callable[[Session, Case, datetime], dict[str, Any] | None],
           address: str | None, *, visible: bool = True) -> None:
    """Run `act` on the locked case in one transaction with its audit event and notice;
    a refusal is audited in a transaction of its own. `visible`: the actor must be allowed
    to see the case (taking one checks who holds it itself, to name them)."""
    now = datetime.now(UTC)
    subject = f"case:{number.upper()[:32]}"
    try:
        if not NUMBER.match(number):
            raise Refused("case_page_unknown", 404, number=number[:32])
        with service.pipeline.transaction() as session:
            found = cases.by_number(session, number)
            if found is None:
                raise Refused("case_page_unknown", 404, number=number[:32])
            # The conversation first, as the customer's own messages lock it: an agent's
            # change and a customer's message take turns, in one order.
            if found.conversation_id is not None:
                conversations.locked(session, found.conversation_id)
            case = cases.locked(session, found.id)
            if case is None:  # pragma: no cover - cases are never deleted
                raise Refused("case_page_unknown", 404, number=number[:32])
            if visible:
                may_see(actor, case)
            try:
                detail = act(session, case, now)
            except work.Invalid as invalid:
                raise Refused(f"case_page_{invalid.code}", 422, **invalid.values) from None
            except lifecycle.MoveRefused as refused:
                raise Refused("case_page_move_refused", 409, message=str(refused)) from None
            audit.record(session, actor=actor.label, action=f"case_{action}", subject=subject,
                         now=now, address=address, detail=detail or None)
            service.pipeline.notify(session, "case", case.conversation_id)
    except Refused as refused:
        with service.pipeline.transaction() as session:
            audit.record(session, actor=actor.label, action=f"case_{action}_refused",
                         subject=subject, now=now, address=address,
                         detail={"reason": refused.message})
        raise
    service.dispatcher.wake()  # the customer's notice goes out now


def edit_field(service: Any, actor: Actor, number: str, field: str, raw: str, reason: str,
               address: str | None = None) -> None:
    if field not in work.EDITABLE:
        raise Refused("case_page_bad_field", 422)
    if not (reason or "").strip():
        raise Refused("case_page_reason", 422)

    def act(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        may_change(actor, case)
        value = work.parse_field(field, raw, now.astimezone(service.settings.zone).date())
        changed = work.edit(session, case, field, value, reason=reason, actor=actor.label,
                            now=now)
        return {"field": field, "changed": changed}

    change(service, actor, number, "field", act, address)


def move(service: Any, actor: Actor, number: str, target: str, *, outcome: str | None,
         note: str | None, address: str | None = None) -> None:
    def act(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        may_change(actor, case)
        moves = lifecycle.allowed(case.status)
        if target not in moves:
            raise Refused("case_page_move", 409, current=rules.text(
                actor.lang, f"case_page.status.{case.status}"), target=rules.text(
                actor.lang, f"case_page.status.{target}") if target in lifecycle.STATUSES
                else target[:24], allowed=", ".join(rules.text(
                    actor.lang, f"case_page.status.{m}") for m in moves) or "—")
        if target == "resolved" and not (outcome or "").strip():
            raise Refused("case_page_outcome", 422)
        if target in ("reopened", "review_requested") and not (note or "").strip():
            raise Refused("case_page_note_needed", 422)
        work.move(session, case, target, actor=actor.label, now=now, note=note,
                  outcome=outcome, today=now.astimezone(service.settings.zone).date())
        return {"to": target}

    change(service, actor, number, "move", act, address)


def assign(service: Any, actor: Actor, number: str, login: str,
           address: str | None = None) -> None:
    """A lead assigns to any enabled agent; an agent takes an unassigned case."""
    login = login.strip().lower()[:64]

    def act(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        if not actor.is_lead:
            if login != actor.login:
                raise Refused("case_page_assign_lead_only", 403)
            if case.agent_id == actor.id:
                raise Refused("case_page_yours_already", 409)
            if case.agent_id is not None:
                raise Refused("case_page_not_yours", 403)
        agent = agents.by_login(session, login) if login else None
        if agent is None:
            raise Refused("no_agent", 404, login=login or "—")
        if agent.disabled_at is not None:
            raise Refused("agent_disabled", 409)
        if case.agent_id == agent.id:
            raise Refused("case_page_same_agent", 409, name=agent.name)
        work.assign(session, case, agent, actor=actor.label, now=now)
        return {"to": agent.login}

    change(service, actor, number, "assign", act, address)


def extend(service: Any, actor: Actor, number: str, level: int, reason: str,
           paused_days: int, address: str | None = None) -> None:
    def act(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        may_change(actor, case)
        if level == 2 and not actor.is_lead:
            # 60 days need a senior manager's approval: a lead records it.
            raise Refused("case_page_level_two", 403)
        due = work.extend(session, case, level, reason, paused_days, actor=actor.label,
                          now=now, zone=service.settings.zone)
        return {"level": level, "due_date": due.isoformat()}

    change(service, actor, number, "extend", act, address)


def add_note(service: Any, actor: Actor, number: str, text: str,
             address: str | None = None) -> None:
    if not (text or "").strip():
        raise Refused("case_page_empty_note", 422)
    if len(text) > work.MAX_TEXT:
        raise Refused("case_page_too_long", 422, limit=str(work.MAX_TEXT))

    def act(session: Session, case: Case, now: datetime) -> None:
        may_change(actor, case)
        work.note(session, case, text, actor=actor.label, now=now)

    change(service, actor, number, "note", act, address)
