"""The console's banners (base.html shows `alerts`): a lead is told how many cases are
overdue, due today or waiting for a review, and of groups of similar complaints growing fast
or reaching 20 customers (bot/reports/clusters.py); an agent, which of their own cases are
overdue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..console.rules import Actor, text
from ..reports import clusters
from ..store import case_lists

NEAR_DAYS = 3  # near due: due within this many days from today
SHOWN = 3  # an agent's overdue cases named one by one, then a count of the rest


def scope_of(actor: Actor, today: date) -> case_lists.Scope:
    return case_lists.Scope(me=actor.id, everyone=actor.is_lead, today=today,
                            near_until=today + timedelta(days=NEAR_DAYS))


def for_actor(session: Session, actor: Actor, today: date) -> list[dict[str, Any]]:
    """Banners of {level, text, href} for this person, most pressing first."""
    lang = actor.lang
    out: list[dict[str, Any]] = []
    if actor.is_lead:
        counts = case_lists.counts(session, scope_of(actor, today))
        if counts["overdue"]:
            out.append({"level": "error", "href": "/console/cases?view=overdue",
                        "text": text(lang, "lists.alert_overdue", n=counts["overdue"])})
        if counts["due_today"]:
            out.append({"level": "warn", "href": "/console/cases?view=near_due",
                        "text": text(lang, "lists.alert_due_today", n=counts["due_today"])})
        if counts["review"]:
            out.append({"level": "warn", "href": "/console/cases?view=review",
                        "text": text(lang, "lists.alert_review", n=counts["review"])})
        groups = clusters.alerting(session)  # as the reports' last refresh found them
        for kind, level in (("major", "error"), ("growing", "warn")):
            if groups[kind]:
                out.append({"level": level, "href": "/console/reports#clusters",
                            "text": text(lang, f"reports.alert_{kind}", n=groups[kind])})
        return out
    total, first = case_lists.overdue_of(session, actor.id, today, SHOWN)
    for case in first:
        out.append({"level": "error", "href": f"/console/cases/{case.number}",
                    "text": text(lang, "lists.alert_mine_overdue", number=case.number,
                                 due=case.due_date.isoformat())})
    if total > len(first):
        out.append({"level": "error", "href": "/console/cases?view=mine",
                    "text": text(lang, "lists.alert_mine_more", n=total - len(first))})
    return out


def read(service: Any, actor: Actor) -> list[dict[str, Any]]:
    """`for_actor` in a read session of its own, today in the service's zone (for pages)."""
    desk = service.desk
    today = desk.clock().astimezone(service.settings.zone).date()
    with service.sessions() as session:
        return for_actor(session, actor, today)
