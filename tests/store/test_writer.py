"""Group commit (bot/writer.py) on a real store: messages written together stay each
all-or-nothing, and none is answered before its commit."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import ChannelState, Message
from bot.writer import GroupCommit, after_commit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _put(key: str, fail: bool = False) -> Callable[[Session], str]:
    def job(session: Session) -> str:
        session.add(ChannelState(key=key, value="v", updated_at=NOW))
        session.flush()
        if fail:
            raise ValueError(f"{key} is refused")
        return key
    return job


def _keys(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(ChannelState.key)))


def _batch(writer: GroupCommit, jobs: list[Callable[[Session], Any]]) -> list[Future[Any]]:
    """Submit `jobs` while the writer is busy, so that they wait and go as one batch."""
    started, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        started.set()
        release.wait(10)

    first = writer.submit(hold)
    assert started.wait(10)
    futures = [writer.submit(job) for job in jobs]
    release.set()
    first.result(10)
    return futures


def test_messages_written_together_commit_once_and_each_is_answered(
        session_factory: sessionmaker[Session]) -> None:
    writer = GroupCommit(session_factory, contextlib.nullcontext(), max_batch=64)
    committed: list[str] = []

    def job(key: str) -> Callable[[Session], str]:
        def work(session: Session) -> str:
            _put(key)(session)
            after_commit(session, lambda: committed.append(key))
            return key
        return work

    futures = _batch(writer, [job(f"k{i}") for i in range(10)])
    assert [f.result(10) for f in futures] == [f"k{i}" for i in range(10)]
    assert writer.batches == 1  # the ten went in one transaction
    assert _keys(session_factory) == {f"k{i}" for i in range(10)}
    assert committed == [f"k{i}" for i in range(10)]


def test_one_failing_message_loses_nothing_of_the_others(
        session_factory: sessionmaker[Session]) -> None:
    writer = GroupCommit(session_factory, contextlib.nullcontext())
    futures = _batch(writer, [_put("a"), _put("b", fail=True), _put("c")])
    assert futures[0].result(10) == "a"
    with pytest.raises(ValueError, match="b is refused"):
        futures[1].result(10)
    assert futures[2].result(10) == "c"
    # The failed one wrote nothing; the others were written again on their own.
    assert _keys(session_factory) == {"a", "c"}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChannelState)) == 2


def test_a_message_is_retried_alone_when_asked(
        session_factory: sessionmaker[Session]) -> None:
    writer = GroupCommit(session_factory, contextlib.nullcontext())
    tries: list[int] = []

    def flaky(session: Session) -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("lost")
        return _put("late")(session)

    future = writer.submit(flaky, retry=lambda exc, attempt: isinstance(exc, ConnectionError))
    assert future.result(10) == "late"
    assert len(tries) == 3
    assert _keys(session_factory) == {"late"}


def test_one_customers_messages_stay_in_order_across_writer_threads(
        session_factory: sessionmaker[Session]) -> None:
    writer = GroupCommit(session_factory, contextlib.nullcontext(), threads=4)
    seen: dict[str, list[int]] = {f"c{i}": [] for i in range(8)}
    lock = threading.Lock()

    def job(customer: str, n: int) -> Callable[[Session], None]:
        def work(session: Session) -> None:
            with lock:
                seen[customer].append(n)
        return work

    futures = [writer.submit(job(c, n), key=c) for n in range(20) for c in seen]
    for f in futures:
        f.result(10)
    assert all(order == list(range(20)) for order in seen.values())


@contextlib.contextmanager
def _busy(pipeline: Any, sessions: sessionmaker[Session]) -> Iterator[None]:
    """The store busy with another writer: on SQLite the pipeline's write lock, on
    PostgreSQL a lock on the messages table that the message's insert waits for."""
    if sessions.kw["bind"].dialect.name == "sqlite":
        with pipeline.transaction():
            yield
        return
    with sessions.begin() as session:
        session.execute(text("LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE"))
        yield


def test_resends_of_a_message_on_its_way_join_its_write(
        session_factory: sessionmaker[Session]) -> None:
    """Under load a customer's resend (after a 503, a channel's retry) must not queue the same
    message again: every resend waits for the first write and gets its answer."""
    from bot.core import build_core
    from bot.settings import Settings
    from channels.base import Inbound

    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    core = build_core(Settings(database_url=url, _env_file=None))
    try:
        pipeline = core.pipeline
        inbound = Inbound(channel="webchat", user_id="v" * 22, message_id="v:m1",
                          text="我的信用卡被盗刷了五千元", timestamp=NOW, lang="zh")
        results: list[Any] = []
        with _busy(pipeline, session_factory):  # the message waits in line meanwhile
            threads = [threading.Thread(target=lambda: results.append(pipeline.handle(inbound)))
                       for _ in range(20)]
            for t in threads:
                t.start()
            time.sleep(0.5)  # every resend has arrived
        for t in threads:
            t.join(10)
        assert len(results) == 20
        assert [r.duplicate for r in results].count(False) == 1
        assert len({tuple((o.text, o.quick_replies) for o in r.replies)
                    for r in results}) == 1
        assert pipeline.writer.batches == 0  # one write: nothing else was queued with it
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Message).where(
                Message.direction == "in")) == 1
    finally:
        core.db.dispose()
