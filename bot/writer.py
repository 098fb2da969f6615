"""Group commit: writer threads write the pipeline's messages, many to a transaction.

Each inbound message is a job: a function of a session. The writer takes every job waiting
(up to `max_batch`), runs them one after another in one transaction and commits once, then
answers each job. So a burst costs one commit (one fsync on SQLite with synchronous=FULL,
one WAL flush and round trip on PostgreSQL) instead of one per message, and no job is
answered before its writes are committed.

Each job stays all-or-nothing for its own message: when one fails, the whole transaction is
rolled back and every job of the batch runs again in a transaction of its own, so the
others are not lost and the failing one fails alone. Jobs therefore must not act outside the
transaction; what should happen once their writes are committed (metrics, notices) they
register with `after_commit`.

Jobs run in the order they were submitted, so two messages of one conversation are written
in the order they arrived. The thread ends after a short idle time and starts again with
the next job: a pipeline that is dropped leaves no thread behind.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

__all__ = ["GroupCommit", "after_commit"]

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_SECONDS = 2.0
_AFTER = "intake.after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once this session's transaction has committed (never after a rollback)."""
    session.info.setdefault(_AFTER, []).append(action)


def _run_after(session: Session) -> None:
    for action in session.info.pop(_AFTER, []):
        try:
            action()
        except Exception:  # a metric or notice must not undo a committed message
            log.exception("after-commit action failed")


@dataclass
class _Job(Generic[T]):
    work: Callable[[Session], T]
    retry: Callable[[BaseException, int], bool]
    future: Future[T] = field(default_factory=Future)


class _Lane:
    """One writer thread and the jobs waiting for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self.mutex = threading.Lock()
        self.thread: threading.Thread | None = None


class GroupCommit:
    """The pipeline's writer threads (see the module's docstring).

    `lock` is held around every transaction (on SQLite the pipeline's writer lock, which
    other writers of the process share); `max_batch` 1 commits every job on its own.
    `threads` > 1 (PostgreSQL) lets one thread's transaction wait on the database while
    another works; a job's `key` (its conversation) always goes to the same thread, so
    one conversation's messages are still written in the order they came.
    """

    def __init__(self, sessions: sessionmaker[Session],
                 lock: contextlib.AbstractContextManager[Any],
                 max_batch: int = 64, threads: int = 1, name: str = "intake-writer") -> None:
        if max_batch < 1 or threads < 1:
            raise ValueError("max_batch and threads must be at least 1")
        self.sessions = sessions
        self.lock = lock
        self.max_batch = max_batch
        self._lanes = [_Lane(f"{name}-{i}") for i in range(threads)]
        self.batches = 0  # transactions committed with more than one job (for the metrics)

    def submit(self, work: Callable[[Session], T],
               retry: Callable[[BaseException, int], bool] = lambda exc, attempt: False,
               key: object = None) -> Future[T]:
        """Queue `work`; the future holds its result once its transaction has committed.

        `retry(exc, attempt)`: whether to run it again (alone) after it failed with `exc`.
        """
        job: _Job[T] = _Job(work, retry)
        lane = self._lanes[hash(key) % len(self._lanes)]
        lane.jobs.put(job)
        with lane.mutex:
            if lane.thread is None or not lane.thread.is_alive():
                lane.thread = threading.Thread(target=self._loop, args=(lane,),
                                               name=lane.name, daemon=True)
                lane.thread.start()
        return job.future

    def run(self, work: Callable[[Session], T],
            retry: Callable[[BaseException, int], bool] = lambda exc, attempt: False,
            key: object = None) -> T:
        """`submit` and wait for the result (from any thread but a writer's own)."""
        return self.submit(work, retry, key).result()

    # ---- the writer thread --------------------------------------------------------------

    def _loop(self, lane: _Lane) -> None:
        while True:
            try:
                first = lane.jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with lane.mutex:
                    # A job put after the timeout but before this check finds no thread
                    # alive only once this one has been forgotten: hand over cleanly.
                    if lane.jobs.empty():
                        lane.thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(lane.jobs.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Job[Any]]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        if len(live) == 1:
            self._alone(live[0])
            return
        results: list[Any] = []
        try:
            with self.lock, self.sessions.begin() as session:
                for job in live:
                    results.append(job.work(session))
        except BaseException as exc:
            if not isinstance(exc, Exception):
                for job in live:
                    job.future.set_exception(exc)
                raise
            # Someone's message failed (or the commit did): each runs again on its own.
            log.info("group commit of %d messages failed (%s): writing each alone",
                     len(live), type(exc).__name__)
            for job in live:
                self._alone(job)
            return
        self.batches += 1
        _run_after(session)
        for job, result in zip(live, results, strict=True):
            job.future.set_result(result)

    def _alone(self, job: _Job[Any]) -> None:
        attempt = 0
        while True:
            try:
                with self.lock, self.sessions.begin() as session:
                    result = job.work(session)
            except BaseException as exc:
                if isinstance(exc, Exception) and job.retry(exc, attempt):
                    attempt += 1
                    continue
                job.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            _run_after(session)
            job.future.set_result(result)
            return
