"""Hot topics and groups of similar complaints.

Each case's key terms (workflow.topics) are stored once, in `case_terms`, by `index_new`:
incremental, every case not indexed yet (again when its description or business line
changes). A group is the cases of one business line that
share a pair of key terms ("atm" + "吞卡", "理财收益" + "不达预期", "电话诈骗" + "安全账户"):
the pairs are counted in SQL, the largest taken first, each case joining one group at most.
A group's scope is what an analyst needs to see a systemic problem: distinct customers,
the amount claimed, first and last day, branches, and its cases.

A group grows fast when its cases of the last week run at least GROWTH times the daily rate
of the four weeks before (a new group: at least GROWTH_MIN cases in the week); a group of
MAJOR customers or more may be a major complaint (CBIRC: 20 or more). `refresh` stores the
groups of the last WINDOW_DAYS for the console and raises an alert for each group that
newly grows fast or turns major; reports for a given period compute theirs with `find`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from workflow.topics import KeyTerms

from ..store import audit, options
from ..store.db import reading
from ..store.models import Case, CaseTerm, Cluster, ClusterCase
from .figures import Period, as_date, where

MIN_CASES = 5  # a pair shared by fewer cases is no group
CANDIDATES = 20000  # pairs reaching MIN_CASES considered per computation, largest first
RECENT_DAYS = 7
BASELINE_DAYS = 28
GROWTH = 3.0
GROWTH_MIN = 5
SURPRISE = 0.001
MAJOR = 20
WINDOW_DAYS = 90
BATCH = 500
REFRESHED = "reports.refreshed_at"
SHOWN_CASES = 200  # case numbers a stored group lists for the page
SHOWN_TERMS = 4


@dataclass
class Group:
    business: str | None
    terms: tuple[str, str]
    case_ids: list[int]
    cases: int = 0
    customers: int = 0
    amount: Decimal = Decimal("0")
    first: date | None = None
    last: date | None = None
    branches: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    recent: int = 0
    baseline: int = 0
    shown: list[str] = field(default_factory=list)
    growing: bool = False
    major: bool = False

    @property
    def key(self) -> str:
        return "|".join((self.business or "", *self.terms))

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "business": self.business, "terms": self.shown,
                "case_count": self.cases, "customers": self.customers,
                "amount": str(self.amount),
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "branches": self.branches, "recent": self.recent, "baseline": self.baseline,
                "growing": self.growing, "major": self.major, "cases": self.numbers}


def index_new(transaction: Callable[[], Any], sessions: Callable[[], Any], terms: KeyTerms,
              now: datetime, limit: int | None = None,
              stop: Callable[[], bool] | None = None) -> int:
    """Store the key terms of every case not indexed yet (new, or whose description or
    business line changed since: `cases.terms_at` is cleared then), BATCH cases per
    transaction; the number of cases indexed. Cases are marked indexed with an UPDATE that
    only one process wins per case, so two processes never store one case's terms twice;
    a case committed late (PostgreSQL hands out ids before commit) is found all the same."""
    done = 0
    while (limit is None or done < limit) and not (stop is not None and stop()):
        with reading(sessions) as session:
            rows = session.execute(select(Case.id, Case.description, Case.name, Case.filed_on,
                                          Case.filed_at, Case.business)
                                   .where(Case.terms_at.is_(None)).order_by(Case.id)
                                   .limit(BATCH)).all()
        if not rows:
            return done
        found: dict[int, list[dict[str, Any]]] = {}
        for case_id, description, name, filed_on, filed_at, business in rows:
            day = filed_on or filed_at.date()
            found[case_id] = [{"case_id": case_id, "term": term, "rank": rank,
                               "filed_on": day, "business": business}
                              for rank, term in enumerate(terms.of(
                                  description or "", exclude=(name,) if name else ()))]
        with transaction() as session:
            won = list(session.scalars(update(Case).where(Case.id.in_(list(found)),
                                                          Case.terms_at.is_(None))
                                       .values(terms_at=now).returning(Case.id)
                                       .execution_options(synchronize_session=False)))
            if won:
                session.execute(delete(CaseTerm).where(CaseTerm.case_id.in_(won)))
                values = [v for case_id in won for v in found[case_id]]
                if values:
                    session.execute(insert(CaseTerm), values)
        done += len(won)
    return done


def find(session: Session, period: Period, today: date, min_cases: int = MIN_CASES
         ) -> list[Group]:
    """The groups among the period's cases (its filters too), largest first; `today` is
    the day growth is measured to.

    Greedy, and exact about what is left: the largest pair of key terms (counted over the
    cases no group has taken yet) becomes a group, its cases leave every other pair's
    count, and so on while a pair still has `min_cases`. A big topic's many pairs therefore
    never hide a small new group. Only pairs that reach `min_cases` at all are considered
    (counted in SQL), and only the cases holding their terms are read."""
    a, b = aliased(CaseTerm), aliased(CaseTerm)
    conditions = [a.filed_on >= period.start, a.filed_on <= period.end]
    query = (select(a.business, a.term, b.term, func.sum(a.rank + b.rank))
             .join(b, (b.case_id == a.case_id) & (b.term > a.term)))
    if period.filters.chosen():
        query = query.join(Case, Case.id == a.case_id).where(*where(period))
    pairs = session.execute(query.where(*conditions)
                            .group_by(a.business, a.term, b.term)
                            .having(func.count() >= min_cases)
                            .order_by(func.count().desc()).limit(CANDIDATES)).all()
    if not pairs:
        return []
    strength = {(bz, t1, t2): int(r or 0) for bz, t1, t2, r in pairs}
    wanted = sorted({t for _, t1, t2, _ in pairs for t in (t1, t2)})
    # The cases of the period with each wanted term, per business line.
    having: dict[tuple[str | None, str], set[int]] = {}
    member_query = select(CaseTerm.case_id, CaseTerm.business, CaseTerm.term).where(
        CaseTerm.filed_on >= period.start, CaseTerm.filed_on <= period.end)
    if period.filters.chosen():
        member_query = member_query.join(Case, Case.id == CaseTerm.case_id).where(*where(period))
    for chunk in _chunks(wanted, 500):
        for case_id, business, term in session.execute(
                member_query.where(CaseTerm.term.in_(chunk))):
            having.setdefault((business, term), set()).add(case_id)
    members = {key: having.get((key[0], key[1]), set()) & having.get((key[0], key[2]), set())
               for key in strength}
    pairs_of: dict[int, list[tuple[str | None, str, str]]] = {}
    for key, cases in members.items():
        for case_id in cases:
            pairs_of.setdefault(case_id, []).append(key)
    groups: list[Group] = []
    while members:
        # The largest pair left; equal sizes: the stronger terms (lower ranks) name it.
        key = min(members, key=lambda k: (-len(members[k]), strength[k] / max(
            len(members[k]), 1), str(k[0]), k[1], k[2]))
        chosen = members.pop(key)
        if len(chosen) < min_cases:
            break
        groups.append(Group(key[0], (key[1], key[2]), sorted(chosen)))
        for case_id in chosen:  # taken: it counts for no other pair
            for other in pairs_of.get(case_id, ()):
                if other in members:
                    members[other].discard(case_id)
        members = {k: v for k, v in members.items() if len(v) >= min_cases}
    for group in groups:
        _scope(session, group, today)
    groups = [g for g in groups if g.first is not None]  # cases with no day of receipt
    groups.sort(key=lambda g: (not g.growing, -g.customers, -g.cases, g.key))
    return groups


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _scope(session: Session, group: Group, today: date) -> None:
    """The group's figures, from its cases, in SQL."""
    recent_from = today - timedelta(days=RECENT_DAYS - 1)
    baseline_from = recent_from - timedelta(days=BASELINE_DAYS)
    customers: set[int] = set()
    branches: set[str] = set()
    amount = Decimal("0")
    cases = recent = baseline = 0
    firsts: list[date] = []
    lasts: list[date] = []
    numbers: list[tuple[date, str]] = []
    shared: dict[str, int] = {}
    for chunk in _chunks(group.case_ids, 500):
        for term, n in session.execute(select(CaseTerm.term, func.count())
                                       .where(CaseTerm.case_id.in_(chunk))
                                       .group_by(CaseTerm.term)):
            shared[term] = shared.get(term, 0) + n
        row = session.execute(select(
            func.count(), func.sum(Case.amount), func.min(Case.filed_on), func.max(Case.filed_on),
            func.count().filter(Case.filed_on >= recent_from, Case.filed_on <= today),
            func.count().filter(Case.filed_on >= baseline_from, Case.filed_on < recent_from),
        ).where(Case.id.in_(chunk))).one()
        cases += row[0] or 0
        amount += Decimal(str(row[1] or 0))
        if row[2] is not None:
            firsts.append(as_date(row[2]))
            lasts.append(as_date(row[3]))
        recent += row[4] or 0
        baseline += row[5] or 0
        customers.update(session.scalars(select(Case.customer_id).distinct()
                                         .where(Case.id.in_(chunk))))
        branches.update(b for b in session.scalars(select(Case.branch).distinct()
                                                   .where(Case.id.in_(chunk))) if b)
        numbers.extend((as_date(d), n) for n, d in session.execute(
            select(Case.number, Case.filed_on).where(Case.id.in_(chunk))))
    group.cases, group.customers, group.amount = cases, len(customers), amount.quantize(
        Decimal("0.01"))
    group.first, group.last = min(firsts, default=None), max(lasts, default=None)
    group.branches = sorted(branches)
    group.numbers = [n for _, n in sorted(numbers, reverse=True)]  # the latest first
    group.recent, group.baseline = recent, baseline
    # The pair names the group; other terms most of its cases share say more of it.
    more = sorted((t for t, n in shared.items() if 2 * n >= cases and t not in group.terms),
                  key=lambda t: (-shared[t], t))
    group.shown = [*group.terms, *more[:SHOWN_TERMS - 2]]
    group.growing = growing(recent, baseline)
    group.major = group.customers >= MAJOR


def _same_as(group: Group, members_before: dict[str, set[int]]) -> str | None:
    """The last refresh's group this one continues: most of the smaller one's cases are in
    both (its naming pair may have changed as cases came in), so it is not alerted again."""
    mine = set(group.case_ids)
    best, share = None, 0.5
    for key, theirs in members_before.items():
        common = len(mine & theirs)
        if common and common / min(len(mine), len(theirs)) > share:
            best, share = key, common / min(len(mine), len(theirs))
    return best


def growing(recent: int, baseline: int) -> bool:
    """Cases of the last week against the four weeks before: at least GROWTH_MIN cases, a
    daily rate GROWTH times the baseline's or more (one case in four weeks assumed at
    least), and more than chance would give: a count this high has a probability under
    SURPRISE if the week ran at the baseline's rate (Poisson). Small groups then do not
    flicker in and out of "growing" on a random week."""
    expected = max(baseline, 1) * RECENT_DAYS / BASELINE_DAYS
    if recent < GROWTH_MIN or recent < GROWTH * expected:
        return False
    return _poisson_tail(recent, expected) < SURPRISE


def _poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), its terms summed in log space (exp(-mean) alone
    underflows past a mean of about 745)."""
    log_term = -mean
    below = 0.0
    for i in range(k):
        below += math.exp(log_term)
        log_term += math.log(mean) - math.log(i + 1)
    return max(0.0, 1.0 - below)


@dataclass(frozen=True)
class Refreshed:
    indexed: int
    groups: int
    alerts: list[str]


def refresh(transaction: Callable[[], Any], sessions: Callable[[], Any], terms: KeyTerms,
            today: date, now: datetime, min_gap: timedelta = timedelta(0),
            stop: Callable[[], bool] | None = None) -> Refreshed:
    """Index new cases' terms, then store the groups of the last WINDOW_DAYS (replacing the
    last refresh's) and alert on each that newly grows fast or turns major. Skipped when
    another process refreshed less than `min_gap` ago (each worker runs the schedule);
    `stop` ends the indexing early (the service is shutting down)."""
    started = time.monotonic()
    if min_gap:
        with reading(sessions) as session:
            if _refreshed_within(session, now, min_gap):
                return Refreshed(0, 0, [])  # another process just did it: no work twice
    indexed = index_new(transaction, sessions, terms, now, stop=stop)
    if stop is not None and stop():
        return Refreshed(indexed, 0, [])
    period = Period(today - timedelta(days=WINDOW_DAYS - 1), today)
    with reading(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            # The schedule's work, not a request's: INTAKE_DB_TIMEOUT_SECONDS does not bound it.
            session.execute(text("SET LOCAL statement_timeout = 0"))
        found = find(session, period, today)
    alerts: list[str] = []
    with transaction() as session:
        # Refreshes take turns on this row (created first, so that there is a row to lock).
        if options.locked(session, REFRESHED) is None:
            options.put(session, REFRESHED, None, actor="system", now=now)
        if min_gap and _refreshed_within(session, now, min_gap):
            return Refreshed(indexed, 0, [])
        before = {c.key: c for c in session.scalars(select(Cluster))}
        members_before: dict[str, set[int]] = {}
        for key, case_id in session.execute(select(Cluster.key, ClusterCase.case_id)
                                            .join(ClusterCase,
                                                  ClusterCase.cluster_id == Cluster.id)):
            members_before.setdefault(key, set()).add(case_id)
        session.execute(delete(ClusterCase))
        session.execute(delete(Cluster))
        for group in found:
            old = before.get(_same_as(group, members_before) or group.key)
            was = (old.growing, old.major) if old is not None else (False, False)
            alerted = old.alerted_at if old is not None else None
            fresh = (group.growing and not was[0]) or (group.major and not was[1])
            if fresh:
                alerted = now
                alerts.append(group.key)
                audit.record(session, actor="system", action="cluster_alert",
                             subject=f"cluster:{group.key}"[:80], now=now,
                             detail={"terms": list(group.terms), "business": group.business,
                                     "customers": group.customers, "recent": group.recent,
                                     "baseline": group.baseline, "growing": group.growing,
                                     "major": group.major})
            row = Cluster(key=group.key[:200], business=group.business,
                          terms=group.shown, cases=group.cases,
                          customers=group.customers, amount=group.amount,
                          first_on=group.first, last_on=group.last, branches=group.branches,
                          latest=group.numbers[:SHOWN_CASES],
                          recent=group.recent, baseline=group.baseline,
                          growing=group.growing, major=group.major, computed_at=now,
                          alerted_at=alerted)
            session.add(row)
            session.flush()
            session.execute(insert(ClusterCase), [{"cluster_id": row.id, "case_id": cid}
                                                  for cid in group.case_ids])
        finished = now + timedelta(seconds=time.monotonic() - started)
        options.put(session, REFRESHED, finished.isoformat(), actor="system", now=finished)
    return Refreshed(indexed, len(found), alerts)


def _refreshed_within(session: Session, now: datetime, gap: timedelta) -> bool:
    """Did a refresh finish less than `gap` before `now`?"""
    value = options.get(session, REFRESHED)
    return value is not None and now - datetime.fromisoformat(str(value)) < gap


def stored(session: Session, period: Period | None = None, limit: int = 50
           ) -> list[dict[str, Any]]:
    """The groups of the last refresh (those with cases in `period`, of its business line
    when filtered), fast-growing first, with their latest case numbers."""
    query = select(Cluster)
    if period is not None:
        query = query.where(Cluster.last_on >= period.start, Cluster.first_on <= period.end)
        if period.filters.business:
            query = query.where(Cluster.business == period.filters.business)
    rows = session.scalars(query.order_by(Cluster.growing.desc(), Cluster.major.desc(),
                                          Cluster.customers.desc(), Cluster.id).limit(limit))
    return [{"key": r.key, "business": r.business, "terms": list(r.terms),
             "case_count": r.cases, "customers": r.customers, "amount": str(r.amount),
             "first": r.first_on.isoformat(), "last": r.last_on.isoformat(),
             "branches": list(r.branches), "recent": r.recent, "baseline": r.baseline,
             "growing": r.growing, "major": r.major, "cases": list(r.latest),
             "computed_at": r.computed_at.isoformat()} for r in rows]


def alerting(session: Session) -> dict[str, int]:
    """How many stored groups grow fast, and how many reached MAJOR customers."""
    row = session.execute(select(func.count().filter(Cluster.growing.is_(True)),
                                 func.count().filter(Cluster.major.is_(True)))).one()
    return {"growing": row[0] or 0, "major": row[1] or 0}


def refreshed_at(session: Session) -> str | None:
    value = options.get(session, REFRESHED)
    return str(value) if value else None
