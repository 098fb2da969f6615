"""Automatic assignment: when a lead has turned it on, each newly filed case goes to an
available, enabled agent with the fewest open cases; among equals, to the one the rotation
reached least recently. Nobody available: the case stays unassigned.

Runs inside the filing transaction. The option's row is locked for the pick, so cases filed
at the same moment on PostgreSQL take turns and each sees the others' assignments (SQLite
has one writer at a time anyway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..store import agents, case_lists, options
from ..store.models import Agent, Case
from . import work

OPTION = "auto_assign"  # value: true | false (off when never set)
TURNS = "auto_assign_turns"  # {"seq": n, "last": {agent_id: seq of their last turn}}
SYSTEM = "system"


def enabled(session: Session) -> bool:
    return options.get(session, OPTION, False) is True


def switch(session: Session, on: bool, *, actor: str, now: datetime) -> bool:
    """Turn automatic assignment on or off; whether it was on before."""
    return options.put(session, OPTION, on, actor=actor, now=now) is True


def on_filed(session: Session, case: Case, now: datetime) -> Agent | None:
    """Deal the newly filed case to an agent if automatic assignment is on; the agent, or
    None (off, already assigned, or nobody available)."""
    if case.agent_id is not None or not enabled(session):
        return None
    row = options.locked(session, OPTION)  # taken only when on: filings take turns here
    if row is None or row.value is not True:
        return None
    team = agents.available(session)
    if not team:
        return None
    load = case_lists.open_load(session, [a.id for a in team])
    turns: dict[str, Any] = options.get(session, TURNS) or {}
    last: dict[str, int] = dict(turns.get("last") or {})
    chosen = min(team, key=lambda a: (load.get(a.id, 0), last.get(str(a.id), -1), a.id))
    seq = int(turns.get("seq") or 0) + 1
    last[str(chosen.id)] = seq
    options.put(session, TURNS, {"seq": seq, "last": last}, actor=SYSTEM, now=now)
    work.assign(session, case, chosen, actor=SYSTEM, now=now)
    return chosen
