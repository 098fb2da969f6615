"""The store's tables (SQLAlchemy 2 declarative). Migrations in bot/migrations mirror these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and read back time-zone aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps time-zone aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# BigInteger ids on PostgreSQL, INTEGER (rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def _ts() -> Mapped[datetime]:
    return mapped_column(UTCDateTime())


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    # Confirmed: the customer typed it and confirmed the summary (a claim, linking no one).
    # Verified: the channel vouches for it (Telegram's shared own contact, the hotline's
    # calling number) or an agent decided; only verified phones link identities.
    phone_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Agent(Base):
    """A person who works complaints in the console: an agent, or a lead who sees everything."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(8))  # agent | lead
    lang: Mapped[str] = mapped_column(String(8))  # the console's language: zh | en
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    created_at: Mapped[datetime] = _ts()
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Marked available by the agent: automatic assignment deals cases only to them.
    available: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AgentSession(Base):
    """A console log-in: the cookie's token is kept only as its SHA-256."""

    __tablename__ = "agent_sessions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()  # the last request: idle sessions end
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The console's live connection reports in while it is open: the agent is online.
    present_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """An agent's API token for scripts and the CRM, kept only as its SHA-256."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = _ts()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """Console log-in attempts, for the per-login and per-address limits."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_login_at", "login", "at"),
                      Index("ix_login_attempts_address_at", "address", "at"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = _ts()


class AuditEvent(Base):
    """Every console action (log-ins, takeovers, replies...): who, what, on what, when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))  # agent:<login> | cli | system
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(80), index=True)  # conversation:12 ...
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CannedReply(Base):
    """A prepared answer agents pick in the console; leads edit them."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("lang", "title"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lang: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _ts()


class ChannelIdentity(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _ts()


_WAITING = text("status = 'bot' AND handoff_requested_at IS NOT NULL")


class Conversation(Base):
    """One per channel identity; the engine state lives here as JSON."""

    __tablename__ = "conversations"
    # The queue for a person: counted at every handoff (how many wait ahead).
    __table_args__ = (Index("ix_conversations_waiting", "handoff_urgent", "handoff_requested_at",
                            sqlite_where=_WAITING, postgresql_where=_WAITING),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    # bot: the bot answers (waiting for a person when handoff_requested_at is set);
    # handoff: an agent has it and the bot is silent; closed: ended, the next message starts
    # afresh.
    status: Mapped[str] = mapped_column(String(16), default="bot")
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)
    handoff_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    handoff_reason: Mapped[str | None] = mapped_column(String(32))  # customer_request|urgent|...
    handoff_urgent: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # No agent could take it (none online, a reply out of the channel's reach): call back.
    callback_reason: Mapped[str | None] = mapped_column(String(64))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A redelivered inbound message hits this and becomes a no-op. Outbound rows have no
        # external id (NULLs never collide).
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    sender: Mapped[str] = mapped_column(String(64))  # customer | bot | team | agent:<login>
    text: Mapped[str] = mapped_column(Text)  # ID-card and card numbers masked, secrets removed
    quick_replies: Mapped[list[Any] | None] = mapped_column(JSON)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the channel payload, redacted
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # per channel
    created_at: Mapped[datetime] = _ts()


class CaseCounter(Base):
    """The last case number given out per day: numbers are per-day sequences."""

    __tablename__ = "case_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_due_date", "status", "due_date"),
        # The reports group a period's cases by one of these while filtering on the others:
        # the index alone answers them (bot/reports/figures.py).
        Index("ix_cases_report", "filed_on", "category", "business", "channel", "priority",
              "status"),
        Index("ix_cases_regulatory", "filed_on", "reg_channel", "reg_business", "reg_reason"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"),
                                                        index=True)
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    business: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    incident_time: Mapped[date | None] = mapped_column(Date)
    incident_time_text: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    branch: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    secondary_categories: Mapped[list[Any]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16), index=True)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON)
    regulatory: Mapped[dict[str, Any]] = mapped_column(JSON)
    missing: Mapped[list[Any]] = mapped_column(JSON)  # required fields to confirm on call-back
    status: Mapped[str] = mapped_column(String(24), default="new")  # bot/cases/lifecycle
    due_date: Mapped[date] = mapped_column(Date)
    filed_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    # Set when an agent must call the customer back: a reply could not be delivered
    # ("reply_undelivered"), or a hotline call left fields to confirm ("fields_missing").
    callback_reason: Mapped[str | None] = mapped_column(String(64))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(Text)  # what the customer was told on resolve
    review_requested: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, the customer's satisfaction
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # An extension of the deadline (workflow.deadlines: 1 = 30 days, 2 = 60 days) and its
    # reason; paused days (outside appraisal, mediation) push the due date on.
    extension_level: Mapped[int | None] = mapped_column(Integer)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    paused_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For the reports: the day of receipt in the institution's zone; filed by the bot with no
    # person in the conversation; a person's first answer (a hotline call or a walk-in is
    # one from the start); the last resolution (cleared when the case reopens); the
    # JR/T 0169 dimensions of `regulatory`, as columns to group by.
    filed_on: Mapped[date | None] = mapped_column(Date)
    filed_by_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reg_channel: Mapped[str | None] = mapped_column(String(32))
    reg_business: Mapped[str | None] = mapped_column(String(32))
    reg_reason: Mapped[str | None] = mapped_column(String(32))
    # When its key terms were stored (bot/reports/clusters.py); cleared when the description
    # or business line changes, so they are stored again. Deliberately in no index: setting
    # it then rewrites no index entry (PostgreSQL's HOT update, while the page has room).
    terms_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseTerm(Base):
    """A key term of a case's description (bot/reports/topics.py), for hot topics and groups."""

    __tablename__ = "case_terms"
    __table_args__ = (Index("ix_case_terms_filed_on_term", "filed_on", "term"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(40), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0: the case's strongest term
    filed_on: Mapped[date] = mapped_column(Date)
    business: Mapped[str | None] = mapped_column(String(32))


class Cluster(Base):
    """A group of similar complaints (same business line, shared key terms) as the reports'
    last refresh found it, with its scope and whether it grows fast."""

    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # business|term|term
    business: Mapped[str | None] = mapped_column(String(32))
    terms: Mapped[list[Any]] = mapped_column(JSON)
    cases: Mapped[int] = mapped_column(Integer)
    customers: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    first_on: Mapped[date] = mapped_column(Date)
    last_on: Mapped[date] = mapped_column(Date)
    branches: Mapped[list[Any]] = mapped_column(JSON)
    latest: Mapped[list[Any]] = mapped_column(JSON)  # its latest case numbers, for the page
    recent: Mapped[int] = mapped_column(Integer)  # cases in the last week
    baseline: Mapped[int] = mapped_column(Integer)  # cases in the four weeks before
    growing: Mapped[bool] = mapped_column(Boolean)
    major: Mapped[bool] = mapped_column(Boolean)  # 20 customers or more
    computed_at: Mapped[datetime] = _ts()
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ClusterCase(Base):
    __tablename__ = "cluster_cases"
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"),
                                            primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


class CaseEvent(Base):
    """The audit trail: every change to a case, who made it and when."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = _ts()


class Option(Base):
    """A service option a lead sets in the console (e.g. automatic assignment)."""

    __tablename__ = "options"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = _ts()


class SensitiveValue(Base):
    """An ID-card or card number the customer sent, encrypted (bot/store/vault.py): messages
    and cases keep only the masked form; a lead may reveal one for a stated reason."""

    __tablename__ = "sensitive_values"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"),
                                                        index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # id_card | bank_card
    masked: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


class OutboxItem(Base):
    """An outbound message waiting for (or done with) delivery through its channel."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(128))  # the channel's user id
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # text and quick replies
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _ts()
    # How it goes out: "held" (waiting for the request to answer it), "response" (it was the
    # answer to the request), "api" (the dispatcher sends it through the channel's API).
    via: Mapped[str | None] = mapped_column(String(16))


class ChannelState(Base):
    """What a channel must remember across restarts (a Telegram offset, a WeChat token)."""

    __tablename__ = "channel_state"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = _ts()


class CallTranscript(Base):
    """A hotline call as imported: its transcript (masked) and the case it was filed as."""

    __tablename__ = "call_transcripts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    call_key: Mapped[str] = mapped_column(String(200), unique=True)  # id:<call_id>|sha256:<h>
    call_id: Mapped[str | None] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    caller: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(8))  # json | text | webvtt
    source: Mapped[str | None] = mapped_column(String(500))  # file name or "api"
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    turns: Mapped[list[Any]] = mapped_column(JSON)  # [{speaker, text, start, end}], masked
    imported_at: Mapped[datetime] = _ts()
