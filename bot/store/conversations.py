"""Owner of `conversations` and `messages`: the engine state and everything said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import raw
from .models import Case, ChannelIdentity, Conversation, Customer, Message

# ---- the message path: SQLAlchemy Core, statements built once ---------------------------
# One inbound message costs a handful of statements here (look up and lock, insert the
# message, save the state, insert the replies), without the ORM's per-object work.

_conversations = Conversation.__table__
_identities = ChannelIdentity.__table__
_customers = Customer.__table__
_messages = Message.__table__


@dataclass(slots=True)
class Talk:
    """A conversation as the message path reads it: one row, no ORM object. Its attribute
    names are the model's, so code that only reads a conversation takes either."""

    id: int
    identity_id: int
    customer_id: int
    channel: str
    status: str
    state: dict[str, Any]
    updated_at: datetime
    handoff_requested_at: datetime | None
    callback_reason: str | None
    confirmed_phone: str | None  # the customer's phone, when they confirmed it


_LOOKUP = raw.Statement(
    select(_conversations.c.id, _conversations.c.identity_id, _conversations.c.customer_id,
           _conversations.c.channel, _conversations.c.status, _conversations.c.state,
           _conversations.c.updated_at, _conversations.c.handoff_requested_at,
           _conversations.c.callback_reason, _customers.c.phone,
           _customers.c.phone_confirmed_at)
    .join(_identities, _conversations.c.identity_id == _identities.c.id)
    .join(_customers, _conversations.c.customer_id == _customers.c.id)
    .where(_identities.c.channel == bindparam("channel"),
           _identities.c.external_id == bindparam("external_id"))
    .with_for_update(of=_conversations))
_SAVE_STATE = raw.Statement(
    update(_conversations).where(_conversations.c.id == bindparam("cid"))
    .values(state=bindparam("state"), version=_conversations.c.version + 1,
            updated_at=bindparam("now")))
_TOUCH = raw.Statement(update(_conversations).where(_conversations.c.id == bindparam("cid"))
                       .values(updated_at=bindparam("now")))
_MESSAGE_COLUMNS = ("conversation_id", "direction", "channel", "external_id", "reply_to_id",
                    "sender", "text", "quick_replies", "raw", "sent_at", "created_at")
_ROW = {name: bindparam(name) for name in _MESSAGE_COLUMNS}
_INSERT_MESSAGE = raw.Statement(insert(_messages).values(_ROW).returning(_messages.c.id))
# A redelivered message hits the unique (channel, external_id) and inserts nothing.
_INSERT_INBOUND = {
    name: raw.Statement(flavour.insert(_messages).values(_ROW)
                        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                        .returning(_messages.c.id))
    for name, flavour in (("sqlite", sqlite), ("postgresql", postgresql))}
_FIND_INBOUND = select(_messages.c.id, _messages.c.conversation_id, _messages.c.text).where(
    _messages.c.channel == bindparam("channel"),
    _messages.c.external_id == bindparam("external_id"))


def lookup(session: Session, channel: str, external_id: str) -> Talk | None:
    """The conversation of a known channel user, locked for this transaction (on SQLite the
    transaction's BEGIN IMMEDIATE already serialises writers); None for a new user."""
    row = _LOOKUP.run(session, {"channel": channel, "external_id": external_id}).fetchone()
    if row is None:
        return None
    (cid, identity_id, customer_id, chan, status, state, updated_at, handoff_at, callback,
     phone, confirmed) = row
    return Talk(cid, identity_id, customer_id, chan, status, raw.json_value(state) or {},
                raw.timestamp(updated_at), raw.timestamp(handoff_at),  # type: ignore[arg-type]
                callback, phone if confirmed else None)


_IDENTITY_ID = select(_identities.c.id).where(
    _identities.c.channel == bindparam("channel"),
    _identities.c.external_id == bindparam("external_id"))
_NEW_CUSTOMER = insert(_customers).returning(_customers.c.id)
_NEW_IDENTITY = insert(_identities).returning(_identities.c.id)
_NEW_CONVERSATION = insert(_conversations).returning(_conversations.c.id)


def start(session: Session, channel: str, external_id: str, display_name: str | None,
          now: datetime) -> Talk | None:
    """First contact of a channel user: a new customer, identity and conversation, in three
    statements. None when the identity exists already (made by another path, or by another
    process just now): then `customers.identity_for` and `open_locked` know what to do."""
    connection = session.connection()
    key = {"channel": channel, "external_id": external_id}
    if connection.execute(_IDENTITY_ID, key).first() is not None:
        return None
    customer_id = connection.execute(
        _NEW_CUSTOMER, {"created_at": now, "updated_at": now}).scalar_one()
    # A concurrent first contact in another process fails here on the unique key; the
    # pipeline runs the message again and finds theirs.
    identity_id = connection.execute(_NEW_IDENTITY, {
        **key, "customer_id": customer_id, "display_name": display_name,
        "created_at": now}).scalar_one()
    conversation_id = connection.execute(_NEW_CONVERSATION, {
        "identity_id": identity_id, "customer_id": customer_id, "channel": channel,
        "status": "bot", "state": {}, "version": 0, "created_at": now, "updated_at": now,
        "handoff_urgent": False}).scalar_one()
    return Talk(conversation_id, identity_id, customer_id, channel, "bot", {}, now, None, None,
                None)


def talk_of(conversation: Conversation, confirmed_phone: str | None) -> Talk:
    """A conversation just created (or loaded) through the ORM, as the message path reads it."""
    return Talk(conversation.id, conversation.identity_id, conversation.customer_id,
                conversation.channel, conversation.status, conversation.state or {},
                conversation.updated_at, conversation.handoff_requested_at,
                conversation.callback_reason, confirmed_phone)


def _message(session: Session, talk: Talk, *, direction: str, sender: str, text: str,
             now: datetime, external_id: str | None = None, reply_to_id: int | None = None,
             quick_replies: list[Any] | None = None, raw_payload: Any = None,
             sent_at: datetime | None = None) -> dict[str, Any]:
    return {"conversation_id": talk.id, "direction": direction, "channel": talk.channel,
            "external_id": external_id, "reply_to_id": reply_to_id, "sender": sender,
            "text": text, "quick_replies": raw.bind_json(quick_replies),
            "raw": raw.bind_json(raw_payload), "sent_at": raw.bind_time(session, sent_at),
            "created_at": raw.bind_time(session, now)}


def add_inbound(session: Session, talk: Talk, *, text: str, now: datetime,
                external_id: str, raw_payload: dict[str, Any] | None,
                sent_at: datetime | None) -> int | None:
    """Store a customer's message; its id, or None when this channel message id is already
    stored (a redelivery: nothing is written)."""
    statement = _INSERT_INBOUND[session.get_bind().dialect.name]
    row = statement.run(session, _message(
        session, talk, direction="in", sender="customer", text=text, now=now,
        external_id=external_id, raw_payload=raw_payload, sent_at=sent_at)).fetchone()
    return None if row is None else int(row[0])


def find_inbound_row(session: Session, channel: str, external_id: str
                     ) -> tuple[int, int, str] | None:
    """(id, conversation id, text) of a stored customer message."""
    row = session.connection().execute(
        _FIND_INBOUND, {"channel": channel, "external_id": external_id}).first()
    return None if row is None else (row[0], row[1], row[2])


def save_talk_state(session: Session, talk: Talk, state: dict[str, Any],
                    now: datetime) -> None:
    """The engine's new state for a conversation read with `lookup` (no ORM object)."""
    _SAVE_STATE.run(session, {"cid": talk.id, "state": raw.bind_json(state),
                              "now": raw.bind_time(session, now)})


def touch(session: Session, talk: Talk, now: datetime) -> None:
    _TOUCH.run(session, {"cid": talk.id, "now": raw.bind_time(session, now)})


def add_replies(session: Session, talk: Talk, reply_to_id: int,
                replies: list[tuple[str, list[Any]]], now: datetime) -> list[int]:
    """The bot's replies (text, quick replies) to a customer message; their ids, in order."""
    return [int(_INSERT_MESSAGE.run(session, _message(
        session, talk, direction="out", sender="bot", text=text, now=now,
        reply_to_id=reply_to_id, quick_replies=quick)).fetchone()[0])
        for text, quick in replies]


def open_locked(session: Session, identity: ChannelIdentity, now: datetime) -> Conversation:
    """The identity's conversation, created on first contact, locked for this transaction.

    On PostgreSQL the row lock serialises messages of one conversation; on SQLite every
    transaction is already a write transaction (BEGIN IMMEDIATE), which does the same.
    """
    query = select(Conversation).where(Conversation.identity_id == identity.id).with_for_update()
    conversation = session.scalar(query)
    if conversation is not None:
        return conversation
    try:
        with session.begin_nested():
            conversation = Conversation(identity_id=identity.id, customer_id=identity.customer_id,
                                        channel=identity.channel, status="bot", state={},
                                        version=0, created_at=now, updated_at=now)
            session.add(conversation)
            session.flush()
    except IntegrityError:
        pass
    conversation = session.scalar(query)
    if conversation is None:
        raise RuntimeError("conversation vanished while being created")
    return conversation


def save_state(session: Session, conversation: Conversation, state: dict[str, Any],
               now: datetime) -> None:
    conversation.state = state
    conversation.version += 1
    conversation.updated_at = now


def find_inbound(session: Session, channel: str, external_id: str) -> Message | None:
    return session.scalar(select(Message).where(
        Message.channel == channel, Message.external_id == external_id))


def add_message(session: Session, conversation: Conversation, *, direction: str, sender: str,
                text: str, now: datetime, external_id: str | None = None,
                reply_to_id: int | None = None, quick_replies: list[Any] | None = None,
                raw: dict[str, Any] | None = None, sent_at: datetime | None = None,
                flush: bool = True) -> Message:
    message = Message(conversation_id=conversation.id, direction=direction,
                      channel=conversation.channel, external_id=external_id,
                      reply_to_id=reply_to_id, sender=sender, text=text,
                      quick_replies=quick_replies, raw=raw, sent_at=sent_at, created_at=now)
    session.add(message)
    if flush:
        session.flush()
    return message


def edit_message(session: Session, message: Message, text: str) -> None:
    """The customer edited a message: the new text stands, the earlier ones are kept."""
    raw = dict(message.raw or {})
    raw["earlier_texts"] = [*raw.get("earlier_texts", []), message.text]
    message.raw = raw
    message.text = text


def replies_to(session: Session, message_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reply_to_id == message_id)
                                .order_by(Message.id)))


def last_activity(session: Session, channel: str, external_id: str) -> datetime | None:
    """When this channel user's conversation last changed; None for an unknown user."""
    return session.scalar(
        select(Conversation.updated_at)
        .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))


def history(session: Session, channel: str, external_id: str, limit: int = 200) -> list[Message]:
    """The latest messages of this channel user's conversation, oldest first."""
    rows = session.scalars(
        select(Message).join(Conversation, Message.conversation_id == Conversation.id)
        .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        .order_by(Message.id.desc()).limit(limit))
    return list(reversed(list(rows)))


def clear_handoff(conversation: Conversation) -> None:
    """Nobody waits for a person any more (handed back, closed, or starting afresh)."""
    conversation.handoff_requested_at = None
    conversation.handoff_reason = None
    conversation.handoff_urgent = False
    conversation.agent_id = None
    conversation.taken_at = None


def flag_callback(conversation: Conversation, reason: str, now: datetime) -> None:
    """Someone must call this customer back (kept until an agent takes the conversation)."""
    if conversation.callback_reason is None:
        conversation.callback_reason, conversation.callback_at = reason, now


def waiting_ahead(session: Session, conversation: Conversation, urgent: bool) -> int:
    """Conversations a person will take before this one: urgent first, then oldest."""
    since = conversation.handoff_requested_at
    query = select(func.count()).select_from(Conversation).where(
        Conversation.status == "bot", Conversation.handoff_requested_at.is_not(None),
        Conversation.id != conversation.id)
    if urgent:
        query = query.where(Conversation.handoff_urgent.is_(True))
        if since is not None:
            query = query.where(Conversation.handoff_requested_at <= since)
    elif since is not None:
        query = query.where(or_(Conversation.handoff_urgent.is_(True),
                                Conversation.handoff_requested_at <= since))
    return session.scalar(query) or 0


def latest_notice(session: Session, case: Case) -> str | None:
    """The latest message the team (not the bot's answers) sent the customer since the case
    was filed: an agent's reply or a notice of the case moving on."""
    if case.conversation_id is None:
        return None
    return session.scalar(
        select(Message.text).where(Message.conversation_id == case.conversation_id,
                                   Message.direction == "out",
                                   (Message.sender == "team") | Message.sender.like("agent:%"),
                                   Message.created_at >= case.filed_at)
        .order_by(Message.id.desc()).limit(1))


def had_agent(session: Session, conversation_id: int, since: datetime | None = None) -> bool:
    """A person has written in this conversation since `since` (the complaint before it,
    when there was one): the bot did not take this complaint alone."""
    query = select(Message.id).where(Message.conversation_id == conversation_id,
                                     Message.direction == "out",
                                     Message.sender.like("agent:%"))
    if since is not None:
        query = query.where(Message.created_at > since)
    return session.scalar(query.limit(1)) is not None


def get(session: Session, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def locked(session: Session, conversation_id: int) -> Conversation | None:
    """The conversation, locked for this transaction (agents' actions and customers'
    messages to it take turns)."""
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id)
                          .with_for_update())


def recipient(session: Session, conversation: Conversation) -> tuple[str, str | None]:
    """The channel user id replies go to, and the name the channel gave them."""
    identity = session.get(ChannelIdentity, conversation.identity_id)
    if identity is None:
        raise LookupError(f"conversation {conversation.id} has no identity")
    return identity.external_id, identity.display_name


def waiting(session: Session, limit: int = 200) -> list[Conversation]:
    """Conversations waiting for a person: urgent first, then the longest waiting."""
    return list(session.scalars(
        select(Conversation).where(Conversation.status == "bot",
                                   Conversation.handoff_requested_at.is_not(None))
        .order_by(Conversation.handoff_urgent.desc(), Conversation.handoff_requested_at)
        .limit(limit)))


def count_waiting(session: Session, urgent: bool = False) -> int:
    query = select(func.count()).select_from(Conversation).where(
        Conversation.status == "bot", Conversation.handoff_requested_at.is_not(None))
    if urgent:
        query = query.where(Conversation.handoff_urgent.is_(True))
    return session.scalar(query) or 0


def return_to_queue(session: Session, agent_id: int, now: datetime) -> list[int]:
    """The agent is gone (disabled): their conversations wait for another person."""
    moved = list(session.scalars(select(Conversation).where(
        Conversation.status == "handoff", Conversation.agent_id == agent_id)
        .with_for_update()))
    for conversation in moved:
        conversation.status, conversation.agent_id, conversation.taken_at = "bot", None, None
        conversation.handoff_requested_at = conversation.handoff_requested_at or now
        conversation.updated_at = now
    return [c.id for c in moved]


def held(session: Session, agent_id: int | None = None, limit: int = 200) -> list[Conversation]:
    """Conversations an agent has (that agent's only, when given)."""
    query = select(Conversation).where(Conversation.status == "handoff",
                                       Conversation.agent_id.is_not(None))
    if agent_id is not None:
        query = query.where(Conversation.agent_id == agent_id)
    return list(session.scalars(query.order_by(Conversation.taken_at).limit(limit)))


def last_inbound(session: Session, conversation_ids: list[int]) -> dict[int, Message]:
    """Each conversation's latest customer message."""
    if not conversation_ids:
        return {}
    latest = (select(func.max(Message.id)).where(Message.conversation_id.in_(conversation_ids),
                                                 Message.direction == "in")
              .group_by(Message.conversation_id))
    return {m.conversation_id: m for m in session.scalars(
        select(Message).where(Message.id.in_(latest)))}


def last_inbound_at(session: Session, conversation_id: int) -> datetime | None:
    return session.scalar(select(func.max(Message.created_at)).where(
        Message.conversation_id == conversation_id, Message.direction == "in"))


def of_customer(session: Session, customer_id: int) -> list[Conversation]:
    return list(session.scalars(select(Conversation).where(
        Conversation.customer_id == customer_id).order_by(Conversation.id)))


def messages_of(session: Session, conversation_ids: list[int], limit: int = 500) -> list[Message]:
    """The latest messages of these conversations together, oldest first."""
    if not conversation_ids:
        return []
    rows = session.scalars(select(Message).where(Message.conversation_id.in_(conversation_ids))
                           .order_by(Message.id.desc()).limit(limit))
    return list(reversed(list(rows)))


def identities(session: Session, conversation_ids: list[int]) -> dict[int, ChannelIdentity]:
    if not conversation_ids:
        return {}
    rows = session.execute(select(Conversation.id, ChannelIdentity)
                           .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
                           .where(Conversation.id.in_(conversation_ids)))
    return {cid: identity for cid, identity in rows}


def customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)
