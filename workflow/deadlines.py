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
