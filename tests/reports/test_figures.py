"""The reports' figures on a generated store of 5,000 cases received over 90 days on every
channel, on SQLite and PostgreSQL, each checked against counts the test makes on its own from
the generated cases (tests/reports/expect.py): totals, every grouping, cases over time by day
and by week, open, near-due and overdue, the percentiles of first response and resolution,
satisfaction, the bot's share, call-backs and the regulatory table, for the whole period and
for filtered ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench import casegen
from bot.reports import figures
from tests.reports import expect

N = 5000
DAYS = 90


@pytest.fixture
def store(engine: Engine) -> tuple[list[dict[str, Any]], date]:
    """5,000 generated cases over the 90 days up to today, in the test's database."""
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    cases = casegen.generate(N, DAYS, today, seed=3)
    casegen.insert(engine, cases)
    return cases, today


def _check(session: Session, cases: list[dict[str, Any]], period: figures.Period,
           today: date) -> None:
    near = today + timedelta(days=3)
    got = figures.summary(session, period, today, near)
    mine = expect.chosen(cases, period.start, period.end, **period.filters.chosen())
    want = expect.figures(mine, today, near)
    assert got["total"] == want["total"] > 0
    for name in figures.GROUPS:
        assert got[f"by_{name}"] == want[f"by_{name}"], name
        counts = list(got[f"by_{name}"].values())
        assert counts == sorted(counts, reverse=True), f"by_{name} is largest first"
    for name in ("open", "near_due", "overdue", "callbacks"):
        assert got[name] == want[name], name
    for kind in ("first_response", "resolution"):
        assert got[kind]["n"] == want[kind]["n"]
        for p in ("p50", "p90"):
            # Times are stored to the microsecond; the database's arithmetic may round.
            assert abs(got[kind][p] - want[kind][p]) <= 1, (kind, p, got[kind], want[kind])
    sat = got["satisfaction"]
    assert {k: sat[k] for k in ("asked", "rated", "mean", "distribution")} == \
        want["satisfaction"]
    assert sat["share"] == round(sat["rated"] / sat["asked"], 4)
    assert got["bot_filed"]["bot"] == want["bot_filed"]["bot"]
    assert got["bot_filed"]["total"] == want["total"]
    days = expect.per_day(mine, period.start, period.end)
    assert {b["start"]: b["total"] for b in got["over_time"]} == days
    for bucket in got["over_time"]:
        assert sum(bucket["by_category"].values()) == bucket["total"]
    rows = figures.regulatory(session, period)
    assert {(r["channel"], r["business_type"], r["reason"]): r["count"] for r in rows} == \
        want["regulatory"]


def test_every_figure_matches_counts_made_independently(
        store: tuple[list[dict[str, Any]], date], session_factory: sessionmaker[Session]
) -> None:
    cases, today = store
    assert len({c["channel"] for c in cases}) == 5
    with session_factory() as session:
        whole = figures.Period(today - timedelta(days=DAYS - 1), today)
        _check(session, cases, whole, today)
        _check(session, cases, figures.Period(today - timedelta(days=29), today,
                                              figures.Filters(business="credit_card")), today)
        _check(session, cases, figures.Period(today - timedelta(days=59),
                                              today - timedelta(days=10),
                                              figures.Filters(channel="wechat",
                                                              status="closed")), today)
        _check(session, cases, figures.Period(today - timedelta(days=89), today,
                                              figures.Filters(priority="urgent",
                                                              category="product")), today)


def test_weeks_fold_the_days_and_a_period_without_cases_is_all_zero(
        store: tuple[list[dict[str, Any]], date], session_factory: sessionmaker[Session]
) -> None:
    cases, today = store
    whole = figures.Period(today - timedelta(days=DAYS - 1), today)
    with session_factory() as session:
        weeks = figures.over_time(session, whole, "week")
        assert {b["start"].isoformat(): b["total"] for b in weeks} == expect.per_week(cases)
        assert all(b["start"].weekday() == 0 for b in weeks)
        empty = figures.Period(today + timedelta(days=1), today + timedelta(days=7))
        summary = figures.summary(session, empty, today, today + timedelta(days=3))
    assert summary["total"] == 0
    assert [b["total"] for b in summary["over_time"]] == [0] * 7
    assert summary["first_response"] == {"n": 0, "p50": None, "p90": None}
    assert summary["satisfaction"]["share"] is None and summary["bot_filed"]["share"] is None


def test_a_period_is_refused_when_it_ends_before_it_starts_or_spans_too_long() -> None:
    day = date(2026, 12, 1)
    with pytest.raises(ValueError, match="before it starts"):
        figures.Period(day, day - timedelta(days=1))
    with pytest.raises(ValueError, match="at most"):
        figures.Period(day - timedelta(days=figures.MAX_DAYS), day)
    with pytest.raises(ValueError, match="unknown grouping"):
        figures.counts_by(None, figures.Period(day, day), "agent")  # type: ignore[arg-type]
