"""The case's status machine, as plain data and functions (no store, no clock).

    new -> in_progress -> waiting_customer -> resolved -> closed
    waiting_customer -> in_progress (the customer answered)
    resolved, closed -> reopened -> in_progress | waiting_customer | resolved
    resolved, closed -> review_requested (复核: the customer rejects the decision, within
        30 days of receiving it)
    review_requested -> in_progress | resolved
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("new", "in_progress", "waiting_customer", "resolved", "closed", "reopened",
            "review_requested")
MOVES: dict[str, tuple[str, ...]] = {
    "new": ("in_progress",),
    "in_progress": ("waiting_customer", "resolved"),
    "waiting_customer": ("in_progress", "resolved"),
    "resolved": ("closed", "reopened", "review_requested"),
    "closed": ("reopened", "review_requested"),
    "reopened": ("in_progress", "waiting_customer", "resolved"),
    "review_requested": ("in_progress", "resolved"),
}
# Cases counted as open work (the queue, "my cases", deadlines).
OPEN = ("new", "in_progress", "waiting_customer", "reopened", "review_requested")
# The moves the customer is told about on their channel.
TOLD = ("in_progress", "waiting_customer", "resolved", "reopened")
LEGACY = {"open": "new"}  # stores filed before the status machine


class MoveRefused(ValueError):
    """Not an allowed move; the message names the moves that are."""


@dataclass(frozen=True)
class Move:
    before: str
    after: str
    tell_customer: bool


def allowed(current: str) -> tuple[str, ...]:
    return MOVES.get(LEGACY.get(current, current), ())


def check(current: str, target: str, *, outcome: str | None = None,
          note: str | None = None) -> Move:
    """The move from `current` to `target`, if allowed: resolving needs the outcome the
    customer is told; reopening and asking for a review need the reason."""
    current = LEGACY.get(current, current)
    if target not in STATUSES:
        raise MoveRefused(f"unknown status {target!r}; statuses: {', '.join(STATUSES)}")
    moves = allowed(current)
    if target not in moves:
        also = ", ".join(moves) or "none"
        raise MoveRefused(f"a case {current} cannot move to {target}; allowed: {also}")
    if target == "resolved" and not (outcome or "").strip():
        raise MoveRefused("resolving needs the outcome the customer is told (--outcome)")
    if target in ("reopened", "review_requested") and not (note or "").strip():
        raise MoveRefused(f"moving to {target} needs the reason (--note)")
    return Move(current, target, target in TOLD)
