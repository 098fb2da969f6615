"""`intake eval`: run simulated customers through the real engine and score the filed cases.

The simulator follows ../shared/eval/README.md: it answers the slot the engine waits for
from the dialogue's `answers`, says "don't know" for a slot it has no answer for, and
confirms the summary.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workflow.deadlines import due_date
from workflow.engine import Engine
from workflow.model import (
    REQUIRED,
    WAIT_CONFIRM,
    CaseFiled,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    Step,
    asked_slots,
)

MAX_TURNS = 40
DONT_KNOW = {"zh": "不知道", "en": "I don't know"}
CONFIRM = {"zh": "确认", "en": "yes"}
JOIN = {"zh": "，", "en": ", "}
# A plain form: the opening, one question per required slot, then the confirmation.
FORM_TURNS = 1 + len(REQUIRED) + 1
SCORED = ("name", "phone", "business", "incident_time", "amount", "currency", "category",
          "priority")


@dataclass
class DialogueResult:
    id: str
    completed: bool
    turns: int
    unmapped: int
    case: dict[str, Any] | None
    transcript: list[tuple[str, str]] = field(default_factory=list)


def simulate(engine: Engine, dialogue: dict[str, Any]) -> DialogueResult:
    """Play one simulated customer against the engine until a case is filed or turns run out."""
    lang = dialogue.get("lang", "zh")
    now = datetime.fromisoformat(dialogue["now"])
    answers = dialogue.get("answers", {})
    transcript: list[tuple[str, str]] = []
    message = dialogue["opening"]
    state = None
    unmapped = 0
    for turn in range(1, MAX_TURNS + 1):
        transcript.append(("customer", message))
        step = engine.step(state, message, now)
        transcript.extend(("bot", r.text) for r in step.replies)
        case = _filed_case(step)
        if case is not None:
            resumed = engine.resume(step.state, CaseFiled("EV00000000-0001",
                                                          due_date(now.date()).isoformat()), now)
            transcript.extend(("bot", r.text) for r in resumed.replies)
            return DialogueResult(dialogue["id"], True, turn, unmapped, case, transcript)
        reason = _handoff_reason(step)
        if reason is not None:
            # As the shell does with no agent online: the bot carries on and re-asks.
            step = engine.resume(step.state, HandoffQueued(reason, 0, None), now)
            transcript.extend(("bot", r.text) for r in step.replies)
        state = step.state
        waiting = step.waiting_for
        parts = [answers[s] for s in asked_slots(waiting) if s in answers]
        if waiting == WAIT_CONFIRM:
            message = CONFIRM.get(lang, "yes")
        elif waiting in answers:
            message = answers[waiting]
        elif len(asked_slots(waiting)) > 1 and parts:
            # Several slots asked at once: their answers in one message, in the order named.
            message = JOIN.get(lang, ", ").join(parts)
        else:
            if waiting is None or waiting not in (*REQUIRED, "amount", "branch"):
                unmapped += 1
            message = DONT_KNOW.get(lang, "I don't know")
    return DialogueResult(dialogue["id"], False, MAX_TURNS, unmapped, None, transcript)


def _filed_case(step: Step) -> dict[str, Any] | None:
    for event in step.events:
        if isinstance(event, FileCase):
            return event.case
    return None


def _handoff_reason(step: Step) -> str | None:
    for event in step.events:
        if isinstance(event, HandoffRequested):
            return event.reason
    return None


def score(dialogues: Iterable[dict[str, Any]], engine: Engine | None = None) -> dict[str, Any]:
    """The report of README's `--json` form."""
    engine = engine or Engine()
    fields: dict[str, dict[str, int]] = {}
    failures: list[dict[str, Any]] = []
    turns: list[int] = []
    completed = 0
    count = 0
    unmapped = 0
    for dialogue in dialogues:
        count += 1
        result = simulate(engine, dialogue)
        turns.append(result.turns)
        unmapped += result.unmapped
        completed += result.completed
        case = result.case or {}
        for name, expected in dialogue.get("expect", {}).items():
            tally = fields.setdefault(name, {"right": 0, "scored": 0})
            tally["scored"] += 1
            got = case.get(name)
            if _same(name, expected, got):
                tally["right"] += 1
            else:
                failures.append({"id": dialogue["id"], "field": name,
                                 "expected": expected, "got": got})
    return {
        "fields": fields,
        "completed": completed,
        "dialogues": count,
        "turns_mean": round(statistics.fmean(turns), 2) if turns else 0,
        "turns_median": statistics.median(turns) if turns else 0,
        "turns_max": max(turns) if turns else 0,
        "form_turns": FORM_TURNS,
        "unmapped_questions": unmapped,
        "failures": failures,
    }


def score_extracts(items: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """`intake extract --score`: (line, extracted fields) pairs scored against each line's
    `expect`; `"urgent": true|false` is scored as recall and false-urgent rate."""
    fields: dict[str, dict[str, int]] = {}
    failures: list[dict[str, Any]] = []
    urgent = {"positives": 0, "negatives": 0, "caught": 0, "false": 0}
    for item, got in items:
        for name, expected in (item.get("expect") or {}).items():
            if name == "urgent":
                filed = got.get("priority") == "urgent"
                urgent["positives" if expected else "negatives"] += 1
                urgent["caught"] += bool(expected and filed)
                urgent["false"] += bool(not expected and filed)
                if bool(expected) != filed:
                    failures.append({"id": item.get("id"), "field": "urgent",
                                     "expected": bool(expected), "got": filed,
                                     "text": item.get("text")})
                continue
            tally = fields.setdefault(name, {"right": 0, "scored": 0})
            tally["scored"] += 1
            if _same(name, expected, got.get(name)):
                tally["right"] += 1
            else:
                failures.append({"id": item.get("id"), "field": name, "expected": expected,
                                 "got": got.get(name), "text": item.get("text")})
    positives, negatives = urgent["positives"], urgent["negatives"]
    return {
        "fields": fields,
        "urgent": {
            "recall": round(urgent["caught"] / positives, 4) if positives else None,
            "false_rate": round(urgent["false"] / negatives, 4) if negatives else None,
            "positives": positives,
            "negatives": negatives,
        },
        "failures": failures,
    }


def format_extract_score(report: dict[str, Any], failures: int = 20) -> str:
    out = []
    for name, tally in report["fields"].items():
        pct = 100 * tally["right"] / tally["scored"] if tally["scored"] else 0.0
        out.append(f"{name:15} {tally['right']:4d}/{tally['scored']:<4d} {pct:6.1f}%")
    u = report["urgent"]
    if u["positives"] or u["negatives"]:
        recall = "-" if u["recall"] is None else f"{u['recall']:.3f}"
        false = "-" if u["false_rate"] is None else f"{u['false_rate']:.3f}"
        out.append(f"urgent          recall {recall} of {u['positives']}   "
                   f"false-urgent rate {false} of {u['negatives']}")
    shown = report["failures"][:failures]
    if shown:
        out.append(f"failures (first {len(shown)} of {len(report['failures'])}):")
        for f in shown:
            out.append(f"  {f['id']}: {f['field']} expected {f['expected']!r}, got "
                       f"{f['got']!r}: {f.get('text')!r}")
    return "\n".join(out)


def _same(name: str, expected: Any, got: Any) -> bool:
    if name == "amount":
        try:
            return got is not None and abs(Decimal(str(got)) - Decimal(str(expected))) <= Decimal(
                "0.01")
        except InvalidOperation:
            return False
    return got == expected


def load_jsonl(lines: Iterable[str]) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not valid JSON ({exc.msg})") from exc
        problem = _dialogue_problem(item)
        if problem:
            raise ValueError(f"line {number}: {problem}")
        items.append(item)
    return items


def _dialogue_problem(item: Any) -> str | None:
    """What makes `item` unusable as a dialogue, or None."""
    if not isinstance(item, dict):
        return "a dialogue must be a JSON object"
    for key in ("id", "now", "opening"):
        if not isinstance(item.get(key), str):
            return f"'{key}' is missing or not a string"
    try:
        datetime.fromisoformat(item["now"])
    except ValueError:
        return f"'now' is not an ISO 8601 date-time: {item['now']!r}"
    for key in ("answers", "expect"):
        if not isinstance(item.get(key, {}), dict):
            return f"'{key}' must be an object"
    if not all(isinstance(v, str) for v in item.get("answers", {}).values()):
        return "every answer must be a string"
    return None


def format_report(report: dict[str, Any]) -> str:
    out = []
    for name, tally in report["fields"].items():
        pct = 100 * tally["right"] / tally["scored"] if tally["scored"] else 0.0
        out.append(f"{name:15} {tally['right']:4d}/{tally['scored']:<4d} {pct:6.1f}%")
    out.append(f"completed       {report['completed']}/{report['dialogues']}")
    out.append(
        f"turns           mean {report['turns_mean']}  median {report['turns_median']}  "
        f"max {report['turns_max']}  (plain form: {report['form_turns']})"
    )
    if report["failures"]:
        out.append("failures:")
        for f in report["failures"]:
            out.append(f"  {f['id']}: {f['field']} expected {f['expected']!r}, got {f['got']!r}")
    return "\n".join(out)
