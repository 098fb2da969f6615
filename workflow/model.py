"""Plain data the engine takes and gives: state, replies, events and the case draft.

Everything here serialises to JSON-compatible dicts so the store can keep it as is.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Literal

SCHEMA_VERSION = 1

# The order the bot asks in: the description first, because its answer tends to carry
# several other fields at once (business line, date, amount).
ASK_ORDER: tuple[str, ...] = (
    "description",
    "name",
    "phone",
    "business",
    "incident_time",
    "amount",
    "resolution",
)
REQUIRED: tuple[str, ...] = (
    "name",
    "phone",
    "business",
    "description",
    "incident_time",
    "resolution",
)
SLOTS: tuple[str, ...] = (*ASK_ORDER, "branch")

Stage = Literal["collecting", "confirming", "filing", "filed"]
WAIT_CONFIRM = "confirm"
# Name and phone asked in one question, as a person would ("请留下您的姓名和手机号码"): the
# waiting_for value names each slot asked, joined by "+", in the order the answer gives them.
WAIT_NAME_PHONE = "name+phone"
QUESTIONS: tuple[str, ...] = (*ASK_ORDER, WAIT_NAME_PHONE)


def asked_slots(waiting_for: str | None) -> tuple[str, ...]:
    """The slots a question waits for ("name+phone" -> ("name", "phone"))."""
    return tuple(waiting_for.split("+")) if waiting_for else ()


@dataclass(frozen=True)
class QuickReply:
    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    quick_replies: tuple[QuickReply, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "quick_replies": [{"label": q.label, "payload": q.payload} for q in self.quick_replies],
        }


@dataclass(frozen=True)
class Hints:
    """What the channel knows besides the text."""

    channel: str | None = None
    lang: str | None = None  # the client's language setting, if any
    verified_phone: str | None = None  # an E.164 number the channel or store has verified
    # What arrived: "text"; "attachment" (a photo or file, kept as evidence; `text` is its
    # caption); "unsupported" (voice, sticker...); "group" (a group chat: complaints are private)
    kind: str = "text"


# ---- events: what the shell must do after a step -------------------------------------------


@dataclass(frozen=True)
class SensitiveFound:
    """The message held secrets; spans index the original text, for the store to mask."""

    spans: tuple[tuple[str, int, int], ...]  # (kind, start, end)
    kind: str = "sensitive_found"


@dataclass(frozen=True)
class FileCase:
    """The customer confirmed: file this case, then call `resume` with `CaseFiled`."""

    case: dict[str, Any]
    kind: str = "file_case"


@dataclass(frozen=True)
class LookupStatus:
    """Answer a status query from the store, then call `resume` with `StatusResult`."""

    case_number: str
    # The phone number the customer gave to prove the case is theirs, asked for when the
    # case is not linked to this chat identity (StatusResult.needs_phone).
    phone: str | None = None
    kind: str = "lookup_status"


# Why a conversation is handed to a person (HandoffRequested.reason, State.handoff_reason).
HANDOFF_REASONS: tuple[str, ...] = ("customer_request", "urgent", "not_understood")


@dataclass(frozen=True)
class HandoffRequested:
    """Queue the conversation for an agent, then call `resume` with `HandoffQueued`.

    The step's replies then end without the pending question: `resume` says whether and when
    a person will come, and asks it again.
    """

    reason: str  # one of HANDOFF_REASONS
    kind: str = "handoff_requested"


@dataclass(frozen=True)
class Cancelled:
    kind: str = "cancelled"


@dataclass(frozen=True)
class RatingGiven:
    """The customer rated their resolved case (1-5): store it on the case."""

    case_number: str
    score: int
    comment: str | None = None
    kind: str = "rating_given"


@dataclass(frozen=True)
class RatingComment:
    """A comment on the rating, sent after it: store it with the rating."""

    case_number: str
    text: str
    kind: str = "rating_comment"


@dataclass(frozen=True)
class ReviewRequested:
    """The customer rejects the resolution and asks for a review (复核): reopen the case for
    review, then call `resume` with `ReviewOpened`."""

    case_number: str
    score: int
    kind: str = "review_requested"


Event = (SensitiveFound | FileCase | LookupStatus | HandoffRequested | Cancelled | RatingGiven
         | RatingComment | ReviewRequested)


# ---- outcomes the shell passes back -------------------------------------------------------


@dataclass(frozen=True)
class CaseFiled:
    number: str
    due_date: str  # ISO date
    # Who will act on an urgent case, so the customer is promised only what will happen:
    # agents with the console open now, and whether the deployment has agents at all.
    agents_online: int = 0
    team: bool = False


@dataclass(frozen=True)
class StatusResult:
    number: str
    found: bool
    status: str | None = None
    due_date: str | None = None
    updated: str | None = None
    latest: str | None = None  # the latest message the team sent the customer about it
    # Not linked to this identity: ask for the case's phone number (whether or not the
    # case exists, so a number alone reveals nothing).
    needs_phone: bool = False
    by_phone: bool = False  # answered on the case's phone number: status and due date only
    limited: bool = False  # too many tries by phone: refused for now


@dataclass(frozen=True)
class HandoffQueued:
    reason: str  # the HandoffRequested reason
    agents_online: int  # agents with the console open now
    wait_minutes: int | None  # estimated wait; None when no agent is online
    already_queued: bool = False  # the conversation was already waiting


@dataclass(frozen=True)
class ReviewOpened:
    number: str
    opened: bool  # False: the case can no longer be reviewed this way (a person follows up)
    due_date: str | None = None  # ISO date the review's answer is due


Outcome = CaseFiled | StatusResult | HandoffQueued | ReviewOpened


# ---- state -------------------------------------------------------------------------------


@dataclass
class Slot:
    value: Any = None  # normalised value (str, ISO date, amount string)
    text: str = ""  # the customer's words it came from
    status: str = "filled"  # filled | unknown | vague | approximate
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. currency, reasons


@dataclass
class State:
    version: int = SCHEMA_VERSION
    lang: str = "zh"
    stage: Stage = "collecting"
    waiting_for: str | None = None
    slots: dict[str, Slot] = field(default_factory=dict)
    description: list[str] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)
    turn: int = 0
    case_number: str | None = None
    channel: str | None = None
    handoff_requested: bool = False
    handoff_reason: str | None = None  # one of HANDOFF_REASONS while handoff_requested
    misunderstood: int = 0  # steps in a row the bot could not make sense of
    last_case: dict[str, Any] | None = None  # the draft last filed, for the shell and agents
    # A satisfaction question pending (workflow/feedback.py): {case, stage, tries, score}.
    feedback: dict[str, Any] | None = None
    # A status query waiting for the phone number on the case (StatusResult.needs_phone).
    lookup: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data, for the store. Nested values (a slot's `extra`, the
        last case) are shared with the state, not copied: serialise the result, do not
        change it. (`dataclasses.asdict` copied everything and cost a tenth of a step.)"""
        return {
            "version": self.version, "lang": self.lang, "stage": self.stage,
            "waiting_for": self.waiting_for,
            "slots": {k: {"value": v.value, "text": v.text, "status": v.status,
                          "extra": v.extra} for k, v in self.slots.items()},
            "description": list(self.description), "asked": dict(self.asked),
            "turn": self.turn, "case_number": self.case_number, "channel": self.channel,
            "handoff_requested": self.handoff_requested, "handoff_reason": self.handoff_reason,
            "misunderstood": self.misunderstood, "last_case": self.last_case,
            "feedback": self.feedback, "lookup": self.lookup,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        version = data.get("version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ValueError(f"state schema {version} is newer than this engine ({SCHEMA_VERSION})")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["slots"] = {k: Slot(**v) for k, v in (data.get("slots") or {}).items()}
        known["version"] = SCHEMA_VERSION
        return cls(**known)

    def copy(self) -> State:
        """An independent copy; cheaper than deepcopy, which was a third of a step's time."""
        return replace(
            self,
            slots={k: Slot(v.value, v.text, v.status, copy.deepcopy(v.extra))
                   for k, v in self.slots.items()},
            description=list(self.description),
            asked=dict(self.asked),
            last_case=copy.deepcopy(self.last_case),
            feedback=dict(self.feedback) if self.feedback else None,
        )

    def filled(self, slot: str) -> bool:
        s = self.slots.get(slot)
        return s is not None and s.status in ("filled", "vague", "approximate", "unknown")

    def value(self, slot: str) -> Any:
        s = self.slots.get(slot)
        return s.value if s else None


@dataclass(frozen=True)
class Step:
    state: State
    replies: tuple[Reply, ...]
    events: tuple[Event, ...] = ()

    @property
    def waiting_for(self) -> str | None:
        return self.state.waiting_for
