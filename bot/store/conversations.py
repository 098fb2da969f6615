"""Owner of `conversations` and `messages`: the engine state and everything said."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ChannelIdentity, Conversation, Customer, Message


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


def locked_by_identity(session: Session, channel: str,
                       external_id: str) -> tuple[Conversation, str | None] | None:
    """The conversation of a known channel user, locked, with the customer's confirmed phone.

    One query for the common case (a returning user); None when the user is new.
    """
    row = session.execute(
        select(Conversation, Customer.phone, Customer.phone_confirmed_at)
        .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        .with_for_update(of=Conversation)).first()
    if row is None:
        return None
    conversation, phone, confirmed = row
    return conversation, phone if confirmed else None


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
