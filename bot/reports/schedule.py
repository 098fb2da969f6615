"""The reports' refresh on a schedule, beside the service: new cases' key terms, the groups
of similar complaints and their alerts (bot/reports/clusters.py), every
INTAKE_REPORTS_REFRESH_SECONDS, in a worker thread (a page view never computes them)."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

from workflow.topics import KeyTerms

from . import clusters

log = logging.getLogger(__name__)
START_DELAY = 10.0  # seconds


_terms: KeyTerms | None = None
_terms_lock = threading.Lock()


def key_terms(service: Any) -> KeyTerms:
    """One extractor per process, on the engine's tokenizer (its IDF table is large)."""
    global _terms
    with _terms_lock:
        if _terms is None:
            _terms = KeyTerms(service.pipeline.engine.segmenter)
        return _terms


def refresh_now(service: Any, stop: asyncio.Event | None = None, *,
                scheduled: bool = True) -> clusters.Refreshed:
    """One refresh with the service's store and clock: the schedule's (skipped when another
    process refreshed within half the interval), or a lead's (`scheduled=False`: now)."""
    settings = service.settings
    now = service.desk.clock()
    gap = timedelta(seconds=settings.reports_refresh_seconds / 2 if scheduled else 0)
    return clusters.refresh(service.pipeline.transaction, service.sessions, key_terms(service),
                            now.astimezone(settings.zone).date(), now, min_gap=gap,
                            stop=stop.is_set if stop is not None else None)


async def run(service: Any, stop: asyncio.Event) -> None:
    """Refresh shortly after start and then every interval until `stop`; a failure is logged
    and retried at the next turn (the reports then show the groups of the refresh before)."""
    interval = service.settings.reports_refresh_seconds
    try:  # not at once: a starting service first takes its customers' messages
        await asyncio.wait_for(stop.wait(), timeout=min(interval, START_DELAY))
    except TimeoutError:
        pass
    while not stop.is_set():
        try:
            done = await asyncio.to_thread(refresh_now, service, stop)
            if done.alerts:  # the groups' terms stay in the audit trail, not in the log
                log.warning("%d complaint group(s) newly growing fast or major: see the "
                            "reports", len(done.alerts))
        except Exception:  # keep the schedule alive: the next turn retries
            log.exception("the reports' refresh failed; retrying in %.0f s", interval)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
