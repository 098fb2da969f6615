"""The reports' figures on a generated store of 5,000 cases received over 90 days on every
channel, on SQLite and PostgreSQL, each checked against counts the test makes on its own from
the generated cases (tests/reports/expect.py): totals, every grouping, cases over time by day
and by week, open, near-due and overdue, the percentiles of first response and resolution,
satisfaction, the bot's share, call-backs, the regulatory table and the hot topics, for the
whole period and for filtered ones."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench import casegen
from bot.reports import clusters, figures
from tests.reports import expect
from workflow.topics import KeyTerms

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


def test_hot_topics_count_the_key_terms_of_the_periods_cases(
        store: tuple[list[dict[str, Any]], date], session_factory: sessionmaker[Session]
) -> None:
    cases, today = store
    terms = KeyTerms()

    @contextlib.contextmanager
    def begin() -> Iterator[Session]:
        with session_factory.begin() as session:
            yield session

    assert clusters.index_new(begin, session_factory, terms, datetime.now(UTC)) == N
    period = figures.Period(today - timedelta(days=29), today, figures.Filters(channel="wechat"))
    mine = expect.chosen(cases, period.start, period.end, channel="wechat")
    counted = Counter(t for c in mine for t in terms.of(c["description"], exclude=(c["name"],)))
    before = expect.chosen(cases, period.start - timedelta(days=30),
                           period.start - timedelta(days=1), channel="wechat")
    earlier = Counter(t for c in before for t in terms.of(c["description"],
                                                          exclude=(c["name"],)))
    with session_factory() as session:
        hot = figures.hot_terms(session, period)
    assert len(hot) == 20
    for row in hot:
        assert row["cases"] == counted[row["term"]] and row["before"] == earlier[row["term"]]
    # The 20 most shared: no term left out counts more than the least shown.
    least = min(row["cases"] for row in hot)
    assert {t for t, n in counted.items() if n > least} <= {row["term"] for row in hot}
    assert [row["cases"] for row in hot] == sorted((row["cases"] for row in hot), reverse=True)


def test_a_period_outside_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="between"):
        figures.Period(date(1, 1, 1), date(1, 1, 5))
