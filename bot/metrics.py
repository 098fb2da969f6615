"""Prometheus metrics, one registry per app (no process-global state shared by accident)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_in = Counter("intake_messages_in_total", "Customer messages received",
                                   ["channel"], registry=self.registry)
        self.duplicates = Counter("intake_messages_duplicate_total",
                                  "Redelivered messages answered from the store", ["channel"],
                                  registry=self.registry)
        self.messages_out = Counter("intake_messages_out_total", "Replies delivered",
                                    ["channel"], registry=self.registry)
        self.send_failures = Counter("intake_send_failures_total", "Failed send attempts",
                                     ["channel"], registry=self.registry)
        self.cases_filed = Counter("intake_cases_filed_total", "Cases filed",
                                   ["channel", "priority"], registry=self.registry)
        self.step_seconds = Histogram(
            "intake_engine_step_seconds", "Time of one engine step", registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
        self.pipeline_seconds = Histogram(
            "intake_pipeline_seconds", "Time to handle one inbound message, commit included",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.transcripts = Counter("intake_transcripts_total",
                                   "Hotline transcripts imported, by outcome", ["outcome"],
                                   registry=self.registry)
        self.handoffs = Counter("intake_handoffs_total",
                                "Conversations queued for a person, by reason and whether an "
                                "agent was online", ["reason", "agents_online"],
                                registry=self.registry)
        self.outbox_backlog = Gauge("intake_outbox_backlog", "Replies waiting for delivery",
                                    registry=self.registry)

    def watch_backlog(self, count: Callable[[], int]) -> None:
        """Read the backlog from the store at scrape time."""
        self.outbox_backlog.set_function(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
