"""`intake cases list|show|assign|move|note`: the store's cases in the terminal, and working
them from scripts under the console's rules (audited as `cli`)."""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
    width = shutil.get_terminal_size((80, 24)).columns
    zone = Settings().zone
    print("\n".join(_case_text(row, who, trail, transcript, zone, width)))
    return 0


# ---- `intake cases show` as text ----------------------------------------------------------

_TIME = "%Y-%m-%d %H:%M"  # as `intake cases list` shows times
_INDENT = "  "


def _local(iso: str | None, zone: ZoneInfo) -> str:
    """An ISO date-time from the store, in the institution's time zone, or "-"."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(zone).strftime(_TIME)


def _shown(value: Any) -> str:
    """A field's value for people: "-" when empty, yes/no, lists joined, secrets masked."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, str):
        return redact(value)
    return str(value)


def _fields(row: dict[str, Any], zone: ZoneInfo) -> list[tuple[str, str]]:
    """(label, text) per field; a non-empty mapping (reasons, regulatory) gives one row per
    leaf, labelled with its dotted path."""
    out: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                add(f"{label}.{key}", inner)
        else:
            out.append((label, _shown(value)))

    for key, value in row.items():
        if key == "number":
            continue  # the heading says it
        add(key, _local(value, zone) if key == "filed_at" else value)
    return out


def _cell_width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pieces(text: str) -> list[str]:
    """Words, single wide characters (a line may break between any two) and the runs of
    spaces between them."""
    out: list[str] = []
    for char in text:
        wide = unicodedata.east_asian_width(char) in "WF"
        if out and not wide and out[-1].isspace() == char.isspace() and not _is_wide(out[-1]):
            out[-1] += char
        else:
            out.append(char)
    return out


def _is_wide(piece: str) -> bool:
    return len(piece) == 1 and unicodedata.east_asian_width(piece) in "WF"


# Closing punctuation no line may start with: it goes down with the character before it.
_NO_LINE_START = frozenset("，。、；：！？）」』》】”’")


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` terminal columns (width >= 4). textwrap counts
    characters and breaks only at spaces, which does not fit Chinese: this breaks between
    wide characters too, and splits a word longer than a line."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, gap = "", ""
        for piece in _pieces(paragraph):
            if piece.isspace():
                gap = piece if line else ""
                continue
            if _cell_width(line + gap + piece) <= width:
                line, gap = line + gap + piece, ""
                continue
            carried = ""
            if piece in _NO_LINE_START and len(line) > 1 and _is_wide(line[-1]):
                line, carried = line[:-1], line[-1]
            if line:
                lines.append(line)
            line, gap, piece = "", "", carried + piece
            while _cell_width(piece) > width:  # a word longer than a whole line
                cut = 1
                while _cell_width(piece[:cut + 1]) <= width:
                    cut += 1
                lines.append(piece[:cut])
                piece = piece[cut:]
            line = piece
        lines.append(line)
    return lines


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns, label and value; a long value wraps under itself."""
    label_width = max((len(label) for label, _ in rows), default=0)
    value_width = max(20, width - len(_INDENT) - label_width - 2)
    out = []
    for label, value in rows:
        first, *rest = _wrap(value, value_width)
        out.append(f"{_INDENT}{label:{label_width}}  {first}".rstrip())
        out += [f"{_INDENT}{'':{label_width}}  {line}".rstrip() for line in rest]
    return out


def _case_text(row: dict[str, Any], who: list[dict[str, Any]], trail: list[dict[str, Any]],
               transcript: dict[str, Any] | None, zone: ZoneInfo, width: int) -> list[str]:
    """`intake cases show` for people: headed sections, local times, "-" for empty values,
    long texts wrapped to `width` columns, ID and card numbers masked."""
    lines = [f"Case {row['number']} (times in {zone.key})", "", "Details"]
    lines += _rows(_fields(row, zone), width)
    lines += ["", "Identities"]
    lines += _rows([(i["channel"], f"{_shown(i['external_id'])}  {_shown(i['display_name'])}")
                    for i in who], width) or [f"{_INDENT}-"]
    lines += ["", "History"]
    lines += _rows([(_local(e["at"], zone), f"{e['actor']:10}  {e['action']}")
                    for e in trail], width) or [f"{_INDENT}-"]
    if transcript is not None:
        lines += ["", "Call transcript"]
        lines += _rows([("call_id", _shown(transcript["call_id"])),
                        ("caller", _shown(transcript["caller"])),
                        ("agent_id", _shown(transcript["agent_id"])),
                        ("started_at", _local(transcript["started_at"], zone)),
                        ("format", _shown(transcript["format"])),
                        ("source", _shown(transcript["source"]))], width)
        lines.append("")
        lines += _rows([(t["speaker"], _shown(t["text"])) for t in transcript["turns"]], width)
    return lines
