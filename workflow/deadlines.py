"""Regulatory deadlines (CBIRC 2020 No. 3): pure date arithmetic, no clock of its own."""

from __future__ import annotations

from datetime import date, timedelta

ANSWER_DAYS = 15  # decide and tell the customer within 15 days of receipt
EXTENDED_DAYS = 30  # a complex case may be extended to 30 days
MAX_DAYS = 60  # an especially complex one by a further 30 days, 60 at most
RECHECK_REQUEST_DAYS = 30
RECHECK_DECISION_DAYS = 30


def due_date(received: date, days: int = ANSWER_DAYS) -> date:
    """The day by which the customer must have the institution's answer."""
    return received + timedelta(days=days)


EXTENSIONS = {1: EXTENDED_DAYS, 2: MAX_DAYS}  # extension level -> days from receipt


def extended_due(received: date, level: int, paused_days: int = 0) -> date:
    """The due date after an extension (level 1: a complex case, 30 days from receipt;
    level 2: an especially complex one, 60 at most, with a senior manager's approval), plus
    days that do not count (outside appraisal, testing, mediation). Calendar days: weekends
    and holidays count."""
    if level not in EXTENSIONS:
        raise ValueError("an extension is level 1 (30 days) or 2 (60 days)")
    if paused_days < 0:
        raise ValueError("paused days cannot be negative")
    return received + timedelta(days=EXTENSIONS[level] + paused_days)


def review_due(requested: date) -> date:
    """A review (复核) the customer asked for is decided and told within 30 days."""
    return requested + timedelta(days=RECHECK_DECISION_DAYS)


def review_open(decided: date, today: date) -> bool:
    """The customer may still ask for a review: within 30 days of receiving the decision."""
    return today <= decided + timedelta(days=RECHECK_REQUEST_DAYS)
