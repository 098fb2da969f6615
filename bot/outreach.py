"""Writing to a customer outside the bot's own replies (an agent, a case moving on): the
message is stored and queued in the outbox for their channel; one the channel cannot carry
now is kept as failed, never sent late, and the customer is flagged for a call-back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .console import rules
from .store import cases, conversations, outbox
from .store.models import Conversation, Message, OutboxItem


def send(session: Session, conv: Conversation, text: str, sender: str, now: datetime,
         quick: list[dict[str, str]] | None = None, asks: str | None = None
         ) -> tuple[Message, OutboxItem]:
    to, _ = conversations.recipient(session, conv)
    message = conversations.add_message(session, conv, direction="out", sender=sender,
                                        text=text, now=now, quick_replies=quick or None)
    # "agent": the console follows this message's delivery (it is not the bot's reply).
    payload: dict[str, Any] = {"text": text, "quick_replies": quick or [], "agent": True}
    if asks:
        payload["asks"] = asks
    reason = rules.out_of_reach(conv.channel, conversations.last_inbound_at(session, conv.id),
                                now)
    if reason is None:
        item = outbox.enqueue(session, message, recipient=to, payload=payload, now=now)
    else:
        item = outbox.enqueue_unreachable(
            session, message, recipient=to, payload=payload, now=now,
            error=f"{reason}: the channel cannot reach the customer now; call them back")
        conversations.flag_callback(conv, reason, now)
        case = cases.latest_for_conversation(session, conv.id)
        if case is not None and case.callback_reason is None:
            cases.flag_callback(session, case, reason, now)
    session.flush()
    return message, item
