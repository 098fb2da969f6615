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
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench import casegen
from bot.cases import work
from bot.reports import clusters, figures
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


def test_terms_are_indexed_once_again_on_a_change_and_late_cases_are_found(
        engine: Engine, session_factory: sessionmaker[Session], terms: KeyTerms) -> None:
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    first = casegen.generate(300, 60, today - timedelta(days=30), seed=5)
    casegen.insert(engine, first)
    begin = _transaction(session_factory)
    assert clusters.index_new(begin, session_factory, terms, datetime.now(UTC)) == 300
    with session_factory() as session:
        rows = session.scalar(select(func.count()).select_from(CaseTerm))
        assert session.scalar(select(func.count()).where(Case.terms_at.is_(None))) == 0
    # New cases, and one committed late under a lower id (PostgreSQL hands ids out before
    # commit): all are indexed on the next run, and nothing twice.
    later = casegen.generate(40, 10, today, seed=6)
    for case in later:
        case["number"] = "N" + case["number"]
    casegen.insert(engine, later)
    with session_factory.begin() as session:
        low = session.scalar(select(Case).order_by(Case.id).limit(1))
        assert low is not None
        session.execute(delete(CaseTerm).where(CaseTerm.case_id == low.id))
        low.terms_at = None
        # An agent corrects a description: its terms are stored again.
        edited = session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        assert edited is not None
        work.edit(session, edited, "description", "ATM机吞了我的卡，三天了还没退",
                  reason="客户电话补充", actor="agent:wang", now=datetime.now(UTC))
        edited_id = edited.id
    assert clusters.index_new(begin, session_factory, terms, datetime.now(UTC)) == 40 + 1
    assert clusters.index_new(begin, session_factory, terms, datetime.now(UTC)) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CaseTerm)) > rows
        stored_terms = set(session.scalars(select(CaseTerm.term)
                                           .where(CaseTerm.case_id == edited_id)))
        assert {"atm", "吞卡"} <= stored_terms
        assert session.scalar(select(func.count()).select_from(CaseTerm)
                              .where(CaseTerm.case_id == low.id)) > 0
        groups = clusters.find(session, figures.Period(today - timedelta(days=89), today),
                               today)
    assert groups, "the templated complaints form groups"
    assert not any(g.growing for g in groups)


def test_a_big_topic_does_not_hide_a_small_new_group(
        engine: Engine, session_factory: sessionmaker[Session], terms: KeyTerms) -> None:
    """Hundreds of cases about one fee, in many words, and 8 about an ATM this week."""
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    words = ["短信", "告知", "分期", "额度", "客服", "积分", "账单", "利息", "违约金", "逾期",
             "提醒", "电话", "网点", "柜台", "手机银行", "还款", "到期", "扣款", "合同", "宣传",
             "优惠", "活动", "年检", "挂失", "补卡", "激活", "密码", "限额", "商户", "消费",
             "返现", "会员", "权益", "保险", "航空", "里程", "酒店", "加油", "停车", "机场"]
    cases = casegen.generate(1500, 80, today, seed=8)
    for i, case in enumerate(cases):
        case.update(business="credit_card", description="信用卡年费" + "，".join(
            words[(i + k * 7) % len(words)] for k in range(3)))
    _, atm = casegen.atm_scenario(today)
    recent = [c for c in atm if c["filed_on"] > today - timedelta(days=7)][:8]
    casegen.insert(engine, cases + recent)
    begin = _transaction(session_factory)
    clusters.index_new(begin, session_factory, terms, datetime.now(UTC))
    with session_factory() as session:
        found = clusters.find(session, figures.Period(today - timedelta(days=89), today),
                              today)
    atm_groups = [g for g in found if g.business == "debit_card"]
    assert len(atm_groups) == 1 and atm_groups[0].cases == 8 and atm_groups[0].growing


@pytest.mark.parametrize(("recent", "baseline", "grows"), [
    (26, 3, True),    # the ATM: a week far above its four weeks before
    (5, 0, True),     # a new problem: five in a week from nothing
    (4, 0, False),    # too few to call
    (5, 4, False),    # one a week before, five now: within chance
    (12, 8, True),    # two a week before, twelve now
    (10, 28, False),  # seven a week before: ten is no spike
    (2243, 2990, True),   # a large group tripling (its baseline alone would underflow exp)
    (800, 2990, False),   # a large group at its usual pace
])
def test_growth_is_judged_against_the_groups_own_baseline(recent: int, baseline: int,
                                                          grows: bool) -> None:
    assert clusters.growing(recent, baseline) is grows


def test_a_group_whose_naming_pair_changes_is_not_alerted_again(
        engine: Engine, session_factory: sessionmaker[Session], terms: KeyTerms) -> None:
    today = datetime.now(UTC).astimezone(casegen.ZONE).date()
    _, atm = casegen.atm_scenario(today)
    recent = [c for c in atm if c["filed_on"] > today - timedelta(days=7)][:8]
    for case in recent:
        case["description"] = "建设路支行的ATM吞了我的卡"
    casegen.insert(engine, recent)
    begin = _transaction(session_factory)
    now = datetime.now(UTC)
    first = clusters.refresh(begin, session_factory, terms, today, now)
    assert first.alerts == ["debit_card|atm|吞卡"]
    # Two more cases of the same ATM in other words: the group is now named by another pair.
    more = [dict(c) for c in recent[:2]]
    for i, case in enumerate(more):
        case.update(number=f"TSMORE-{i}", description="建设路支行ATM故障，取不出钱")
    casegen.insert(engine, more)
    second = clusters.refresh(begin, session_factory, terms, today, now + timedelta(hours=1))
    with session_factory() as session:
        stored = [g for g in clusters.stored(session) if g["business"] == "debit_card"]
    assert len(stored) == 1 and stored[0]["case_count"] == 10
    assert stored[0]["key"] != "debit_card|atm|吞卡"  # renamed by its larger pair
    assert second.alerts == []  # the same group: no second alert
