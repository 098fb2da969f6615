"""The `intake` command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHINA = timezone(timedelta(hours=8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake", description="Complaint intake service.")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="run simulated dialogues through the engine and score them")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true", help="print one JSON object")

    ex = sub.add_parser("extract", help="extract fields from single texts (JSON lines)")
    ex.add_argument("file", type=Path, nargs="?", help="JSON lines file; stdin when omitted")

    sv = sub.add_parser("serve", help="run the service (HTTP app, channels, outbox dispatcher)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL)")

    cs = sub.add_parser("cases", help="filed cases in the store")
    cs_sub = cs.add_subparsers(dest="cases_command", required=True)
    cl = cs_sub.add_parser("list", help="the latest cases")
    cl.add_argument("--json", action="store_true", help="one JSON object per line")
    cl.add_argument("--limit", type=int, default=50)
    csh = cs_sub.add_parser("show", help="one case with its audit trail")
    csh.add_argument("number")
    csh.add_argument("--json", action="store_true")

    it = sub.add_parser("import-transcripts",
                        help="file a case for each hotline call transcript (files or folders)")
    it.add_argument("paths", nargs="+", metavar="PATH")
    it.add_argument("--json", action="store_true", help="the summary as one JSON object")

    tg = sub.add_parser("telegram", help="the Telegram channel")
    tg_sub = tg.add_subparsers(dest="telegram_command", required=True)
    sw = tg_sub.add_parser("set-webhook", help="register URL with INTAKE_TELEGRAM_WEBHOOK_SECRET")
    sw.add_argument("url")
    tg_sub.add_parser("delete-webhook", help="remove the webhook (then the service polls)")
    tg_sub.add_parser("poll", help="long-poll Telegram without the HTTP service")

    args = parser.parse_args(argv)
    if args.command == "telegram":
        from bot import telegram_cli

        if args.telegram_command == "set-webhook":
            return telegram_cli.register_webhook(args.url)
        if args.telegram_command == "delete-webhook":
            return telegram_cli.remove_webhook()
        return telegram_cli.poll()
    if args.command == "import-transcripts":
        from bot.hotline_cli import import_transcripts

        return import_transcripts(args.paths, args.json)
    if args.command == "serve":
        return _serve(args.host, args.port, args.workers)
    if args.command == "cases":
        from bot.cases_cli import list_cases, show_case

        if args.cases_command == "list":
            return list_cases(args.limit, args.json)
        return show_case(args.number, args.json)
    if args.command == "eval":
        return _eval(args.file, args.json)
    if args.command == "extract":
        return _extract(args.file)
    return 2


def _serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    from bot.logs import configure_logging, uvicorn_log_config
    from bot.settings import Settings

    try:
        settings = Settings()
    except ValueError as exc:
        print(f"intake serve: bad configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        print("intake serve: several workers need PostgreSQL; using one", file=sys.stderr)
        workers = 1
    uvicorn.run("bot.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), access_log=False,
                log_config=uvicorn_log_config(settings))
    return 0


def _eval(path: Path, as_json: bool) -> int:
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


def _extract(path: Path | None) -> int:
    from workflow.fields import extract_fields

    source = open(path, encoding="utf-8") if path else sys.stdin
    status = 0
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = item["text"]
                if not isinstance(text, str):
                    raise TypeError("'text' must be a string")
                now = (datetime.fromisoformat(item["now"]) if item.get("now")
                       else datetime.now(CHINA))
            except (ValueError, KeyError, TypeError) as exc:
                print(f"intake extract: line {number}: {exc}", file=sys.stderr)
                status = 1
                continue
            fields = extract_fields(text, now)
            print(json.dumps({"id": item.get("id"), **fields}, ensure_ascii=False), flush=False)
    finally:
        if path:
            source.close()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
