"""Owner of `customers` and `channel_identities`: who a customer is, on every channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import raw
from .models import Case, ChannelIdentity, Conversation, Customer


def identity_for(
    session: Session, channel: str, external_id: str, now: datetime,
    display_name: str | None = None,
) -> ChannelIdentity:
    """The identity of this channel user, created (with a new customer) on first contact."""
    found = _identity(session, channel, external_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            customer = Customer(created_at=now, updated_at=now)
            session.add(customer)
            session.flush()
            identity = ChannelIdentity(channel=channel, external_id=external_id,
                                       customer_id=customer.id, display_name=display_name,
                                       created_at=now)
            session.add(identity)
            session.flush()
            return identity
    except IntegrityError:
        # Another request created it first; theirs is the one.
        found = _identity(session, channel, external_id)
        if found is None:
            raise
        return found


def _identity(session: Session, channel: str, external_id: str) -> ChannelIdentity | None:
    return session.scalar(select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))


def identities(session: Session, customer_id: int) -> list[ChannelIdentity]:
    """Every channel identity of a customer, oldest first."""
    return list(session.scalars(select(ChannelIdentity).where(
        ChannelIdentity.customer_id == customer_id).order_by(ChannelIdentity.id)))


def confirm_phone(
    session: Session, customer_id: int, name: str | None, phone: str | None, now: datetime
) -> None:
    """Record a phone the customer typed and confirmed in the summary, on their own record.

    A typed number is a claim, not a proof: it links this customer to no one (else anyone
    could read another's cases by typing their number).
    """
    if not phone:
        return
    if session.new or session.dirty:
        session.flush()  # a phone verified earlier in this transaction is in the row first
    _CONFIRM_PHONE.run(session, {"cid": customer_id, "phone": phone, "name": name or None,
                                 "now": raw.bind_time(session, now)})


_customers = Customer.__table__
_keep = _customers.c.phone_verified_at.is_(None) | (_customers.c.phone == bindparam("phone"))
_CONFIRM_PHONE = raw.Statement(
    update(_customers).where(_customers.c.id == bindparam("cid"))
    .values(phone=case((_keep, bindparam("phone")), else_=_customers.c.phone),
            phone_confirmed_at=case((_keep, bindparam("now")),
                                    else_=_customers.c.phone_confirmed_at),
            name=func.coalesce(bindparam("name"), _customers.c.name),
            updated_at=bindparam("now")))


def verify_phone(
    session: Session, customer_id: int, phone: str, now: datetime, name: str | None = None
) -> int:
    """Record a phone the channel vouches for, and link to the customer who verified the
    same number before: one person on WeChat, Telegram and the hotline is one customer.

    Returns the id of the customer that now holds this person (the older one on a merge).
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        return customer_id
    other = session.scalar(
        select(Customer).where(Customer.phone == phone, Customer.phone_verified_at.is_not(None),
                               Customer.id != customer_id).order_by(Customer.id).limit(1))
    if other is None:
        customer.phone = phone
        customer.phone_confirmed_at = customer.phone_confirmed_at or now
        customer.phone_verified_at = now
        if name and not customer.name:
            customer.name = name
        customer.updated_at = now
        return customer_id
    for model in (ChannelIdentity, Conversation, Case):
        session.execute(update(model).where(model.customer_id == customer_id)
                        .values(customer_id=other.id))
    if name and not other.name:
        other.name = name
    other.updated_at = now
    session.delete(customer)
    return other.id
