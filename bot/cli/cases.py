"""`intake cases list|show`: the store's cases in the terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.hotline import transcript_of
from bot.settings import Settings
from bot.store import cases, customers
from bot.store.db import make_engine, make_sessionmaker, migrate
from workflow.extract.sensitive import redact


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
        trail = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action}
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
