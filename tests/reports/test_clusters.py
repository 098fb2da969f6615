"""Groups of similar complaints, on SQLite and PostgreSQL: 30 complaints about one ATM keeping
cards, worded several ways in Chinese and English and spread among 500 others over 90 days,
are found as one group with the right customers, amount, dates and branch, marked as growing
and as a possible major complaint, and alerted once; key terms are indexed incrementally."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench import casegen
from bot.reports import clusters, figures
from bot.store import options
from bot.store.models import AuditEvent, Case, CaseTerm
from workflow.topics import KeyTerms


@pytest.fixture(scope="module")
def terms() -> KeyTerms:
    return KeyTerms()


def _transaction(sessions: sessionmaker[Session]) -> Any:
    @contextlib.contextmanager
    def begin() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    return begin


@pytest.fixture
def scenario(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]], date]:
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    others, atm = casegen.atm_scenario(today)
    casegen.insert(engine, others + atm)
    return others, atm, today


def test_one_atm_keeping_cards_is_found_as_one_growing_group(
        scenario: tuple[list[dict[str, Any]], list[dict[str, Any]], date],
        session_factory: sessionmaker[Session], terms: KeyTerms) -> None:
    others, atm, today = scenario
    now = datetime.now(UTC)
    done = clusters.refresh(_transaction(session_factory), session_factory, terms, today, now)
    assert done.indexed == len(others) + len(atm)
    with session_factory() as session:
        stored = clusters.stored(session)
        alerts = list(session.scalars(select(AuditEvent)
                                      .where(AuditEvent.action == "cluster_alert")))
    numbers = {c["number"] for c in atm}
    mine = [g for g in stored if numbers & set(g["cases"])]
    assert len(mine) == 1, [g["terms"] for g in mine]
    group = mine[0]
    assert set(group["cases"]) == numbers  # all 30, and none of the 500 others
    assert group["business"] == "debit_card"
    assert {"atm", "吞卡"} <= set(group["terms"])
    assert group["case_count"] == 30
    assert group["customers"] == len({c["customer"] for c in atm}) == 28
    assert Decimal(group["amount"]) == sum(c["amount"] for c in atm)
    assert group["first"] == min(c["filed_on"] for c in atm).isoformat()
    assert group["last"] == max(c["filed_on"] for c in atm).isoformat()
    assert group["branches"] == ["建设路支行"]
    recent = sum(1 for c in atm if c["filed_on"] > today - timedelta(days=7))
    assert group["recent"] == recent == 26
    assert group["growing"] and group["major"]
    # The others follow their own steady pace: none of them grows fast.
    assert [g["key"] for g in stored if g["growing"]] == [group["key"]]
    assert group["key"] in {a.subject.removeprefix("cluster:") for a in alerts}
    assert group["key"] in done.alerts

    # Another process refreshing within the gap does no work at all.
    skipped = clusters.refresh(_transaction(session_factory), session_factory, terms, today,
                               now + timedelta(minutes=1), min_gap=timedelta(minutes=10))
    assert skipped == clusters.Refreshed(0, 0, [])
    # A second refresh finds the same group and does not alert on it again.
    again = clusters.refresh(_transaction(session_factory), session_factory, terms, today,
                             now + timedelta(minutes=5))
    assert again.indexed == 0 and group["key"] not in again.alerts
    with session_factory() as session:
        assert clusters.alerting(session) == {
            "growing": 1, "major": sum(1 for g in stored if g["major"])}
        # A report for a period finds it the same way, without the stored refresh.
        period = figures.Period(today - timedelta(days=89), today)
        found = [g for g in clusters.find(session, period, today)
                 if numbers & set(g.numbers)]
        assert len(found) == 1 and found[0].cases == 30 and found[0].growing


def test_a_steady_group_is_not_growing_and_terms_are_indexed_once(
        engine: Engine, session_factory: sessionmaker[Session], terms: KeyTerms) -> None:
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    first = casegen.generate(300, 60, today - timedelta(days=30), seed=5)
    casegen.insert(engine, first)
    indexed = clusters.index_new(_transaction(session_factory), session_factory, terms,
                                 datetime.now(UTC))
    assert indexed == 300
    with session_factory() as session:
        rows = session.scalar(select(func.count()).select_from(CaseTerm))
        upto = options.get(session, clusters.WATERMARK)
        assert upto == session.scalar(select(func.max(Case.id)))
    # Only the new cases are indexed on the next run.
    later = casegen.generate(40, 10, today, seed=6)
    for case in later:
        case["number"] = "N" + case["number"]
    casegen.insert(engine, later)
    assert clusters.index_new(_transaction(session_factory), session_factory, terms,
                              datetime.now(UTC)) == 40
    assert clusters.index_new(_transaction(session_factory), session_factory, terms,
                              datetime.now(UTC)) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CaseTerm)) > rows
        groups = clusters.find(session, figures.Period(today - timedelta(days=89), today),
                               today)
    assert groups, "the templated complaints form groups"
    assert not any(g.growing for g in groups)


@pytest.mark.parametrize(("recent", "baseline", "grows"), [
    (26, 3, True),    # the ATM: a week far above its four weeks before
    (5, 0, True),     # a new problem: five in a week from nothing
    (4, 0, False),    # too few to call
    (5, 4, False),    # one a week before, five now: within chance
    (12, 8, True),    # two a week before, twelve now
    (10, 28, False),  # seven a week before: ten is no spike
])
def test_growth_is_judged_against_the_groups_own_baseline(recent: int, baseline: int,
                                                          grows: bool) -> None:
    assert clusters.growing(recent, baseline) is grows
