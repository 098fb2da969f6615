"""One path for every inbound message: dedup -> lock -> engine step -> persist, in one transaction.

A redelivered message (same channel and message id) stores nothing and gets the replies it
got the first time. Replies go to the outbox in the same transaction as everything else,
so a reply is never lost between the engine deciding it and the channel sending it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from channels.base import Inbound, InvalidPayload, Outbound, QuickReply
from workflow import feedback
from workflow.deadlines import due_date
from workflow.engine import Engine
from workflow.extract.phones import find_phones
from workflow.extract.sensitive import find_sensitive, redact
from workflow.model import (
    CaseFiled,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    Hints,
    LookupStatus,
    RatingComment,
    RatingGiven,
    Reply,
    ReviewOpened,
    ReviewRequested,
    State,
    StatusResult,
    Step,
)

from .cases import assignment, work
from .console import rules
from .live import Bulletin
from .metrics import Metrics
from .settings import Settings
from .store import agents, audit, cases, conversations, customers, outbox, vault
from .store.db import unavailable
from .store.models import Conversation
from .writer import GroupCommit, after_commit

log = logging.getLogger(__name__)
RETRIES = 5
# Channel message kinds the engine treats differently from text.
_HINT_KINDS = {"attachment": "attachment", "unsupported": "unsupported", "group": "group"}


class FairLock:
    """A lock taken in the order it was asked for: under a burst no writer waits behind
    later ones (a plain Lock lets some wait past the store timeout while others pass). The
    lock is handed straight to the next in line, waking only that one."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._line: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._line.append(turn)
        turn.wait()

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            if self._line:
                self._line.popleft().set()  # still held: now by the next in line
            else:
                self._held = False


class Expired(Exception):
    """The sender's id has been idle too long to be honoured (see `Pipeline.handle`)."""


@dataclass(frozen=True)
class Handled:
    """What the channel needs to answer: the replies, and whether this was a redelivery."""

    replies: tuple[Outbound, ...]
    duplicate: bool
    conversation_id: int
    waiting_for: str | None
    outbox_ids: tuple[int, ...] = ()
    # The customer's text as stored, when it differs from what they sent (an ID or card
    # number masked): the web chat shows it in place of their own bubble.
    masked_text: str | None = None


class Pipeline:
    def __init__(self, sessions: sessionmaker[Session], engine: Engine, settings: Settings,
                 metrics: Metrics, clock: Callable[[], datetime] | None = None,
                 bulletin: Bulletin | None = None) -> None:
        self.sessions = sessions
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.bulletin = bulletin
        self.clock = clock or (lambda: datetime.now(UTC))
        # SQLite takes one writer at a time; queueing writers here instead of in SQLite's
        # busy handler (which sleeps up to 100 ms between tries) keeps latency flat.
        bind = sessions.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._lock: contextlib.AbstractContextManager[Any] = (
            FairLock() if sqlite else contextlib.nullcontext())
        # Inbound messages are written by writer threads, many to a commit (bot/writer.py).
        self.writer = GroupCommit(sessions, self._lock, settings.commit_batch,
                                  threads=1 if sqlite else settings.writer_threads)
        # Messages queued or being written, by (channel, sender, message id): a resend
        # while the first is still on its way (a 503 under load, a channel's retry) waits
        # for the same write instead of queueing another.
        self._inflight: dict[tuple[str, str, str], Future[Handled]] = {}
        self._inflight_lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction taking turns with the pipeline's (agents' actions use it)."""
        with self._lock, self.sessions.begin() as session:
            yield session

    def notify(self, session: Session, kind: str, conversation_id: int | None,
               **extra: Any) -> None:
        """Tell the consoles, once this transaction commits."""
        if self.bulletin is not None:
            self.bulletin.post(session, kind, conversation_id, **extra)

    def handle(self, inbound: Inbound, *, answered_inline: bool = False,
               hold_seconds: float | None = None,
               max_idle: timedelta | None = None) -> Handled:
        """Run one inbound message through.

        `answered_inline` marks the replies delivered because the channel returns them in
        its response (web chat). `hold_seconds` keeps them from the dispatcher that long,
        so the channel may still answer with them in its response (WeChat's passive
        reply) by taking them with `take_for_response`; else they go out through the API.
        `max_idle`: a known sender whose conversation has been idle longer is refused with
        `Expired`, storing nothing (a web chat visitor id is a credential that expires).
        """
        started = time.perf_counter()
        future, first = self._submit(inbound, answered_inline, hold_seconds, max_idle)
        return self._handled(inbound, _as_resend(future.result(), first), answered_inline,
                             started)

    async def handle_async(self, inbound: Inbound, *, answered_inline: bool = False,
                           hold_seconds: float | None = None,
                           max_idle: timedelta | None = None) -> Handled:
        """`handle` for the event loop: it waits for the writer without holding a thread."""
        started = time.perf_counter()
        future, first = self._submit(inbound, answered_inline, hold_seconds, max_idle)
        waiter = asyncio.wrap_future(future)
        # A caller that gave up (503 after its timeout) must not cancel the write, which a
        # resend may share; its outcome is then read here so it is not reported unread.
        waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
        result = await asyncio.shield(waiter)
        return self._handled(inbound, _as_resend(result, first), answered_inline, started)

    def _submit(self, inbound: Inbound, answered_inline: bool, hold_seconds: float | None,
                max_idle: timedelta | None) -> tuple[Future[Handled], bool]:
        """The writer's future for this message, and whether this call queued it (False: a
        resend joined the write already on its way)."""
        key = (inbound.channel, inbound.user_id, inbound.message_id)
        with self._inflight_lock:
            future = self._inflight.get(key)
            if future is not None:
                return future, False
            future = self.writer.submit(
                self._job(inbound, answered_inline, hold_seconds, max_idle),
                self._retry(inbound), (inbound.channel, inbound.user_id))
            self._inflight[key] = future
        future.add_done_callback(lambda done: self._forget(key, done))
        return future, True

    def _forget(self, key: tuple[str, str, str], done: Future[Handled]) -> None:
        with self._inflight_lock:
            if self._inflight.get(key) is done:
                del self._inflight[key]

    def _job(self, inbound: Inbound, answered_inline: bool, hold_seconds: float | None,
             max_idle: timedelta | None) -> Callable[[Session], Handled]:
        def job(session: Session) -> Handled:
            handled = self._handle(session, inbound, answered_inline, hold_seconds, max_idle)
            # The batch's next job reads with Core: no ORM object may outlive this one.
            session.flush()
            session.expunge_all()
            return handled
        return job

    @staticmethod
    def _retry(inbound: Inbound) -> Callable[[BaseException, int], bool]:
        def retry(exc: BaseException, attempt: int) -> bool:
            # A concurrent delivery of the same message, or a serialisation conflict: the
            # retry finds the first one's result or takes its turn. A store that is down or
            # too slow is not retried here: the caller answers 503.
            if not isinstance(exc, IntegrityError | OperationalError) or \
                    attempt >= RETRIES - 1 or unavailable(exc):
                return False
            log.info("retrying %s message %s after %s", inbound.channel,
                     inbound.message_id, type(exc).__name__)
            return True
        return retry

    def _handled(self, inbound: Inbound, result: Handled, answered_inline: bool,
                 started: float) -> Handled:
        self.metrics.pipeline_seconds.observe(time.perf_counter() - started)
        if result.duplicate:
            self.metrics.duplicates.labels(inbound.channel).inc()
        else:
            self.metrics.messages_in.labels(inbound.channel).inc()
            if answered_inline:
                self.metrics.messages_out.labels(inbound.channel).inc(len(result.replies))
        return result

    # ---- inside the transaction ---------------------------------------------------------

    def take_for_response(self, handled: Handled, deadline: datetime) -> bool:
        """Claim held replies as answered in the response, if that can still happen before
        `deadline`; False: the outbox sends them."""
        with self._lock, self.sessions.begin() as session:
            return outbox.take_for_response(session, handled.outbox_ids, self.clock,
                                            deadline)

    def release(self, handled: Handled) -> None:
        """The response went out without the replies: the outbox sends them now.

        For a redelivery that includes replies an earlier response carried: the channel
        delivering again means that response never arrived.
        """
        with self._lock, self.sessions.begin() as session:
            outbox.release(session, handled.outbox_ids, self.clock(),
                           redeliver=handled.duplicate)

    def _handle(self, session: Session, inbound: Inbound, answered_inline: bool,
                hold_seconds: float | None, max_idle: timedelta | None) -> Handled:
        """One message inside the writer's transaction. The common case (a known customer
        answering the bot) is a few Core statements; the ORM object of the conversation is
        loaded only for what changes more than its state (filing, handoff, closing...)."""
        now = self.clock()
        conversation: Conversation | None = None  # the ORM object, when a path needs it
        talk = conversations.lookup(session, inbound.channel, inbound.user_id)
        if talk is not None and max_idle is not None and talk.updated_at < now - max_idle:
            raise Expired(f"this {inbound.channel} id has been idle since "
                          f"{talk.updated_at:%Y-%m-%d} and has expired; start afresh")
        if talk is None:  # first contact: create the customer, identity and conversation
            talk = conversations.start(session, inbound.channel, inbound.user_id,
                                       inbound.display_name, now)
        if talk is None:  # the identity came first (another channel path made it)
            identity = customers.identity_for(session, inbound.channel, inbound.user_id, now,
                                              inbound.display_name)
            conversation = conversations.open_locked(session, identity, now)
            talk = conversations.talk_of(conversation, None)

        def orm() -> Conversation:
            nonlocal conversation
            if conversation is None:
                conversation = conversations.get(session, talk.id)
                if conversation is None:
                    raise RuntimeError(f"conversation {talk.id} vanished")
            return conversation

        spans = find_sensitive(inbound.text)
        masked = redact(inbound.text, spans)
        raw = _redacted(inbound.raw, inbound.text, masked)
        if inbound.attachments:  # evidence the customer sent: kept with the message
            raw = {**(raw or {}), "attachments": [
                {"kind": a.kind, "ref": a.ref, "meta": a.meta} for a in inbound.attachments]}
        message_id = conversations.add_inbound(session, talk, text=masked, now=now,
                                               external_id=inbound.message_id,
                                               raw_payload=raw, sent_at=inbound.timestamp)
        if message_id is None:  # a redelivery: answer as the first time
            earlier = conversations.find_inbound_row(session, inbound.channel,
                                                     inbound.message_id)
            if earlier is None:
                raise RuntimeError("a stored message vanished")
            if earlier[1] != talk.id:
                # Someone else's message id: never answer with their replies.
                raise InvalidPayload("this message id was already used by another sender")
            return self._replay(session, talk, earlier[0], earlier[2], inbound.user_id,
                                inbound.text)
        verified = talk.confirmed_phone
        if inbound.verified_phone:
            verified = self._verified(session, orm(), inbound.verified_phone, now)
            talk.customer_id = orm().customer_id
        if inbound.edits:
            original = conversations.find_inbound(session, inbound.channel, inbound.edits)
            if original is not None:
                conversations.edit_message(session, original, masked)
        shown = masked if masked != inbound.text else None
        if spans:  # the ID-card and card numbers, encrypted, for a lead's reveal
            vault.keep(session, self.settings, inbound.text, conversation_id=talk.id,
                       message_id=message_id, now=now)

        if inbound.kind == "closed":
            # The customer left the channel (WeChat unsubscribe): the conversation closes,
            # its cases stay; nothing can be sent to them any more.
            orm().status = "closed"
            conversations.save_state(session, orm(), {}, now)
            return Handled((), False, talk.id, None, masked_text=shown)
        if talk.status == "closed":
            # Back again: whoever closed it left the state to start from (an agent keeps
            # the customer's name and phone; an unsubscribe kept nothing).
            closed = orm()
            closed.status = "bot"
            conversations.clear_handoff(closed)
            closed.callback_reason = closed.callback_at = None
            talk.handoff_requested_at = None
        elif talk.status == "handoff" and not _answers_feedback(talk, masked):
            # An agent has this conversation: the bot stays silent, the agent sees it live
            # (but for the answer to a satisfaction question, which the bot records).
            if conversation is not None:
                conversation.updated_at = now
            else:
                conversations.touch(session, talk, now)
            self.notify(session, "message", talk.id)
            return Handled((), False, talk.id, None, masked_text=shown)
        if talk.handoff_requested_at is not None:  # waiting: the queue shows it
            self.notify(session, "message", talk.id)
        stage = talk.state.get("stage")
        if inbound.kind == "edited" and stage in ("filed", "filing"):
            # An edit after filing is kept with the conversation, not re-read into the case.
            return Handled((), False, talk.id, None, masked_text=shown)

        local_now = now.astimezone(self.settings.zone)
        state = State.from_dict(talk.state) if talk.state else None
        t0 = time.perf_counter()
        step = self.engine.step(state, inbound.text, local_now,
                                Hints(channel=inbound.channel, lang=inbound.lang,
                                      verified_phone=verified,
                                      kind=_HINT_KINDS.get(inbound.kind, "text")))
        elapsed = time.perf_counter() - t0
        after_commit(session, lambda: self.metrics.step_seconds.observe(elapsed))
        if step.events:  # filing, a lookup, a rating, a handoff
            # Only a handoff changes the conversation row beyond its state: the ORM's work.
            handoff = any(isinstance(e, HandoffRequested) for e in step.events)
            subject = orm() if handoff or conversation is not None else talk
            step, replies = self._carry_out(session, subject, step, now, local_now)
        else:
            replies = list(step.replies)
        if conversation is not None:
            conversations.save_state(session, conversation, step.state.to_dict(), now)
            session.flush()  # before the Core statements below and the batch's next job
        else:
            conversations.save_talk_state(session, talk, step.state.to_dict(), now)

        payloads = [_payload(reply) for reply in replies]
        if payloads and step.state.waiting_for:  # the last reply is the question
            payloads[-1]["asks"] = step.state.waiting_for
        sent = conversations.add_replies(session, talk, message_id,
                                         [(p["text"], p["quick_replies"]) for p in payloads],
                                         now)
        hold_until = now + timedelta(seconds=hold_seconds) if hold_seconds else None
        items = outbox.enqueue_replies(session, sent, conversation_id=talk.id,
                                       channel=talk.channel, recipient=inbound.user_id,
                                       payloads=payloads, now=now, delivered=answered_inline,
                                       hold_until=hold_until)
        outbound = tuple(_outbound(inbound.channel, inbound.user_id, p["text"],
                                   p["quick_replies"], item, p.get("asks"))
                         for p, item in zip(payloads, items, strict=True))
        return Handled(outbound, False, talk.id, step.state.waiting_for, tuple(items),
                       masked_text=shown)

    def _verified(self, session: Session, conversation: Conversation, raw_phone: str,
                  now: datetime) -> str | None:
        """The channel vouches for this phone (a Telegram contact the user shared from their
        own account): the identity joins the customer who verified it before."""
        found = find_phones(raw_phone, default_region="CN")
        if not found:
            return None
        phone = found[0].e164
        customer_id = customers.verify_phone(session, conversation.customer_id, phone, now)
        if customer_id != conversation.customer_id:
            session.flush()
            session.refresh(conversation)
        return phone

    def _carry_out(self, session: Session, conversation: Conversation | conversations.Talk,
                   step: Step, now: datetime, local_now: datetime
                   ) -> tuple[Step, list[Reply]]:
        """Do what the engine asked (file, look up, hand over) and collect every reply."""
        replies = list(step.replies)
        for event in step.events:
            if isinstance(event, FileCase):
                due = due_date(local_now.date(), self.settings.answer_days)
                number = cases.next_number(session, local_now.date(), self.settings.case_prefix)
                # A typed phone is kept on the case and the customer's own record; it
                # links no one (only a phone the channel verified does, see `_verified`).
                customers.confirm_phone(session, conversation.customer_id,
                                        event.case.get("name"), event.case.get("phone"), now)
                case = cases.file(session, event.case, number=number,
                                  customer_id=conversation.customer_id,
                                  conversation_id=conversation.id,
                                  channel=conversation.channel, now=now, due=due,
                                  received=local_now.date(),
                                  by_bot=not conversations.had_agent(
                                      session, conversation.id,
                                      since=cases.last_filed_at(session, conversation.id)))
                vault.link_case(session, conversation.id, case.id)
                assignment.on_filed(session, case, now)  # when a lead turned it on
                if conversation.callback_reason is not None and \
                        conversation.handoff_requested_at is not None:
                    # They asked for a person nobody could be: someone calls them back.
                    cases.flag_callback(session, case, conversation.callback_reason, now)
                self.notify(session, "filed", conversation.id,
                            urgent=case.priority == "urgent")
                after_commit(session, self.metrics.cases_filed.labels(
                    conversation.channel, event.case.get("priority", "normal")).inc)
                urgent = case.priority == "urgent"
                step = self.engine.resume(step.state, CaseFiled(
                    number, due.isoformat(),
                    agents.online(session, now, rules.ONLINE_WITHIN) if urgent else 0,
                    agents.any_active(session) if urgent else False), local_now)
                replies.extend(step.replies)
            elif isinstance(event, LookupStatus):
                result = self._status(session, conversation, event, now)
                step = self.engine.resume(step.state, result, local_now)
                replies.extend(step.replies)
            elif isinstance(event, RatingGiven | RatingComment | ReviewRequested):
                step, said = self._feedback(session, conversation, step, event, now,
                                            local_now)
                replies.extend(said)
            elif isinstance(event, HandoffRequested):
                assert isinstance(conversation, Conversation)  # see _handle
                step = self._queue_for_agent(session, conversation, step, event.reason, now,
                                             local_now)
                replies.extend(step.replies)
        return step, replies

    def _status(self, session: Session, conversation: Conversation | conversations.Talk,
                event: LookupStatus, now: datetime) -> StatusResult:
        """A case's status for its own customer; for anyone else, only on the phone number
        on the case, a few tries an hour, linking nothing. Every lookup is audited."""
        number = event.case_number
        actor = f"identity:{conversation.identity_id}"
        case = cases.find_for_customer(session, number, conversation.customer_id)
        if case is not None:
            audit.record(session, actor=actor, action="status_lookup", subject=f"case:{number}",
                         now=now, detail={"channel": conversation.channel, "result": "owner"})
            updated = cases.last_update(session, case).astimezone(self.settings.zone)
            return StatusResult(case.number, True, case.status, case.due_date.isoformat(),
                                updated.strftime("%Y-%m-%d %H:%M"),
                                conversations.latest_notice(session, case))
        if event.phone is None:
            # Whether or not it exists: asking for the phone reveals nothing.
            return StatusResult(number, False, needs_phone=True)
        tried = audit.count(session, actor=actor, action="status_by_phone",
                            since=now - timedelta(hours=1))
        if tried >= self.settings.status_lookups_per_hour:
            outcome = "limited"
        else:
            case = cases.by_number(session, number)
            outcome = "answered" if case is not None and case.phone == event.phone \
                else "mismatch"
        audit.record(session, actor=actor, action="status_by_phone", subject=f"case:{number}",
                     now=now, detail={"channel": conversation.channel, "result": outcome})
        if outcome == "answered" and case is not None:
            return StatusResult(case.number, True, case.status, case.due_date.isoformat(),
                                by_phone=True)
        return StatusResult(number, False, by_phone=True, limited=outcome == "limited")

    def _feedback(self, session: Session, conversation: Conversation | conversations.Talk,
                  step: Step, event: RatingGiven | RatingComment | ReviewRequested,
                  now: datetime, local_now: datetime) -> tuple[Step, list[Reply]]:
        """Keep the customer's rating on their case; a review they ask for reopens it."""
        case = cases.find_for_customer(session, event.case_number, conversation.customer_id)
        if isinstance(event, ReviewRequested):
            due = work.request_review(session, case, event.score, today=local_now.date(),
                                      now=now) if case is not None else None
            if due is not None:
                self.notify(session, "case", conversation.id, urgent=False)
            step = self.engine.resume(step.state, ReviewOpened(
                event.case_number, due is not None, due.isoformat() if due else None),
                local_now)
            return step, list(step.replies)
        if case is None:
            return step, []
        if isinstance(event, RatingGiven):
            work.rate(session, case, event.score, event.comment, now=now)
        else:
            work.comment_on_rating(session, case, event.text, now=now)
        self.notify(session, "case", conversation.id)
        return step, []

    def _queue_for_agent(self, session: Session, conversation: Conversation, step: Step,
                         reason: str, now: datetime, local_now: datetime) -> Step:
        """Queue the conversation for a person and tell the customer how long it takes, or,
        with no agent online, that someone will call back (the bot goes on collecting)."""
        already = conversation.handoff_requested_at is not None
        urgent = reason == "urgent" or conversation.handoff_urgent
        escalated = already and urgent and not conversation.handoff_urgent
        if not already or escalated:  # a waiting customer who turns out urgent moves up
            conversation.handoff_requested_at = conversation.handoff_requested_at or now
            conversation.handoff_reason = reason
            conversation.handoff_urgent = urgent
        online = agents.online(session, now, rules.ONLINE_WITHIN)
        ahead = conversations.waiting_ahead(session, conversation, urgent)
        wait = rules.estimate_wait(ahead, online)
        if online == 0:
            conversations.flag_callback(conversation, "no_agent_online", now)
            case = cases.latest_for_conversation(session, conversation.id)
            if case is not None and case.status not in ("resolved", "closed"):
                cases.flag_callback(session, case, "no_agent_online", now)
        if not already or escalated:
            self.notify(session, "handoff", conversation.id, urgent=urgent, reason=reason)
            after_commit(session,
                         self.metrics.handoffs.labels(reason, "yes" if online else "no").inc)
        return self.engine.resume(step.state, HandoffQueued(reason, online, wait, already),
                                  local_now)

    def _replay(self, session: Session, talk: conversations.Talk, earlier_id: int,
                earlier_text: str, recipient: str, text: str) -> Handled:
        replies = conversations.replies_to(session, earlier_id)
        items = outbox.for_messages(session, [m.id for m in replies])
        outbound = tuple(_outbound(talk.channel, recipient, m.text,
                                   m.quick_replies or [], items.get(m.id)) for m in replies)
        return Handled(outbound, True, talk.id, talk.state.get("waiting_for"),
                       tuple(items[m.id] for m in replies if m.id in items),
                       masked_text=earlier_text if earlier_text != text else None)


def _as_resend(handled: Handled, first: bool) -> Handled:
    """What a resend that joined the first delivery's write is answered: the same replies,
    marked as a redelivery (as when the first was already stored)."""
    return handled if first or handled.duplicate else replace(handled, duplicate=True)


def _answers_feedback(conversation: Conversation | conversations.Talk, text: str) -> bool:
    """The message answers the satisfaction question the conversation has pending."""
    state = conversation.state or {}
    if not state.get("feedback"):
        return False
    return feedback.answer(State.from_dict(state), text) is not None


def _payload(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text,
            "quick_replies": [{"label": q.label, "payload": q.payload}
                              for q in reply.quick_replies]}


def _outbound(channel: str, user_id: str, text: str, quick: list[dict[str, str]],
              ref: int | None, asks: str | None = None) -> Outbound:
    return Outbound(channel=channel, user_id=user_id, text=text,
                    quick_replies=tuple(QuickReply(q["label"], q["payload"]) for q in quick),
                    ref=str(ref) if ref is not None else None, asks=asks)


def _redacted(raw: Any, text: str, masked: str) -> Any:
    """The raw payload with the customer's text masked wherever it appears in it."""
    if raw is None or text == masked:
        return raw
    if isinstance(raw, dict):
        return {k: _redacted(v, text, masked) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_redacted(v, text, masked) for v in raw]
    if isinstance(raw, str) and text in raw:
        return raw.replace(text, masked)
    return raw
