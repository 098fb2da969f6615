"""The conversation engine: one customer message in, the new state, replies and events out.

Pure: no I/O, no clock (the caller passes `now`), no randomness. What needs the outside
world (filing a case, looking up a case's status) comes back as an event; the shell does it
and calls `resume` with the outcome, which produces the replies that depend on it.

The dialogue, as a table (stage: message -> what happens):

    any stage   cancel / restart / human / help / start / complain / status N -> command first
    collecting  answer to the slot asked, plus any other fields -> ask the next missing slot,
                or show the summary and wait for the confirmation
    confirming  yes -> FileCase (stage filing);  a correction -> summary again;  no -> ask what
    filing      resume(CaseFiled) -> case number and deadline (stage filed)
    filed       a new complaint -> collecting again (name and phone kept)

A person is asked for (HandoffRequested) when the customer says so, when a message is urgent
(suspected fraud, a stolen card) or when the bot failed to understand twice in a row. Only the
store knows whether agents are online, so the shell queues the conversation and calls
`resume(HandoffQueued)`, which tells the customer when a person will come and asks the pending
question again: the bot goes on collecting until an agent takes the conversation over (the
shell then stops calling `step`), and `agent_joined`, `agent_transferred`, `agent_closed` and
`hand_back` give what the customer is told about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers

from . import catalog, classify, cues, feedback
from .extract.amounts import AmountMatch, parse_amount_answer
from .extract.dates import extract_date
from .extract.names import parse_name_answer
from .extract.phones import find_phones
from .extract.sensitive import find_sensitive, redact
from .fields import Extraction, amount_in_cny, extract, with_product_hint
from .institution import Institution
from .model import (
    ASK_ORDER,
    QUESTIONS,
    REQUIRED,
    WAIT_CONFIRM,
    WAIT_NAME_PHONE,
    Cancelled,
    CaseFiled,
    Event,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    Hints,
    LookupStatus,
    Outcome,
    QuickReply,
    Reply,
    ReviewOpened,
    ReviewRequested,
    SensitiveFound,
    Slot,
    State,
    StatusResult,
    Step,
    asked_slots,
)
from .segment import Segmenter, default_segmenter
from .text import detect_language, fold, has_cjk

MAX_TEXT = 4000  # longer messages are read up to here (the store keeps them whole)
MAX_ASKS = 2  # after this many tries a slot is left for the agent to complete
SUMMARY_DESCRIPTION = 80
_AFTER_CUE = re.compile(r"(?:应该是|其实是|改成|改为|更正为|是|为|is|was|to|should be)\s*", re.I)


@dataclass
class _Turn:
    """What one step builds up: the replies and events, in order."""

    state: State
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # The pending question or summary said this turn: dropped when a handoff is requested,
    # because `resume(HandoffQueued)` asks it again after saying when a person will come.
    questions: list[Reply] = field(default_factory=list)
    misunderstood: bool = False  # nothing in the message made sense to the bot

    def say(self, key: str, quick: tuple[QuickReply, ...] = (), **values: Any) -> None:
        self.replies.append(Reply(catalog.text(self.state.lang, key, **values), quick))

    def ask(self, reply: Reply) -> None:
        self.replies.append(reply)
        self.questions.append(reply)

    def handing_off(self) -> bool:
        return any(isinstance(e, HandoffRequested) for e in self.events)

    def result(self) -> Step:
        if self.handing_off():
            self.replies = [r for r in self.replies if not any(r is q for q in self.questions)]
        return Step(self.state, tuple(self.replies), tuple(self.events))


class Engine:
    """The conversation engine. Holds only read-only resources (the segmenter)."""

    def __init__(self, segmenter: Segmenter | None = None,
                 institution: Institution | None = None) -> None:
        self.segmenter = segmenter or default_segmenter()
        # The institution's own product and branch names (INTAKE_PRODUCTS_FILE), if any.
        self.institution = institution

    def warm_up(self) -> None:
        """Load dictionaries and vocabularies now rather than on the first message."""
        self.segmenter.load()
        self.step(
            None, "我是张伟，昨天在南山支行取款2000元被扣了两次 I'm Emma", datetime(2026, 1, 1)
        )

    def new_state(self, lang: str = "zh", channel: str | None = None) -> State:
        return State(lang=lang if lang in catalog.LANGUAGES else "zh", channel=channel)

    # ---- the step --------------------------------------------------------------------

    def step(
        self,
        state: State | dict[str, Any] | None,
        text: str,
        now: datetime,
        hints: Hints | None = None,
    ) -> Step:
        """Read one customer message and decide what to say and do."""
        hints = hints or Hints()
        st = self._load(state, hints)
        st.turn += 1
        turn = _Turn(st, now)
        raw = text if isinstance(text, str) else ""
        raw = raw.replace("\x00", "")[:MAX_TEXT]

        secrets = find_sensitive(raw)
        clean = redact(raw, secrets) if secrets else raw
        st.lang = _language(st, clean, hints)
        if hints.verified_phone and "phone" not in st.slots:
            # A number already verified for this customer need not be asked for again.
            st.slots["phone"] = Slot(value=hints.verified_phone, text="",
                                     extra={"source": "verified"})
        if secrets:
            turn.events.append(SensitiveFound(tuple((s.kind, s.start, s.end) for s in secrets)))
            turn.say("sensitive_warning")

        if hints.kind == "group":
            turn.say("group_refused")
            return turn.result()
        if hints.kind == "unsupported" and not clean.strip():
            turn.say("unsupported")
            self._prompt(turn)
            return turn.result()
        if hints.kind == "attachment":
            turn.say("evidence_received")
            if not clean.strip():
                self._prompt(turn)
                return turn.result()
        if not clean.strip():
            if not hints.verified_phone:  # a shared contact says something: its number
                turn.say("empty")
            self._prompt(turn)
            return turn.result()
        if st.lookup is not None:
            # The phone number on the case whose status they asked for; anything else
            # drops the query and is read as usual.
            number, st.lookup = st.lookup, None
            phones = find_phones(clean) if cues.command(clean) is None else []
            if phones:
                turn.events.append(LookupStatus(number, phones[0].e164))
                return turn.result()
        fed = None
        if st.feedback and cues.command(clean) in (None, "cancel"):
            # A pending satisfaction question reads "不用了" as its "no", not as a cancel.
            fed = feedback.answer(st, clean)
        if fed is None and self._command(turn, clean):
            st.misunderstood = 0
            return turn.result()

        stage = st.stage
        if fed is not None:  # the answer to the satisfaction question
            turn.replies.extend(fed[0])
            turn.events.extend(fed[1])
        elif stage == "filing":
            turn.say("acknowledge")
        elif stage == "filed":
            self._after_filing(turn, clean)
        elif stage == "confirming":
            self._confirming(turn, clean)
        else:
            self._collecting(turn, clean)
        st.misunderstood = st.misunderstood + 1 if turn.misunderstood else 0
        # Urgency is heard even while the customer already waits for a person: the queue
        # must put them first.
        if stage != "filing" and st.handoff_reason != "urgent" and classify.is_urgent(clean):
            self._request_handoff(turn, "urgent")
        elif not st.handoff_requested and st.misunderstood >= 2:
            self._request_handoff(turn, "not_understood")
        if not turn.replies and not _awaits_outcome(turn.events):
            self._prompt(turn)
        return turn.result()

    def resume(self, state: State | dict[str, Any], outcome: Outcome, now: datetime) -> Step:
        """Continue after the shell carried out an event (filed the case, looked up a status,
        queued the conversation for an agent)."""
        st = self._load(state, Hints())
        turn = _Turn(st, now)
        if isinstance(outcome, CaseFiled):
            st.stage = "filed"
            st.waiting_for = None
            st.case_number = outcome.number
            turn.say("filed", number=outcome.number, due_date=outcome.due_date)
            case = st.last_case or {}
            if case.get("priority") == "urgent":
                if outcome.agents_online > 0:
                    turn.say("filed_urgent")
                else:  # nobody to call within the hour: say what will actually happen
                    turn.say("filed_urgent_callback" if outcome.team else "filed_urgent_no_team")
            if case.get("missing"):
                sep = catalog.text(st.lang, "list_separator")
                names = sep.join(catalog.label(st.lang, "field", f) for f in case["missing"])
                turn.say("filed_missing", fields=names)
        elif isinstance(outcome, StatusResult):
            if outcome.needs_phone:
                st.lookup = outcome.number
                turn.say("status_ask_phone", number=outcome.number)
                return turn.result()
            if outcome.limited:
                turn.say("status_limited")
            elif outcome.by_phone and outcome.found:
                status = catalog.label(st.lang, "status", outcome.status or "new")
                turn.say("status_found_brief", number=outcome.number, status=status,
                         due_date=outcome.due_date or "-")
            elif outcome.by_phone:
                turn.say("status_phone_mismatch", number=outcome.number)
            elif outcome.found:
                status = catalog.label(st.lang, "status", outcome.status or "new")
                turn.say(
                    "status_found",
                    number=outcome.number,
                    status=status,
                    due_date=outcome.due_date or "-",
                    updated=outcome.updated or "-",
                )
                if outcome.latest:
                    turn.say("status_latest", text=outcome.latest)
            else:
                turn.say("status_not_found", number=outcome.number)
            self._prompt(turn)
        elif isinstance(outcome, ReviewOpened):
            if outcome.opened:
                turn.say("feedback.review_opened", number=outcome.number,
                         due_date=outcome.due_date or "-")
            else:
                turn.say("feedback.review_refused", number=outcome.number)
        elif isinstance(outcome, HandoffQueued):
            st.handoff_requested, st.handoff_reason = True, outcome.reason
            turn.replies.append(Reply(_queued_text(st.lang, outcome)))
            # The bot goes on collecting while the customer waits (or instead of a person):
            # the agent then starts with the details, and the shell tags this last question.
            self._prompt(turn)
        return turn.result()

    def ask_rating(self, state: State | dict[str, Any], case_number: str,
                   now: datetime) -> Step:
        """The satisfaction question once case `case_number` is resolved (workflow.feedback);
        the customer's next messages are read as its answer first."""
        return feedback.ask(self._load(state, Hints()), case_number)

    def hand_back(self, state: State | dict[str, Any], now: datetime) -> Step:
        """An agent returns the conversation to the bot, which carries on where it was."""
        st = self._load(state, Hints())
        turn = _Turn(st, now)
        if st.handoff_requested:
            turn.say("handed_back")
        _end_handoff(st)
        self._prompt(turn)
        return turn.result()

    def agent_joined(self, state: State | dict[str, Any], agent_name: str,
                     now: datetime) -> Step:
        """An agent takes the conversation over: the bot introduces them and asks nothing."""
        return self._notice(state, now, "agent.joined", agent=agent_name)

    def agent_transferred(self, state: State | dict[str, Any], agent_name: str,
                          now: datetime) -> Step:
        """The conversation passes from one agent to another."""
        return self._notice(state, now, "agent.transferred", agent=agent_name)

    def _notice(self, state: State | dict[str, Any], now: datetime, key: str,
                **values: Any) -> Step:
        """One sentence to the customer about the conversation; the state is unchanged."""
        turn = _Turn(self._load(state, Hints()), now)
        turn.say(key, **values)
        return turn.result()

    def agent_closed(self, state: State | dict[str, Any], now: datetime) -> Step:
        """The agent ends the conversation; the customer's next message starts afresh."""
        st = self._load(state, Hints())
        turn = _Turn(st, now)
        _end_handoff(st)
        if st.stage in ("collecting", "confirming"):
            # The agent dealt with this draft: keep who the customer is, not the half-asked
            # question, which would puzzle them when they write again days later.
            keep = {k: v for k, v in st.slots.items() if k in ("name", "phone")}
            self._reset(st)
            st.slots = keep
        turn.say("agent.closed")
        return turn.result()

    # ---- stages ------------------------------------------------------------------------

    def _command(self, turn: _Turn, text: str) -> bool:
        st = turn.state
        cmd = cues.command(text)
        if cmd is None:
            return False
        if cmd in ("cancel", "restart"):
            self._reset(st)
            turn.events.append(Cancelled())
            if cmd == "cancel":
                turn.say("cancelled")
            else:
                turn.say("restarted")
                self._advance(turn)
        elif cmd == "human":
            # Every time they ask: the shell tells them again where they stand in the queue.
            self._request_handoff(turn, "customer_request")
        elif cmd == "help":
            turn.say("help")
            self._prompt(turn)
        elif cmd == "start":
            turn.say("greeting")
            turn.say("privacy")
            self._prompt(turn, quiet_when_idle=True)
        elif cmd == "complain":
            if st.stage == "filed":  # another complaint: keep who they are
                keep = {k: v for k, v in st.slots.items() if k in ("name", "phone")}
                self._reset(st)
                st.slots = keep
            if st.stage == "collecting" and st.waiting_for is None:
                self._advance(turn)
            else:
                self._prompt(turn)
        elif cmd == "status":
            number = cues.case_number(text)
            if number:
                turn.events.append(LookupStatus(number))
            else:
                turn.say("status_ask_number")
        return True

    def _after_filing(self, turn: _Turn, text: str) -> None:
        st = turn.state
        if cues.is_greeting(text):
            turn.say("greeting")
            return
        if cues.is_yes(text) or cues.is_no(text) or len(fold(text).strip()) <= 4:
            turn.say("acknowledge")
            turn.say("new_complaint")
            return
        # A new complaint from the same customer: keep who they are, collect the rest anew.
        keep = {k: v for k, v in st.slots.items() if k in ("name", "phone")}
        st.slots, st.description, st.asked = keep, [], {}
        st.stage, st.waiting_for, st.case_number = "collecting", None, None
        self._collecting(turn, text)

    def _confirming(self, turn: _Turn, text: str) -> None:
        st = turn.state
        if cues.is_yes(text):
            self._file(turn)
            return
        if cues.is_no(text):
            turn.ask(Reply(catalog.text(st.lang, "what_to_change")))
            return
        fixed = self._side_correction(turn, text, skip=None)
        if fixed:
            self._acknowledge(turn, fixed)
            self._advance(turn)
            return
        ex = extract(text, turn.now, self.segmenter, self.institution)
        changed = self._correct(turn, text, ex, force=True)
        if not changed and ex.substantive:
            st.description.append(text)
            changed = True
        if changed:
            self._advance(turn)
        else:
            turn.misunderstood = True
            turn.ask(Reply(catalog.text(st.lang, "confirm_again"), _confirm_buttons(st.lang)))

    def _collecting(self, turn: _Turn, text: str) -> None:
        st = turn.state
        target = st.waiting_for
        if target is None and not st.slots and not st.description and cues.is_greeting(text):
            turn.say("greeting")
            self._advance(turn)
            return
        ex = extract(text, turn.now, self.segmenter, self.institution)
        if target == WAIT_NAME_PHONE:
            self._name_and_phone(turn, text, ex)
            return
        if target in ASK_ORDER and st.turn > 1 and not cues.is_dont_know(text):
            # "sorry, the amount was 450 not 540" while asked for something else: a
            # correction, never the answer to the question asked, which is asked again.
            fixed = self._side_correction(turn, text, skip=target)
            if fixed:
                self._acknowledge(turn, fixed)
                if self._next_slot(st) == target:
                    turn.ask(self._question(st, target))
                else:
                    self._advance(turn)
                return
        answered: str | None = None
        error: str | None = None
        gave_up = False  # a second answer that did not fit: the slot is left for an agent
        if target in ASK_ORDER:
            if cues.is_dont_know(text):
                self._give_up(st, target)
                answered = target
            else:
                slot, error = self._parse_answer(target, text, ex, turn.now)
                if slot is not None:
                    st.slots[target] = slot
                    answered = target
                elif error is not None and st.asked.get(target, 0) >= MAX_ASKS:
                    self._give_up(st, target, text)
                    answered, error, gave_up = target, None, True
        before = set(st.slots)
        if st.turn > 1 and cues.is_correction(text):
            self._correct(turn, text, ex, force=False, skip=answered)
        self._fill(st, ex, text, skip=answered, now=turn.now)
        # The description keeps the customer's own account: the answer to "what happened" and
        # anything substantive they say unprompted, not their answers to other questions.
        # A message that did not answer the question asked belongs in the description only
        # when it says more than a failed answer would (a rejected name is not an account),
        # or says something urgent ("卡被盗刷了" when asked for the name).
        if answered == "description" or (
            answered is None
            and ex.substantive
            and (error is None or len(text) > 20 or classify.is_urgent(text))
        ):
            st.description.append(text)
        if (error is not None or gave_up) and not (set(st.slots) - before) and not ex.substantive:
            turn.misunderstood = True
            if error is not None:
                # Nothing in the message fits: say what was wrong and ask again.
                turn.ask(self._reprompt(st, target, error, text))
                return
        self._advance(turn)

    def _name_and_phone(self, turn: _Turn, text: str, ex: Extraction) -> None:
        """The answer to "your name and phone?": either or both ("张伟，139…", "Emma Clarke
        +44 7700 900123"); what is still missing is then asked on its own."""
        st = turn.state
        if cues.is_dont_know(text):
            self._give_up(st, "name")
            self._advance(turn)
            return
        if st.turn > 1:
            fixed = self._side_correction(turn, text, skip=WAIT_NAME_PHONE)
            if fixed:
                self._acknowledge(turn, fixed)
                turn.ask(self._question(st, WAIT_NAME_PHONE))
                return
        phone = ex.phone
        rest = text
        if phone is not None:
            st.slots["phone"] = Slot(value=phone.e164, text=phone.text)
            rest = (text[:phone.start] + " " + text[phone.end:]).strip(" ，,、;；。.")
        # "David Wong, my mobile is 139…": the name is one of the pieces the customer set apart.
        name = next((n for piece in _PIECES.split(rest) if piece.strip()
                     and (n := _name_answer(piece.strip()))), None) if rest else None
        name = name or (_name_answer(rest) if rest else None)
        if name is None and ex.name is not None:
            name = ex.name.name
        if name:
            st.slots["name"] = Slot(value=name, text=rest)
        before = set(st.slots)
        self._fill(st, ex, text, skip="name", now=turn.now)
        if phone is None and not name:
            if ex.substantive and not (set(st.slots) - before):
                st.description.append(text)  # more of their account, not an answer
                self._advance(turn)
                return
            # Neither: ask for the name on its own, as before the joint question.
            turn.misunderstood = not ex.substantive
            st.waiting_for = "name"
            turn.ask(self._reprompt(st, "name", "name", text))
            return
        self._advance(turn)

    # ---- slots ---------------------------------------------------------------------------

    def _parse_answer(
        self, slot: str, text: str, ex: Extraction, now: datetime
    ) -> tuple[Slot | None, str | None]:
        """The slot's value from a direct answer, or the reason it is not one."""
        if slot == "description":
            return Slot(value=text.strip(), text=text), None
        if slot == "resolution":
            return Slot(value=text.strip(), text=text), None
        if slot == "name":
            name = _name_answer(text) or (ex.name.name if ex.name else None)
            return (Slot(value=name, text=text), None) if name else (None, "name")
        if slot == "phone":
            if ex.phone:
                return Slot(value=ex.phone.e164, text=ex.phone.text), None
            return None, "phone"
        if slot == "business":
            if ex.product is not None and ex.business is not None:
                return Slot(value=ex.business.value, text=text, extra=_business_extra(ex)), None
            label = classify.parse_business_answer(text) or ex.business
            if label:
                return Slot(
                    value=label.value, text=text, extra={"reasons": list(label.reasons)}
                ), None
            return None, "business"
        if slot == "incident_time":
            return _date_slot(ex, now, answer=text)
        if slot == "amount":
            m = parse_amount_answer(text) or ex.amount
            return (_amount_slot(m, answer=True), None) if m else (None, "amount")
        return None, "generic"

    def _fill(self, st: State, ex: Extraction, text: str, skip: str | None, now: datetime) -> None:
        """Fill empty slots from whatever else the message says."""
        found: dict[str, Slot] = {}
        if ex.name:
            found["name"] = Slot(value=ex.name.name, text=ex.name.name)
        if ex.phone:
            found["phone"] = Slot(value=ex.phone.e164, text=ex.phone.text)
        if ex.business:
            found["business"] = Slot(
                value=ex.business.value, text=text, extra=_business_extra(ex))
        if ex.date:
            # A future date in passing ("下周一前答复我") is not when it happened.
            slot, _ = _date_slot(ex, now, answer=None)
            if slot is not None:
                found["incident_time"] = slot
        if ex.amount:
            found["amount"] = _amount_slot(ex.amount)
        if ex.branch:
            found["branch"] = Slot(value=ex.branch, text=ex.branch)
        if ex.resolution:
            found["resolution"] = Slot(value=ex.resolution, text=ex.resolution)
        elif ex.suggestion and ex.substantive and not classify.announces_suggestion(text):
            # A suggestion asks for nothing but itself: its words are the request (once it is
            # made: "我就是想提个小建议" only announces it).
            found["resolution"] = Slot(value=text.strip(), text=text, extra={"suggestion": True})
        if ex.substantive and not st.filled("description") and skip != "description":
            found["description"] = Slot(value=text.strip(), text=text)
        for name, slot in found.items():
            if name == skip:
                continue
            current = st.slots.get(name)
            if current is None or (current.status == "unknown" and name != "description"):
                st.slots[name] = slot
            elif name == "business" and current.value == "other" and slot.value != "other":
                st.slots[name] = slot
            elif name == "amount" and _better_amount(current, slot):
                st.slots[name] = slot

    def _correct(
        self, turn: _Turn, text: str, ex: Extraction, force: bool, skip: str | None = None
    ) -> bool:
        """Apply a correction ("电话写错了，是139…"); True when a field changed."""
        st = turn.state
        targets = cues.correction_targets(text)
        if not targets and not force:
            # A cue alone ("不是我操作的", "sorry") names nothing to correct outside the
            # summary; the values in such a message are new facts, not corrections.
            return False
        changed = False
        extracted: dict[str, Slot | None] = {
            "phone": Slot(value=ex.phone.e164, text=ex.phone.text) if ex.phone else None,
            "amount": _amount_slot(ex.amount) if ex.amount else None,
            "incident_time": _date_slot(ex, turn.now, answer=None)[0] if ex.date else None,
            "business": (
                Slot(
                    value=ex.business.value, text=text, extra={"reasons": list(ex.business.reasons)}
                )
                if ex.business and "business" in targets
                else None
            ),
            "branch": Slot(value=ex.branch, text=ex.branch) if ex.branch else None,
            "name": Slot(value=ex.name.name, text=ex.name.name) if ex.name else None,
        }
        for slot_name in targets or list(extracted):
            # Outside the summary, only what was already given can be corrected.
            if slot_name == skip or (not force and slot_name not in st.slots):
                continue
            new = extracted.get(slot_name)
            if new is None and slot_name in targets:
                new = self._value_after_cue(slot_name, text, ex, turn.now)
            if new is None:
                continue
            old = st.slots.get(slot_name)
            if old is None or old.value != new.value or old.status != new.status:
                st.slots[slot_name] = new
                changed = True
        return changed

    def _side_correction(self, turn: _Turn, text: str, skip: str | None) -> list[str]:
        """Correct a field already given ("金额是450不是540", "no, my name is John Smyth");
        the fields changed, in the order named.

        A field counts as corrected when the message names it with a correction cue, or
        negates its current value ("450 not 540"); the new value is read from the message
        without its negated part.
        """
        st = turn.state
        negated, rest = _split_negated(text)
        named = [s for s in cues.correction_targets(text) if s in st.slots] \
            if cues.is_correction(text) else []
        for slot in ("amount", "phone", "incident_time", "name"):
            if slot not in named and slot in st.slots and any(
                    self._same_value(slot, st.slots[slot], n, turn.now) for n in negated):
                named.append(slot)
        changed: list[str] = []
        if not named:
            return changed
        ex = extract(rest, turn.now, self.segmenter, self.institution)
        for slot in named:
            if slot in asked_slots(skip):
                continue
            new = self._corrected_value(slot, rest, ex, turn.now)
            old = st.slots.get(slot)
            if new is None or new.value is None or (old is not None and old.value == new.value):
                continue
            if slot == "description":
                st.description = [new.value]
            st.slots[slot] = new
            changed.append(slot)
        return changed

    def _corrected_value(self, slot: str, text: str, ex: Extraction,
                         now: datetime) -> Slot | None:
        """The new value of `slot` in a correction (its negated part already removed)."""
        after = _after_cue(text)
        if slot == "phone":
            return Slot(value=ex.phone.e164, text=ex.phone.text) if ex.phone else None
        if slot == "amount":
            m = parse_amount_answer(after or text) or ex.amount
            return _amount_slot(m, answer=True) if m else None
        if slot == "incident_time":
            return _date_slot(ex, now, answer=None)[0] if ex.date else None
        if slot == "name":
            name = _name_answer(after) if after else None
            name = name or (ex.name.name if ex.name else None)
            return Slot(value=name, text=name) if name else None
        if slot == "business":
            label = (classify.parse_business_answer(after) if after else None) or ex.business
            return Slot(value=label.value, text=text,
                        extra={"reasons": list(label.reasons)}) if label else None
        if slot == "branch":
            value = ex.branch or _ARTICLE.sub("", after)
            return Slot(value=value, text=value) if value else None
        if slot in ("resolution", "description") and after:
            return Slot(value=after, text=after)
        return None

    def _same_value(self, slot: str, current: Slot, said: str, now: datetime) -> bool:
        """Does `said` (a negated piece: "不是540") give the field's current value?"""
        if current.value is None:
            return False
        if slot == "amount":
            m = parse_amount_answer(said)
            return m is not None and Decimal(current.value) == m.value
        if slot == "phone":
            found = find_phones(said)
            return bool(found) and found[0].e164 == current.value
        if slot == "incident_time":
            m = extract_date(said, now)
            return m is not None and m.date is not None and m.date.isoformat() == current.value
        return fold(said).strip().lower() == fold(str(current.value)).lower()

    def _acknowledge(self, turn: _Turn, fixed: list[str]) -> None:
        """Say what was changed ("已将涉及金额改为 450 元。")."""
        st = turn.state
        for slot in fixed:
            turn.say("corrected", field=catalog.label(st.lang, "field", slot),
                     value=_show(st.lang, slot, st.slots.get(slot), st))

    def _value_after_cue(self, slot: str, text: str, ex: Extraction, now: datetime) -> Slot | None:
        parts = _AFTER_CUE.split(fold(text), maxsplit=1)
        rest = text[len(text) - len(parts[-1]) :].strip(" ，,。.!！") if len(parts) > 1 else ""
        if not rest:
            return None
        if slot in ("resolution", "description"):
            return Slot(value=rest, text=rest)
        if slot == "name":
            m = parse_name_answer(rest)
            return Slot(value=m.name, text=rest) if m else None
        if slot == "amount":
            m = parse_amount_answer(rest)
            return _amount_slot(m) if m else None
        if slot == "business":
            label = classify.parse_business_answer(rest)
            return Slot(value=label.value, text=rest) if label else None
        if slot == "branch":
            return Slot(value=rest, text=rest)
        return None

    def _give_up(self, st: State, slot: str, text: str = "") -> None:
        """The customer does not know (or we could not understand twice): leave it to an agent."""
        current = st.slots.get(slot)
        if current is not None and current.status in ("approximate", "vague"):
            # Keep the customer's rough words ("三万多", "去年") rather than nothing.
            current.extra["exact_asked"] = True
            return
        if slot == "business":
            st.slots[slot] = Slot(value="other", text=text, status="filled")
            return
        st.slots[slot] = Slot(value=None, text=text, status="unknown")

    # ---- what to say next -----------------------------------------------------------------

    def _advance(self, turn: _Turn) -> None:
        st = turn.state
        nxt = self._next_slot(st)
        if nxt is None:
            st.stage = "confirming"
            st.waiting_for = WAIT_CONFIRM
            turn.ask(self._summary(st))
            return
        st.stage = "collecting"
        st.waiting_for = nxt
        st.asked[nxt] = st.asked.get(nxt, 0) + 1
        turn.ask(self._question(st, nxt))

    def _next_slot(self, st: State) -> str | None:
        for slot in ASK_ORDER:
            current = st.slots.get(slot)
            if slot == "amount":
                if current is None and _needs_amount(st):
                    return slot
                if (
                    current is not None
                    and current.status == "approximate"
                    and not current.extra.get("exact_asked")
                    and st.asked.get(slot, 0) < 1
                ):
                    return slot
                continue
            if (slot == "incident_time" and current is not None and current.status == "vague"
                    and st.asked.get(slot, 0) < 1):
                return slot
            if current is None:
                if slot == "name" and "phone" not in st.slots and not st.asked.get("name"):
                    return WAIT_NAME_PHONE
                return slot
        return None

    def _prompt(self, turn: _Turn, quiet_when_idle: bool = False) -> None:
        """Ask the pending question again (after a command, an empty message...)."""
        st = turn.state
        if st.stage == "confirming":
            turn.ask(self._summary(st))
        elif st.waiting_for == WAIT_NAME_PHONE and ("name" in st.slots or "phone" in st.slots):
            self._advance(turn)  # half answered meanwhile (a shared contact): ask the rest
        elif st.stage == "collecting" and st.waiting_for in QUESTIONS:
            turn.ask(self._question(st, st.waiting_for))
        elif st.stage == "collecting" and not quiet_when_idle:
            self._advance(turn)
        elif not turn.replies:
            turn.say("new_complaint" if st.stage == "filed" else "acknowledge")

    def _question(self, st: State, slot: str) -> Reply:
        lang = st.lang
        if slot == WAIT_NAME_PHONE:
            return Reply(catalog.text(lang, "ask.name_phone"))
        if slot == "amount":
            current = st.slots.get("amount")
            if current is not None and current.status == "approximate":
                shown = _show_amount(lang, current, approximate_prefix=False)
                return Reply(
                    catalog.text(lang, "ask.amount_exact", amount=shown), (_dont_know(lang),)
                )
            return Reply(catalog.text(lang, "ask.amount"), (_dont_know(lang),))
        if slot == "business":
            return Reply(catalog.text(lang, "ask.business"), _business_buttons(lang))
        if slot == "incident_time":
            current = st.slots.get("incident_time")
            if current is not None and current.status == "vague":
                return Reply(catalog.text(lang, "ask.incident_time_exact", text=current.text),
                             (_dont_know(lang),))
            return Reply(catalog.text(lang, "ask.incident_time"), (_dont_know(lang),))
        return Reply(catalog.text(lang, f"ask.{slot}"))

    def _reprompt(self, st: State, slot: str, error: str, text: str) -> Reply:
        lang = st.lang
        st.asked[slot] = st.asked.get(slot, 0) + 1
        if error == "future":
            return Reply(
                catalog.text(lang, "reprompt.incident_time_future", date=text), (_dont_know(lang),)
            )
        if slot == "business":
            return Reply(catalog.text(lang, "reprompt.business"), _business_buttons(lang))
        if slot == "phone":
            shown = text.strip()[:40]
            return Reply(catalog.text(lang, "reprompt.phone", text=shown))
        if slot in ("incident_time", "amount", "name"):
            return Reply(catalog.text(lang, f"reprompt.{slot}"), (_dont_know(lang),))
        return Reply(catalog.text(lang, "reprompt.generic") + catalog.text(lang, f"ask.{slot}"))

    def _summary(self, st: State) -> Reply:
        lang = st.lang
        lines = [catalog.text(lang, "summary_header")]
        for slot in (
            "name",
            "phone",
            "business",
            "incident_time",
            "amount",
            "branch",
            "description",
            "resolution",
        ):
            current = st.slots.get(slot)
            if slot == "branch" and current is None:
                continue
            if slot == "amount" and current is None:
                continue
            label = catalog.label(lang, "field", slot)
            lines.append(f"{label}: {_show(lang, slot, current, st)}")
        lines.append(catalog.text(lang, "summary_footer"))
        return Reply("\n".join(lines), _confirm_buttons(lang))

    # ---- handoff ---------------------------------------------------------------------------

    def _request_handoff(self, turn: _Turn, reason: str) -> None:
        st = turn.state
        st.handoff_requested, st.handoff_reason = True, reason
        turn.events.append(HandoffRequested(reason))

    # ---- filing ----------------------------------------------------------------------------

    def _file(self, turn: _Turn) -> None:
        st = turn.state
        case = build_case(st)
        st.last_case = case
        st.stage = "filing"
        st.waiting_for = None
        turn.events.append(FileCase(case))

    # ---- state handling -------------------------------------------------------------------

    def _load(self, state: State | dict[str, Any] | None, hints: Hints) -> State:
        if state is None:
            lang = hints.lang if hints.lang in catalog.LANGUAGES else "zh"
            return self.new_state(lang or "zh", hints.channel)
        if isinstance(state, dict):
            return State.from_dict(state)
        return state.copy()

    def _reset(self, st: State) -> None:
        st.stage, st.waiting_for = "collecting", None
        st.slots, st.description, st.asked = {}, [], {}
        st.case_number = None


# ---- the case draft -------------------------------------------------------------------------


def build_case(st: State) -> dict[str, Any]:
    """The case as filed: every field of the brief, normalised, with the reasons behind labels."""
    description = "\n".join(st.description) or (st.value("description") or "")
    resolution = st.value("resolution") or ""
    everything = "\n".join([description, resolution])
    amount = st.slots.get("amount")
    amount_value = Decimal(amount.value) if amount and amount.value is not None else None
    currency = amount.extra.get("currency", "CNY") if amount and amount.value is not None else None
    cny = None
    if amount_value is not None:
        cny = amount_in_cny(AmountMatch(amount_value, currency or "CNY", False, 0, 0, ""))
    business_slot = st.slots.get("business")
    hint = business_slot.extra if business_slot is not None else {}
    category = with_product_hint(classify.classify_category(description, resolution),
                                 hint.get("category"), hint.get("product", ""))
    priority = classify.prioritise(everything, cny)
    business = st.value("business")
    incident = st.slots.get("incident_time")
    missing = [s for s in REQUIRED if (st.slots.get(s) is None or st.slots[s].value is None)]
    return {
        "name": st.value("name"),
        "phone": st.value("phone"),
        "business": business,
        "description": description,
        "incident_time": incident.value if incident else None,
        "incident_time_text": incident.text if incident else None,
        "resolution": st.value("resolution"),
        "amount": str(amount_value) if amount_value is not None else None,
        "amount_approximate": bool(amount and amount.status == "approximate"),
        "currency": currency,
        "branch": st.value("branch"),
        "category": category.primary,
        "secondary_categories": list(category.secondary),
        "priority": priority.value,
        "reasons": {
            "business": (
                st.slots["business"].extra.get("reasons", []) if "business" in st.slots else []
            ),
            "category": {k: list(v) for k, v in category.reasons.items()},
            "priority": list(priority.reasons),
        },
        "regulatory": classify.regulatory(business, category, everything, st.channel),
        "missing": missing,
        "language": st.lang,
        "channel": st.channel,
    }


# ---- helpers ------------------------------------------------------------------------------


_SEGMENTS = re.compile(r"[\s,，。.!！?？;；:：、]+")
_PLAIN_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,6}(?:[·•・][\u4e00-\u9fff]{2,8})+$")
_NAME_LEAD = re.compile(r"^(?:我叫|我是|名字是|姓名是?|my name is|i'm|i am|this is|it's)\s*", re.I)
_PLAIN_LATIN_NAME = re.compile(r"^[A-Z][a-zA-Z'’-]+(?: [A-Z][a-zA-Z'’-]+){1,3}$")


def _name_answer(text: str) -> str | None:
    """The name in an answer to "what is your name", as the customer gives it."""
    m = parse_name_answer(text)
    if m:
        return m.name
    plain = _NAME_LEAD.sub("", fold(text).strip(" .。!！"))
    # Names outside the usual patterns ("阿依古丽·买买提", "Nguyen Van An") are taken as given.
    if _PLAIN_CJK_NAME.match(plain) or _PLAIN_LATIN_NAME.match(plain):
        return plain
    # "叫我老周就行，周建华" / "张三丰 弓长张": the name is one of the pieces. A lower-case
    # English word is no name on its own ("my card was skimmed" does not name "skimmed").
    for piece in _SEGMENTS.split(text):
        if not piece or (not has_cjk(piece) and not piece[:1].isupper()):
            continue
        m = parse_name_answer(piece)
        if m:
            return m.name
    return None


# "不是540", "not 540", "instead of 540", "rather than 540": the value being replaced.
_NEGATED = re.compile(
    r"(?:不是|并非|\bnot\b|\binstead of\b|\brather than\b)\s*"
    r"([^\s,，。.!！?？;；、]+(?:\s+[A-Za-z]+)?)", re.I)
_AFTER = re.compile(
    r"(?:应该是|其实是|改成|改为|更正为|叫|是|为|\bis\b|\bwas\b|\bto\b|should be)\s*", re.I)

_PIECES = re.compile(r"[，,;；、\n]+")
_ARTICLE = re.compile(r"^(?:the|your|our)\s+", re.I)


def _split_negated(text: str) -> tuple[list[str], str]:
    """The negated values of a correction, and the text without them."""
    folded = fold(text)
    return [m.group(1) for m in _NEGATED.finditer(folded)], _NEGATED.sub(" ", folded)


def _after_cue(text: str) -> str:
    """What follows the last "is / 是 / 改为" of a correction: the new value."""
    parts = _AFTER.split(text)
    return parts[-1].strip(" ，,。.!！") if len(parts) > 1 else ""


def _business_extra(ex: Extraction) -> dict[str, Any]:
    """The reasons behind a business line, and the institution's product that named it."""
    extra: dict[str, Any] = {"reasons": list(ex.business.reasons) if ex.business else []}
    if ex.product is not None:
        extra["product"] = ex.product.name
        if ex.product.category:
            extra["category"] = ex.product.category
    return extra


def _awaits_outcome(events: list[Event]) -> bool:
    return any(isinstance(e, FileCase | LookupStatus | HandoffRequested | ReviewRequested)
               for e in events)


def _queued_text(lang: str, queued: HandoffQueued) -> str:
    """Why a person is coming, then when (or that the team will call back)."""
    if queued.reason in ("urgent", "not_understood"):
        lead = catalog.text(lang, f"handoff.{queued.reason}")
    elif queued.already_queued:
        lead = catalog.text(lang, "handoff.already_queued")
    else:
        lead = catalog.text(lang, "handoff.customer_request")
    if queued.agents_online <= 0:
        when = catalog.text(lang, "handoff.offline")
    elif queued.wait_minutes is None:
        when = catalog.text(lang, "handoff.wait_unknown")
    elif queued.wait_minutes <= 1:
        when = catalog.text(lang, "handoff.wait_one")
    else:
        when = catalog.text(lang, "handoff.wait", minutes=queued.wait_minutes)
    return lead + catalog.text(lang, "sentence_separator") + when


def _end_handoff(st: State) -> None:
    st.handoff_requested, st.handoff_reason = False, None
    st.misunderstood = 0


def _language(st: State, text: str, hints: Hints) -> str:
    if st.turn <= 1 and hints.lang in catalog.LANGUAGES and not has_cjk(text):
        default = hints.lang
    else:
        default = st.lang
    if text.lstrip().startswith("/") or cues.command(text) is not None:
        # "/start" or "cancel" says nothing about the language the customer writes in.
        return default
    detected = detect_language(text, default=default)
    # A reply of a number or a name in Latin letters does not switch the conversation's language.
    if detected == "en" and st.lang == "zh" and st.turn > 1 and (
        len(text.split()) < 3 or st.waiting_for == "name"
    ):
        return st.lang
    return detected


def _date_slot(
    ex: Extraction, now: datetime | None, answer: str | None
) -> tuple[Slot | None, str | None]:
    m = ex.date
    if m is None:
        if answer is not None:
            return None, "incident_time"
        return None, None
    if m.vague or m.date is None:
        return Slot(value=None, text=m.text, status="vague"), None
    if now is not None and m.date > now.date():
        return None, "future"
    return Slot(value=m.date.isoformat(), text=m.text), None


def _amount_slot(m: AmountMatch, answer: bool = False) -> Slot:
    extra: dict[str, Any] = {"currency": m.currency}
    if answer:
        extra["answer"] = True  # the answer to "how much?"
    if m.per_item:
        extra["per_item"] = True
    if m.wanted_back:
        extra["wanted_back"] = True
    return Slot(
        value=str(m.value),
        text=m.text,
        status="approximate" if m.approximate else "filled",
        extra=extra,
    )


def _better_amount(current: Slot, new: Slot) -> bool:
    """Does an amount said in passing replace the one already found?

    The total replaces the sum of one of several items ("2000 yuan each ... six thousand
    gone"), and the sum the customer wants back ("I want the 6000 yuan back") replaces one
    merely mentioned; the answer to "how much?" stays.
    """
    if current.value is None or current.extra.get("answer") or new.value is None:
        return False
    if current.extra.get("per_item") and not new.extra.get("per_item"):
        return True
    return bool(new.extra.get("wanted_back")) and not current.extra.get("wanted_back")


def _needs_amount(st: State) -> bool:
    texts = [*st.description, st.value("resolution") or ""]
    if any(s.extra.get("suggestion") for s in st.slots.values()):
        return False
    return any(cues.mentions_money(t) for t in texts if t)


def _show(lang: str, slot: str, current: Slot | None, st: State) -> str:
    if current is None or (current.value is None and current.status != "vague"):
        return catalog.text(lang, "unknown_value")
    if slot == "business":
        return catalog.label(lang, "business", current.value)
    if slot == "incident_time" and current.status == "vague":
        return catalog.text(lang, "vague_date", text=current.text)
    if slot == "amount":
        return _show_amount(lang, current)
    if slot == "phone":
        return show_phone(lang, str(current.value))
    if slot == "description":
        full = "\n".join(st.description) or str(current.value)
        full = full.replace("\n", " ")
        return full if len(full) <= SUMMARY_DESCRIPTION else full[:SUMMARY_DESCRIPTION] + "…"
    return str(current.value)


def _show_amount(lang: str, current: Slot, approximate_prefix: bool = True) -> str:
    approximate = approximate_prefix and current.status == "approximate"
    prefix = catalog.text(lang, "approximate") if approximate else ""
    currency = current.extra.get("currency", "CNY")
    return prefix + show_amount(lang, Decimal(current.value), currency)


def show_amount(lang: str, value: Decimal, currency: str = "CNY") -> str:
    """An amount as the customer's language writes it: "3,200 元", "3,200.50 CNY"."""
    number = f"{value:,.2f}".removesuffix(".00")
    unit = catalog.label(lang, "currency", currency)
    return f"{number} {unit}"


def show_phone(lang: str, e164: str) -> str:
    """A phone number grouped for reading: "139 1234 5678" (a mainland mobile in the zh
    UI), "+86 139 1234 5678", "+44 7700 900123"."""
    if e164.startswith("+861") and len(e164) == 14:
        local = f"{e164[3:6]} {e164[6:10]} {e164[10:]}"
        return local if lang == "zh" else f"+86 {local}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _confirm_buttons(lang: str) -> tuple[QuickReply, ...]:
    yes = catalog.text(lang, "yes_label")
    change = catalog.text(lang, "change_label")
    return (QuickReply(yes, yes), QuickReply(change, change))


def _dont_know(lang: str) -> QuickReply:
    label = catalog.text(lang, "dont_know_label")
    return QuickReply(label, label)


def _business_buttons(lang: str) -> tuple[QuickReply, ...]:
    return tuple(
        QuickReply(catalog.label(lang, "business", b), b) for b in classify.BUSINESS_LINES
    )
