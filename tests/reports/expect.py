"""The reports' figures counted in plain Python from the generated cases (bench/casegen.py),
independently of the SQL the reports run: what the tests hold the reports to."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from typing import Any

OPEN_EXCLUDES = ("resolved", "closed")


def chosen(cases: list[dict[str, Any]], start: date, end: date,
           **filters: str) -> list[dict[str, Any]]:
    return [c for c in cases if start <= c["filed_on"] <= end
            and all(c[k] == v for k, v in filters.items())]


def nearest_rank(values: list[float], p: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p * len(ordered))) - 1])


def figures(cases: list[dict[str, Any]], today: date, near_until: date) -> dict[str, Any]:
    """Every figure of `bot.reports.figures.summary` for these (already chosen) cases."""
    out: dict[str, Any] = {"total": len(cases)}
    for name in ("category", "business", "channel", "priority", "status"):
        out[f"by_{name}"] = dict(Counter(c[name] for c in cases))
    is_open = [c for c in cases if c["status"] not in OPEN_EXCLUDES]
    out["open"] = len(is_open)
    out["near_due"] = sum(1 for c in is_open if today <= c["due_date"] <= near_until)
    out["overdue"] = sum(1 for c in is_open if c["due_date"] < today)
    for kind, column in (("first_response", "first_response_at"),
                         ("resolution", "resolved_at")):
        spans = [(c[column] - c["filed_at"]).total_seconds() for c in cases
                 if c[column] is not None]
        out[kind] = {"n": len(spans), "p50": nearest_rank(spans, 0.5),
                     "p90": nearest_rank(spans, 0.9)}
    asked = [c for c in cases if c["conversation"]
             and (c["status"] in ("resolved", "closed") or c["rating"] is not None)]
    ratings = [c["rating"] for c in cases if c["rating"] is not None]
    out["satisfaction"] = {
        "asked": len(asked), "rated": len(ratings),
        "mean": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "distribution": {str(r): ratings.count(r) for r in range(1, 6)}}
    out["bot_filed"] = {"total": len(cases), "bot": sum(1 for c in cases if c["filed_by_bot"])}
    out["callbacks"] = dict(Counter(c["callback_reason"] for c in cases
                                    if c["callback_reason"]))
    out["regulatory"] = dict(Counter((c["regulatory"]["channel"],
                                      c["regulatory"]["business_type"],
                                      c["regulatory"]["reason"]) for c in cases))
    return out


def per_day(cases: list[dict[str, Any]], start: date, end: date) -> dict[str, int]:
    counts = Counter(c["filed_on"] for c in cases)
    out = {}
    day = start
    while day <= end:
        out[day.isoformat()] = counts.get(day, 0)
        day += timedelta(days=1)
    return out


def per_week(cases: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter((c["filed_on"] - timedelta(days=c["filed_on"].weekday())).isoformat()
                        for c in cases))
