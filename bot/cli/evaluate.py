"""`intake eval FILE` and `intake extract [FILE]`: the conversation engine without a store."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHINA = timezone(timedelta(hours=8))


def evaluate(path: Path, as_json: bool) -> int:
    from bot.evaluation import format_report, load_jsonl, score

    try:
        with open(path, encoding="utf-8") as fh:
            dialogues = load_jsonl(fh)
    except (OSError, ValueError) as exc:
        print(f"intake eval: {path}: {exc}", file=sys.stderr)
        return 2
    report = score(dialogues)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


def extract(path: Path | None, score: bool = False, as_json: bool = False) -> int:
    from bot.evaluation import format_extract_score, score_extracts
    from bot.settings import Settings, load_institution
    from workflow.fields import extract_fields

    try:  # the institution's own product and branch names, when INTAKE_PRODUCTS_FILE is set
        institution = load_institution(Settings())
    except ValueError as exc:
        print(f"intake extract: {exc}", file=sys.stderr)
        return 2
    try:
        source = open(path, encoding="utf-8") if path else sys.stdin
    except OSError as exc:
        print(f"intake extract: {exc}", file=sys.stderr)
        return 2
    status = 0
    scored: list[tuple[dict, dict]] = []
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise TypeError("each line must be a JSON object")
                text = item["text"]
                if not isinstance(text, str):
                    raise TypeError("'text' must be a string")
                if not isinstance(item.get("expect", {}), dict):
                    raise TypeError("'expect' must be an object")
                now = (datetime.fromisoformat(item["now"]) if item.get("now")
                       else datetime.now(CHINA))
            except json.JSONDecodeError:
                print(f"intake extract: line {number} is not JSON: the input is JSON lines, "
                      'one object per line, e.g. {"id": 1, "text": "ATM吞卡，取款2000元"} '
                      '(optional "now": an ISO date-time)', file=sys.stderr)
                status = 1
                continue
            except (ValueError, KeyError, TypeError) as exc:
                print(f"intake extract: line {number}: {exc}", file=sys.stderr)
                status = 1
                continue
            fields = extract_fields(text, now, institution)
            if score:
                scored.append((item, fields))
            else:
                print(json.dumps({"id": item.get("id"), **fields}, ensure_ascii=False),
                      flush=False)
    finally:
        if path:
            source.close()
    if score:
        report = score_extracts(scored)
        print(json.dumps(report, ensure_ascii=False) if as_json
              else format_extract_score(report))
    return status
