"""The case's status machine and the regulator's deadline rules, on their own."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from bot.cases import lifecycle
from bot.cases.lifecycle import MOVES, STATUSES, MoveRefused, check
from workflow import deadlines

ALLOWED = [(a, b) for a, targets in MOVES.items() for b in targets]
REFUSED = [(a, b) for a in STATUSES for b in STATUSES if (a, b) not in ALLOWED]


# What any move may need: the outcome told on resolving, the reason to reopen.
NEEDS = {"outcome": "已退还 2000 元", "note": "客户补充了新证据"}


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_move(current: str, target: str) -> None:
    move = check(current, target, **NEEDS)
    assert (move.before, move.after) == (current, target)
    assert move.tell_customer == (target in ("in_progress", "waiting_customer", "resolved",
                                             "reopened"))


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_every_other_move_is_refused_naming_the_allowed_ones(current: str, target: str
                                                             ) -> None:
    with pytest.raises(MoveRefused) as refused:
        check(current, target, **NEEDS)
    for allowed in MOVES[current]:
        assert allowed in str(refused.value)


def test_the_chain_a_case_normally_takes() -> None:
    path = ["new", "in_progress", "waiting_customer", "in_progress", "resolved", "closed",
            "reopened", "resolved", "review_requested", "resolved", "closed"]
    for before, after in pairwise(path):
        check(before, after, **NEEDS)


def test_an_unknown_status_names_the_statuses() -> None:
    with pytest.raises(MoveRefused, match="statuses: new, in_progress"):
        check("new", "done")


def test_resolving_needs_an_outcome_and_reopening_a_reason() -> None:
    with pytest.raises(MoveRefused, match="outcome"):
        check("in_progress", "resolved", outcome="  ")
    with pytest.raises(MoveRefused, match="reason"):
        check("closed", "reopened")
    with pytest.raises(MoveRefused, match="reason"):
        check("resolved", "review_requested", note="")


def test_cases_filed_before_the_machine_start_as_new() -> None:
    assert lifecycle.allowed("open") == MOVES["new"]
    check("open", "in_progress")


def test_deadlines_count_calendar_days() -> None:
    friday = date(2026, 12, 4)
    assert deadlines.due_date(friday) == date(2026, 12, 19)  # weekends count
    assert deadlines.extended_due(friday, 1) == date(2027, 1, 3)
    assert deadlines.extended_due(friday, 2) == date(2027, 2, 2)
    # Days of outside appraisal or mediation do not count.
    assert deadlines.extended_due(friday, 1, paused_days=7) == date(2027, 1, 10)
    with pytest.raises(ValueError):
        deadlines.extended_due(friday, 3)
    with pytest.raises(ValueError):
        deadlines.extended_due(friday, 1, paused_days=-1)


def test_a_review_is_asked_within_30_days_and_decided_within_30() -> None:
    decided = date(2026, 12, 1)
    assert deadlines.review_open(decided, date(2026, 12, 31))
    assert not deadlines.review_open(decided, date(2027, 1, 1))
    assert deadlines.review_due(date(2026, 12, 10)) == date(2027, 1, 9)
