"""What agents do at the console, as plain calls the pages and the JSON API share: read the
queue and a conversation, take one over, reply, hand back, close, reassign.

Every action is one transaction that locks the conversation (so it takes turns with the
customer's own messages), checks `rules`, writes the change, the customer's notice and the
audit event together, and tells every console (`Bulletin`) once it commits. A refused action
is audited too, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.engine import build_case
from workflow.extract.sensitive import find_sensitive, redact
from workflow.model import SLOTS, State, Step

from .. import outreach
from ..pipeline import Pipeline
from ..store import agents, audit, canned, cases, conversations, outbox
from ..store.models import Agent, Case, Conversation, Message
from . import rules
from .rules import Actor, Refused

MAX_REPLY = 2000  # characters an agent's message may have (channels cut longer ones)


def actor_of(agent: Agent) -> Actor:
    return Actor(agent.id, agent.login, agent.name, agent.role, agent.lang)


@dataclass(frozen=True)
class QueueFilters:
    channel: str | None = None
    business: str | None = None
    priority: str | None = None
    status: str | None = None
    overdue: bool = False


class Desk:
    def __init__(self, pipeline: Pipeline, wake: Callable[[], None],
                 clock: Callable[[], datetime] | None = None) -> None:
        self.pipeline = pipeline
        self.sessions = pipeline.sessions
        self.engine = pipeline.engine
        self.settings = pipeline.settings
        self.wake = wake
        self.clock = clock or (lambda: datetime.now(UTC))

    # ---- reading ------------------------------------------------------------------------

    def queue(self, actor: Actor, filters: QueueFilters = QueueFilters()) -> dict[str, Any]:
        """Waiting conversations (urgent first, then the longest waiting), the ones agents
        have, then open cases (overdue, priority, due date), with the counts at the top."""
        now = self.clock()
        today = now.astimezone(self.settings.zone).date()
        with self.sessions() as session:
            waiting = conversations.waiting(session)
            held = conversations.held(session, None if actor.is_lead else actor.id)
            mine = None if actor.is_lead else actor.id
            convs = waiting + held
            last = conversations.last_inbound(session, [c.id for c in convs])
            idents = conversations.identities(session, [c.id for c in convs])
            names = {a.id: a.name for a in agents.all_agents(session)}
            present = agents.online_ids(session, now, rules.ONLINE_WITHIN)
            entries = [self._entry(session, c, last.get(c.id), idents.get(c.id), names, now)
                       | {"agent_online": c.agent_id in present if c.agent_id else None}
                       for c in convs]
            entries = [e for e in entries if _matches(e, filters)]
            open_cases = cases.open_cases(
                session, agent_id=None if actor.is_lead else actor.id,
                channel=filters.channel, business=filters.business,
                priority=filters.priority, status=filters.status,
                overdue_on=today if filters.overdue else None)
            case_rows = sorted((_case_row(c, today, names) for c in open_cases),
                               key=lambda r: rules.case_key(r["priority"], r["overdue"],
                                                            r["due_date"], r["filed_at"]))
            counts = {
                "waiting": conversations.count_waiting(session),
                "urgent": conversations.count_waiting(session, urgent=True),
                "mine": sum(1 for c in held if c.agent_id == actor.id),
                "open_cases": cases.count_open(session, agent_id=mine),
                "overdue": cases.count_open(session, overdue_on=today, agent_id=mine),
                "callbacks": cases.count_open(session, callback=True, agent_id=mine),
                "agents_online": len(present),
            }
        return {"counts": counts,
                "waiting": [e for e in entries if e["state"] == "waiting"],
                "held": [e for e in entries if e["state"] == "held"],
                "cases": case_rows}

    def conversation(self, actor: Actor, conversation_id: int, *, opened: bool = False,
                     address: str | None = None) -> dict[str, Any]:
        """The conversation across the customer's channels, the fields so far with the
        reasons for category and priority, and the customer's cases. `opened`: a person
        opens it (not a live refresh): who read a customer's data is audited."""
        now = self.clock()
        refused: Refused | None = None
        view: dict[str, Any] = {}
        # The audit is written after the read closes: on SQLite a session holds the one
        # write lock while open.
        with self.sessions() as session:
            conv = conversations.get(session, conversation_id)
            if conv is None:
                raise Refused("no_conversation", 404)
            situation = self._situation(session, conv)
            try:
                rules.may_view(actor, situation)
                view = self._view(actor, session, conv, situation, now)
            except Refused as exc:
                refused = exc
        subject = f"conversation:{conversation_id}"
        if refused is not None:
            if opened:
                self._audit(actor, "view_refused", subject, now, address,
                            {"reason": refused.message})
            raise refused
        if opened:
            self._audit(actor, "view", subject, now, address)
        return view

    def _audit(self, actor: Actor, action: str, subject: str, now: datetime,
               address: str | None, detail: dict[str, Any] | None = None) -> None:
        with self.pipeline.transaction() as session:
            audit.record(session, actor=actor.label, action=action, subject=subject,
                         now=now, address=address, detail=detail)

    # ---- acting -------------------------------------------------------------------------

    def take(self, actor: Actor, conversation_id: int, address: str | None = None
             ) -> dict[str, Any]:
        def act(session: Session, conv: Conversation, s: rules.Situation, now: datetime
                ) -> dict[str, Any]:
            rules.may_take(actor, s)
            waited = (now - conv.handoff_requested_at).total_seconds() \
                if conv.handoff_requested_at else None
            conv.status, conv.agent_id, conv.taken_at = "handoff", actor.id, now
            conv.callback_reason = conv.callback_at = None  # a person has them now
            conv.updated_at = now
            for case in cases.of_conversations(session, [conv.id]):
                if case.agent_id is None and case.status not in cases.OPEN_EXCLUDES:
                    case.agent_id = actor.id  # the case follows the conversation
            self._tell(session, conv, self.engine.agent_joined(conv.state or {}, actor.name,
                                                               self._local(now)), now)
            return {"waited_seconds": waited}

        return self._act(actor, conversation_id, "take", act, address, notice="taken")

    def reply(self, actor: Actor, conversation_id: int, text: str,
              address: str | None = None) -> dict[str, Any]:
        clean = (text or "").replace("\x00", "").strip()
        if not clean:
            raise Refused("empty", 422)
        if len(clean) > MAX_REPLY:
            raise Refused("too_long", 422, limit=str(MAX_REPLY))
        masked = redact(clean, find_sensitive(clean))

        def act(session: Session, conv: Conversation, s: rules.Situation, now: datetime
                ) -> dict[str, Any]:
            rules.may_reply(actor, s)
            conv.updated_at = now
            message, item = outreach.send(session, conv, masked, actor.label, now)
            cases.responded_in_conversation(session, conv.id, now)
            return {"message": _message_row(message, item, {actor.login: actor.name})}

        return self._act(actor, conversation_id, "reply", act, address, notice="message",
                         detail={"chars": len(masked)})

    def release(self, actor: Actor, conversation_id: int, address: str | None = None
                ) -> dict[str, Any]:
        def act(session: Session, conv: Conversation, s: rules.Situation, now: datetime
                ) -> dict[str, Any]:
            rules.may_release(actor, s)
            conv.status = "bot"
            conversations.clear_handoff(conv)
            self._tell(session, conv, self.engine.hand_back(conv.state or {}, self._local(now)),
                       now, save_state=True)
            return {}

        return self._act(actor, conversation_id, "release", act, address, notice="released")

    def close(self, actor: Actor, conversation_id: int, address: str | None = None
              ) -> dict[str, Any]:
        def act(session: Session, conv: Conversation, s: rules.Situation, now: datetime
                ) -> dict[str, Any]:
            rules.may_close(actor, s)
            # The state it leaves (name and phone kept, the draft dropped) is where the
            # customer's next message starts.
            self._tell(session, conv, self.engine.agent_closed(conv.state or {},
                                                               self._local(now)), now,
                       save_state=True)
            conv.status = "closed"
            conversations.clear_handoff(conv)
            return {}

        return self._act(actor, conversation_id, "close", act, address, notice="closed")

    def reassign(self, actor: Actor, conversation_id: int, login: str,
                 address: str | None = None) -> dict[str, Any]:
        def act(session: Session, conv: Conversation, s: rules.Situation, now: datetime
                ) -> dict[str, Any]:
            target = agents.by_login(session, login)
            if target is None:
                raise Refused("no_agent", 404, login=login)
            rules.may_reassign(actor, s, target.id, target.disabled_at is None)
            conv.status, conv.agent_id, conv.taken_at = "handoff", target.id, now
            conv.callback_reason = conv.callback_at = None
            conv.updated_at = now
            for case in cases.of_conversations(session, [conv.id]):
                if case.status not in cases.OPEN_EXCLUDES:
                    case.agent_id = target.id
            self._tell(session, conv, self.engine.agent_transferred(
                conv.state or {}, target.name, self._local(now)), now)
            return {"to": target.login}

        return self._act(actor, conversation_id, "reassign", act, address, notice="taken",
                         detail={"to": login})

    # ---- canned replies -----------------------------------------------------------------

    def canned_replies(self, actor: Actor, conversation_id: int | None = None
                       ) -> list[dict[str, Any]]:
        """The canned replies, with placeholders filled for this conversation when given."""
        with self.sessions() as session:
            values: dict[str, str | None] = {"agent_name": actor.name}
            if conversation_id is not None:
                conv = conversations.get(session, conversation_id)
                if conv is not None:
                    values.update(self._placeholders(session, conv))
            return [{"id": r.id, "lang": r.lang, "title": r.title, "template": r.text,
                     "text": rules.fill_placeholders(r.text, values)}
                    for r in canned.for_language(session)]

    def save_canned(self, actor: Actor, *, reply_id: int | None, lang: str, title: str,
                    text: str, address: str | None = None) -> None:
        now = self.clock()
        subject = f"canned:{reply_id}" if reply_id is not None else "canned:new"
        title, text = title.strip(), text.strip()
        try:
            rules.may_edit_canned(actor)
            if lang not in ("zh", "en") or not title or not text or len(title) > 100 \
                    or len(text) > MAX_REPLY:
                raise Refused("bad_canned", 422, limit=str(MAX_REPLY))
            with self.pipeline.transaction() as session:
                before = canned.get(session, reply_id) if reply_id is not None else None
                was = {"lang": before.lang, "title": before.title, "text": before.text} \
                    if before is not None else None
                try:
                    saved = canned.save(session, reply_id=reply_id, lang=lang, title=title,
                                        text=text, actor=actor.label, now=now)
                except canned.TitleTaken:
                    raise Refused("canned_exists", 409, title=title) from None
                audit.record(session, actor=actor.label, action="canned_saved",
                             subject=f"canned:{saved.id}", now=now, address=address,
                             detail={"before": was,
                                     "after": {"lang": lang, "title": title, "text": text}})
        except Refused as refused:
            self._audit(actor, "canned_refused", subject, now, address,
                        {"reason": refused.message})
            raise

    # ---- inside -------------------------------------------------------------------------

    def _act(self, actor: Actor, conversation_id: int, action: str,
             act: Callable[[Session, Conversation, rules.Situation, datetime], dict[str, Any]],
             address: str | None, *, notice: str, detail: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        now = self.clock()
        subject = f"conversation:{conversation_id}"
        try:
            with self.pipeline.transaction() as session:
                conv = conversations.locked(session, conversation_id)
                if conv is None:
                    raise Refused("no_conversation", 404)
                situation = self._situation(session, conv)
                if action != "take":
                    rules.may_view(actor, situation)
                result = act(session, conv, situation, now)
                audit.record(session, actor=actor.label, action=action, subject=subject,
                             now=now, address=address, detail={**(detail or {}), **{
                                 k: v for k, v in result.items() if k != "message"}} or None)
                self.pipeline.notify(session, notice, conv.id)
        except Refused as refused:
            self._audit(actor, f"{action}_refused", subject, now, address,
                        {"reason": refused.message})
            raise
        self.wake()
        return result

    def _situation(self, session: Session, conv: Conversation) -> rules.Situation:
        holder = agents.get(session, conv.agent_id) if conv.agent_id else None
        held = conv.status == "handoff" and conv.agent_id is not None
        case = cases.latest_for_conversation(session, conv.id)
        return rules.Situation(
            status=conv.status,
            waiting=conv.status == "bot" and conv.handoff_requested_at is not None,
            holder_id=conv.agent_id if held else None,
            holder_name=holder.name if holder else None,
            case_agent_id=case.agent_id if case is not None else None)

    def _tell(self, session: Session, conv: Conversation, step: Step, now: datetime,
              save_state: bool = False) -> None:
        """Send the engine's notice (an agent joined, handed back...) to the customer."""
        if save_state:
            conversations.save_state(session, conv, step.state.to_dict(), now)
        for index, reply in enumerate(step.replies):
            # The bot's question again after a hand-back: the channel may offer its own way
            # to answer it (Telegram's share-my-phone button).
            asks = step.state.waiting_for if save_state and \
                index == len(step.replies) - 1 else None
            outreach.send(session, conv, reply.text, "bot", now,
                          [{"label": q.label, "payload": q.payload}
                           for q in reply.quick_replies], asks)

    def _placeholders(self, session: Session, conv: Conversation) -> dict[str, str | None]:
        case = cases.latest_for_conversation(session, conv.id)
        state = conv.state or {}
        name = (state.get("slots") or {}).get("name", {}).get("value")
        return {"customer_name": (case.name if case else None) or name,
                "case_number": case.number if case else None,
                "due_date": case.due_date.isoformat() if case else None}

    def _local(self, now: datetime) -> datetime:
        return now.astimezone(self.settings.zone)

    def _entry(self, session: Session, conv: Conversation, last: Message | None,
               identity: Any, names: dict[int, str], now: datetime) -> dict[str, Any]:
        state = conv.state or {}
        slots = state.get("slots") or {}
        held = conv.status == "handoff"
        since = conv.taken_at if held else conv.handoff_requested_at
        draft = state.get("last_case") or {}
        return {
            "conversation_id": conv.id,
            "state": "held" if held else "waiting",
            "channel": conv.channel,
            "customer": _customer_label(slots, identity, conv),
            "waiting_since": conv.handoff_requested_at.isoformat()
            if conv.handoff_requested_at else None,
            "wait_seconds": int((now - since).total_seconds()) if since else None,
            "since": since.isoformat() if since else None,
            "urgent": bool(conv.handoff_urgent),
            "reason": conv.handoff_reason,
            "priority": "urgent" if conv.handoff_urgent else draft.get("priority"),
            "business": (slots.get("business") or {}).get("value"),
            "last_customer_text": (last.text[:280] if last else None),
            "agent": names.get(conv.agent_id) if conv.agent_id else None,
            "agent_id": conv.agent_id,
            "callback_reason": conv.callback_reason,
        }

    def _may_see(self, actor: Actor, session: Session, conv: Conversation) -> bool:
        try:
            rules.may_view(actor, self._situation(session, conv))
        except Refused:
            return False
        return True

    def _view(self, actor: Actor, session: Session, conv: Conversation, s: rules.Situation,
              now: datetime) -> dict[str, Any]:
        # The customer's other conversations and cases, as far as this agent may see them.
        everyone = [c for c in conversations.of_customer(session, conv.customer_id)
                    if c.id == conv.id or self._may_see(actor, session, c)]
        channel_of = {c.id: c.channel for c in everyone}
        messages = conversations.messages_of(session, [c.id for c in everyone])
        items = outbox.states(session, [m.id for m in messages if m.direction == "out"])
        staff = agents.all_agents(session)
        names = {a.login: a.name for a in staff}
        state = conv.state or {}
        to, display = conversations.recipient(session, conv)
        slots = state.get("slots") or {}
        fields = [{"field": name, "value": slots[name].get("value"),
                   "status": slots[name].get("status"), "text": slots[name].get("text")}
                  for name in SLOTS if name in slots]
        draft: dict[str, Any] | None = None
        if slots or state.get("description"):
            built = build_case(State.from_dict(state))
            draft = {k: built.get(k) for k in ("category", "secondary_categories", "priority",
                                                "business", "reasons", "missing")}
        today = now.astimezone(self.settings.zone).date()
        customer_cases = [c for c in cases.of_customer(session, conv.customer_id)
                          if actor.is_lead or c.agent_id in (None, actor.id)]
        agent_names = {a.id: a.name for a in staff}
        return {
            "conversation": {
                "id": conv.id, "channel": conv.channel, "status": conv.status,
                "waiting": s.waiting, "agent_id": s.holder_id, "agent": s.holder_name,
                "customer": _customer_label(slots, _Display(display, to), conv),
                "handoff_reason": conv.handoff_reason, "urgent": bool(conv.handoff_urgent),
                "waiting_since": conv.handoff_requested_at.isoformat()
                if conv.handoff_requested_at else None,
                "taken_at": conv.taken_at.isoformat() if conv.taken_at else None,
                "callback_reason": conv.callback_reason,
                "language": state.get("lang"),
                "stage": state.get("stage"),
                "reachable": rules.out_of_reach(
                    conv.channel, conversations.last_inbound_at(session, conv.id), now) is None,
            },
            "messages": [_message_row(m, items.get(m.id), names, channel_of.get(
                m.conversation_id)) for m in messages],
            "fields": fields,
            "draft": draft,
            "cases": [_case_row(c, today, agent_names) for c in customer_cases],
        }


@dataclass(frozen=True)
class _Display:
    display_name: str | None
    external_id: str


def _customer_label(slots: dict[str, Any], identity: Any, conv: Conversation) -> str:
    name = (slots.get("name") or {}).get("value")
    if name:
        return str(name)
    if identity is not None and identity.display_name:
        return str(identity.display_name)
    if identity is not None:
        return f"{conv.channel} …{str(identity.external_id)[-4:]}"
    return f"{conv.channel} #{conv.id}"


def _matches(entry: dict[str, Any], f: QueueFilters) -> bool:
    if f.channel and entry["channel"] != f.channel:
        return False
    if f.business and entry["business"] != f.business:
        return False
    if f.priority and (entry["priority"] or "normal") != f.priority:
        return False
    return not (f.status or f.overdue)  # statuses and deadlines are the cases' filters


def _delivery(item: Any) -> dict[str, Any] | None:
    if item is None:
        return None
    state = {"pending": "queued", "delivered": "delivered", "failed": "failed"}.get(
        item.status, item.status)
    return {"state": state, "error": item.last_error if item.status != "delivered" else None}


def _message_row(m: Message, item: Any, names: dict[str, str], channel: str | None = None
                 ) -> dict[str, Any]:
    sender = m.sender
    who = sender
    if sender.startswith("agent:"):
        who = names.get(sender.removeprefix("agent:"), sender.removeprefix("agent:"))
    attachments = [a.get("kind") for a in ((m.raw or {}).get("attachments") or [])
                   if isinstance(a, dict)]
    return {"id": m.id, "conversation_id": m.conversation_id, "channel": channel or m.channel,
            "direction": m.direction, "sender": sender, "who": who, "text": m.text,
            "at": m.created_at.isoformat(), "attachments": attachments,
            "delivery": _delivery(item) if m.direction == "out" else None}


def _case_row(c: Case, today: date, names: dict[int, str]) -> dict[str, Any]:
    return {"number": c.number, "case_id": c.id, "conversation_id": c.conversation_id,
            "channel": c.channel, "status": c.status, "priority": c.priority,
            "business": c.business, "category": c.category, "name": c.name,
            "description": c.description[:200], "due_date": c.due_date.isoformat(),
            "overdue": c.due_date < today, "filed_at": c.filed_at.isoformat(),
            "agent": names.get(c.agent_id) if c.agent_id else None,
            "callback_reason": c.callback_reason}
