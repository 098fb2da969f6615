"""`intake cases list|show|assign|move|note`: the store's cases in the terminal, and working
them from scripts under the console's rules (audited as `cli`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.cases import lifecycle, work
from bot.hotline import transcript_of
from bot.live import announce
from bot.settings import Settings
from bot.store import agents, audit, cases, customers
from bot.store.db import make_engine, make_sessionmaker, migrate
from bot.store.models import Case
from workflow.extract.sensitive import redact

ACTOR = "cli"


class _Refused(Exception):
    pass


def _change(number: str, command: str, change: Callable[[Session, Case, datetime], str]) -> int:
    """Run `change` on the case in one transaction; its line of output, or the refusal."""
    now = datetime.now(UTC)
    try:
        with _sessions().begin() as session:
            case = cases.by_number(session, number)
            if case is None:
                raise _Refused(f"no case {number}")
            said = change(session, case, now)
            audit.record(session, actor=ACTOR, action=f"case_{command}",
                         subject=f"case:{case.number}", now=now)
            announce(session, "case", case.conversation_id)
    except (_Refused, lifecycle.MoveRefused) as exc:
        print(f"intake cases {command}: {exc}", file=sys.stderr)
        return 1
    print(said)
    return 0


def assign(number: str, login: str) -> int:
    def change(session: Session, case: Case, now: datetime) -> str:
        agent = agents.by_login(session, login)
        if agent is None:
            raise _Refused(f"no agent {login}")
        work.assign(session, case, agent, actor=ACTOR, now=now)
        return f"{case.number} assigned to {agent.login} ({agent.name})"

    return _change(number, "assign", change)


def move(number: str, status: str, note: str | None, outcome: str | None) -> int:
    def change(session: Session, case: Case, now: datetime) -> str:
        done = work.move(session, case, status, actor=ACTOR, now=now, note=note,
                         outcome=outcome, today=now.astimezone(Settings().zone).date())
        told = "; the customer is told" if done.tell_customer else ""
        return f"{case.number}: {done.before} -> {done.after}{told}"

    return _change(number, "move", change)


def note(number: str, text: str) -> int:
    def change(session: Session, case: Case, now: datetime) -> str:
        work.note(session, case, text, actor=ACTOR, now=now)
        return f"{case.number}: note added"

    return _change(number, "note", change)


def _sessions() -> sessionmaker[Session]:
    engine = make_engine(Settings().database_url)
    migrate(engine)
    return make_sessionmaker(engine)


def list_cases(limit: int, as_json: bool) -> int:
    zone = Settings().zone
    with _sessions()() as session:
        rows = [cases.to_dict(c) for c in cases.latest(session, limit=limit)]
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print("no cases")
        return 0
    print(f"{'number':17} {'filed':16} {'priority':8} {'category':8} {'business':11} "
          f"{'status':8} {'due':10} name")
    for r in rows:
        filed = datetime.fromisoformat(r["filed_at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        print(f"{r['number']:17} {filed:16} {r['priority']:8} {r['category']:8} "
              f"{(r['business'] or '-'):11} {r['status']:8} {r['due_date']:10} {r['name'] or '-'}")
    return 0


def show_case(number: str, as_json: bool) -> int:
    with _sessions()() as session:
        case = cases.by_number(session, number)
        if case is None:
            print(f"intake cases show: no case {number}", file=sys.stderr)
            return 1
        row = cases.to_dict(case)
        assignee = agents.get(session, case.agent_id) if case.agent_id else None
        row.update(assignee=assignee.login if assignee else None, rating=case.rating,
                   rating_comment=case.rating_comment,
                   review_requested=bool(case.review_requested), outcome=case.outcome)
        trail = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                  "before": e.before, "after": e.after}
                 for e in cases.events(session, case.id)]
        who = [{"channel": i.channel, "external_id": i.external_id,
                "display_name": i.display_name}
               for i in customers.identities(session, case.customer_id)]
        call = transcript_of(session, case)
        transcript = None if call is None else {
            "call_id": call.call_id, "caller": call.caller, "agent_id": call.agent_id,
            "started_at": call.started_at.isoformat() if call.started_at else None,
            "format": call.format, "source": call.source, "turns": call.turns}
    if as_json:
        print(json.dumps({**row, "identities": who, "events": trail, "transcript": transcript},
                         ensure_ascii=False))
        return 0
    for key, value in row.items():
        shown = redact(value) if isinstance(value, str) else value
        print(f"{key:22} {shown}")
    for i in who:
        print(f"  {i['channel']:10} {i['external_id']}  {i['display_name'] or ''}")
    for e in trail:
        print(f"  {e['at']}  {e['actor']}  {e['action']}")
    if transcript is not None:
        print(f"call {transcript['call_id'] or '-'} from {transcript['caller'] or '-'} "
              f"at {transcript['started_at'] or '-'} ({transcript['source']})")
        for turn in transcript["turns"]:
            print(f"  {turn['speaker']:8} {turn['text']}")
    return 0
