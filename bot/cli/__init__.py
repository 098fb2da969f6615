"""The `intake` command line: builds the parser and hands each command to its module.

Command modules are imported only when their command runs, so `intake eval` does not load
the store or Telegram, and one command's missing configuration cannot break another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("complaint-intake")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


# The positional argument of every `intake cases` command that names a case.
_NUMBER = "the case number, e.g. TS20261128-0042"


class _Formatter(argparse.HelpFormatter):
    """Help that shows an option's default when it has a meaningful one (not None, not the
    False of a flag) and its text does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if (text and "%(default)" not in text and action.default not in (None, False)
                and action.default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Every parser in the tree, nested subcommands included, uses _Formatter (add_subparsers
    builds subparsers with the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def _commands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND", title="commands",
                                 help="what to do; each command has its own --help")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="intake",
        description="Complaint intake service: run it, and work its cases, console users and "
                    "channels from the terminal. Settings come from INTAKE_* environment "
                    "variables or a .env file (INTAKE_DATABASE_URL chooses the store). "
                    "Run `intake COMMAND --help` for a command's own options.")
    parser.add_argument("--version", action="version", version=f"intake {_version()}",
                        help="print the installed version and exit")
    sub = _commands(parser, "command")

    ev = sub.add_parser(
        "eval", help="run simulated dialogues through the engine and score them",
        description="Run simulated dialogues through the conversation engine (no store, no "
                    "channels) and print how well the filed fields match the expected ones.")
    ev.add_argument("file", type=Path, metavar="FILE",
                    help='JSON lines file, one dialogue per line: an object with "id", "now" '
                         '(ISO date-time) and "opening" (the first message), plus the expected '
                         "fields")
    ev.add_argument("--json", action="store_true",
                    help="print the report as one JSON object instead of a table")

    ex = sub.add_parser(
        "extract", help="extract fields from single texts (JSON lines)",
        description="Extract the complaint fields (name, phone, business, date, amount, ...) "
                    "from single texts, without a dialogue. Input and output are JSON lines: "
                    'one object per line, e.g. {"id": 1, "text": "ATM吞卡，取款2000元"}, '
                    'optionally with "now" (an ISO date-time relative dates count from).')
    ex.add_argument("file", type=Path, nargs="?", metavar="FILE",
                    help="JSON lines file to read; standard input when omitted")
    ex.add_argument("--score", action="store_true",
                    help='score against each line\'s "expect" ({field: gold}, or '
                         '{"urgent": true|false} for urgent recall and false-urgent rate) '
                         "instead of printing the fields")
    ex.add_argument("--json", action="store_true",
                    help="with --score: print the report as one JSON object")

    sv = sub.add_parser(
        "serve", help="run the service (HTTP app, channels, outbox dispatcher)",
        description="Run the service under uvicorn: the HTTP app (web chat, console, channel "
                    "webhooks), the Telegram and WeChat channels and the outbox dispatcher. "
                    "The database is migrated on start-up.")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on; 0.0.0.0 for every interface")
    sv.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    sv.add_argument("--workers", type=int, default=1, metavar="N",
                    help="number of worker processes; more than one needs PostgreSQL")

    cs = sub.add_parser(
        "cases", help="filed cases in the store",
        description="The store's filed cases: list and show them, and work them from scripts "
                    "under the console's rules (every change is audited as actor `cli`).")
    cs_sub = _commands(cs, "cases_command")
    cl = cs_sub.add_parser(
        "list", help="the latest cases",
        description="List the latest filed cases, newest first, with times in the "
                    "institution's time zone (INTAKE_TIMEZONE).")
    cl.add_argument("--json", action="store_true",
                    help="print one JSON object per case per line instead of a table")
    cl.add_argument("--limit", type=int, default=50, metavar="N",
                    help="show at most N cases")
    csh = cs_sub.add_parser(
        "show", help="one case with its audit trail",
        description="Show one case: its fields, the customer's channel identities, its "
                    "history (audit trail) and, for a hotline call, the transcript. Times "
                    "are in the institution's time zone; ID and card numbers are masked.")
    csh.add_argument("number", metavar="NUMBER", help=_NUMBER)
    csh.add_argument("--json", action="store_true",
                     help="print one JSON object (times in UTC, ISO 8601) instead of text")
    ca = cs_sub.add_parser(
        "assign", help="give a case to an agent (audited as cli)",
        description="Give a case to a console user, as the console does; audited as `cli`.")
    ca.add_argument("number", metavar="NUMBER", help=_NUMBER)
    ca.add_argument("login", metavar="LOGIN", help="log-in name of the agent to give it to")
    cm = cs_sub.add_parser(
        "move", help="move a case to another status; the customer is told when it matters "
                     "(taken up, waiting for them, resolved, reopened)",
        description="Move a case to another status under the console's rules. The customer "
                    "is told on their channel when it matters (taken up, waiting for them, "
                    "resolved, reopened).")
    cm.add_argument("number", metavar="NUMBER", help=_NUMBER)
    cm.add_argument("status", metavar="STATUS",
                    help="the new status: new, in_progress, waiting_customer, resolved, "
                         "closed, reopened or review_requested")
    cm.add_argument("--note", metavar="TEXT",
                    help="an internal note saying why (required to reopen or to request a "
                         "review)")
    cm.add_argument("--outcome", metavar="TEXT",
                    help="when resolving: the outcome the customer is told (required then)")
    cn = cs_sub.add_parser(
        "note", help="an internal note on a case (never sent)",
        description="Add an internal note to a case's history. It is never sent to the "
                    "customer; ID and card numbers in it are masked.")
    cn.add_argument("number", metavar="NUMBER", help=_NUMBER)
    cn.add_argument("text", metavar="TEXT", help="the note (quote it if it has spaces)")

    it = sub.add_parser(
        "import-transcripts",
        help="file a case for each hotline call transcript (files or folders)",
        description="File a case for each transcribed hotline call. A transcript is a JSON, "
                    "WebVTT or plain-text file; folders are walked (hidden entries skipped). "
                    "A call already imported is skipped.")
    it.add_argument("paths", nargs="+", metavar="PATH",
                    help="transcript file, or folder of them; several may be given")
    it.add_argument("--json", action="store_true",
                    help="print the summary as one JSON object instead of text")

    tg = sub.add_parser(
        "telegram", help="the Telegram channel",
        description="The Telegram channel: register or remove its webhook, or long-poll "
                    "without the HTTP service. Needs INTAKE_TELEGRAM_TOKEN.")
    tg_sub = _commands(tg, "telegram_command")
    sw = tg_sub.add_parser(
        "set-webhook", help="register URL with INTAKE_TELEGRAM_WEBHOOK_SECRET",
        description="Tell Telegram to send updates to URL, with the secret from "
                    "INTAKE_TELEGRAM_WEBHOOK_SECRET that the webhook checks.")
    sw.add_argument("url", metavar="URL",
                    help="the public https:// address of the service's Telegram webhook")
    tg_sub.add_parser(
        "delete-webhook", help="remove the webhook (then the service polls)",
        description="Remove the Telegram webhook; `intake serve` then long-polls Telegram.")
    tg_sub.add_parser(
        "poll", help="long-poll Telegram without the HTTP service",
        description="Long-poll Telegram and send replies, without the HTTP service (for a "
                    "host with no public URL). Stop with Ctrl-C.")

    ag = sub.add_parser(
        "agents", help="console users: add, list, disable, issue API tokens",
        description="The console's users. Passwords and API tokens are shown at most once "
                    "and kept only as hashes; every change is audited as actor `cli`.")
    ag_sub = _commands(ag, "agents_command")
    aa = ag_sub.add_parser(
        "add", help="add a console user",
        description="Add a console user. The password comes from --password-stdin, "
                    "--generate-password, or (at a terminal) is asked for twice.")
    aa.add_argument("login", metavar="LOGIN",
                    help="log-in name: lower-case letters, digits, '.', '_' and '-'")
    aa.add_argument("--name", required=True,
                    help="the display name colleagues see in the console")
    aa.add_argument("--role", required=True, choices=("agent", "lead"),
                    help="agent: works complaints; lead: also sees everyone's and edits "
                         "canned replies")
    aa.add_argument("--lang", choices=("zh", "en"), default="zh",
                    help="the console's language")
    password = aa.add_mutually_exclusive_group()
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of stdin (for scripts)")
    password.add_argument("--generate-password", action="store_true",
                          help="generate a password and print it (shown only this once)")
    al = ag_sub.add_parser(
        "list", help="every console user, disabled ones too",
        description="List every console user, disabled ones too, with their role, language, "
                    "status and when they were added.")
    al.add_argument("--json", action="store_true",
                    help="print one JSON object per user per line instead of a table")
    ad = ag_sub.add_parser(
        "disable", help="disable a user: end their sessions, revoke their API tokens",
        description="Disable a console user: they can no longer log in, their sessions end "
                    "and their API tokens are revoked.")
    ad.add_argument("login", metavar="LOGIN", help="log-in name of the user to disable")
    at = ag_sub.add_parser(
        "token", help="issue a new API token (printed once, as the last line; only its hash "
                      "is kept)",
        description="Issue a new API token for a console user. It is printed once, as the "
                    "last line of output; only its hash is kept.")
    at.add_argument("login", metavar="LOGIN", help="log-in name of the token's owner")
    rp = sub.add_parser(
        "report", help="the reports of a period: summary, JSON, or CSV/XLSX exports",
        description="The reports of a period (days of receipt in the institution's time "
                    "zone, both ends included): without --format a summary; --format json "
                    "one object with every figure, the groups of similar complaints and the "
                    "JR/T 0169 table; csv or xlsx the period's cases (or, with --kind "
                    "regulatory, the regulatory report), with a progress bar on stderr for "
                    "large exports. ID-card and card numbers are masked.")
    rp.add_argument("--from", dest="start", type=_date, metavar="DATE",
                    help="first day, YYYY-MM-DD (default: 29 days before --to)")
    rp.add_argument("--to", dest="end", type=_date, metavar="DATE",
                    help="last day, YYYY-MM-DD (default: today)")
    rp.add_argument("--format", choices=("csv", "xlsx", "json"),
                    help="csv, xlsx (needs --out) or json; unset = a summary as text")
    rp.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    rp.add_argument("--kind", choices=("cases", "regulatory"), default="cases",
                    help="what csv and xlsx export")
    rp.add_argument("--by", choices=("day", "week"),
                    help="buckets of the cases over time (default: day, week past 92 days)")
    rp.add_argument("--lang", choices=("zh", "en"), default="zh",
                    help="language of the JR/T 0169 labels")
    for name in ("category", "business", "channel", "priority", "status"):
        rp.add_argument(f"--{name}", metavar=name.upper(), help=f"only cases of this {name}")

    return parser


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _cases(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from bot.cli import cases

    name = f"intake cases {args.cases_command}"
    try:
        if args.cases_command == "list":
            return cases.list_cases(args.limit, args.json)
        if args.cases_command == "assign":
            return cases.assign(args.number, args.login)
        if args.cases_command == "move":
            return cases.move(args.number, args.status, args.note, args.outcome)
        if args.cases_command == "note":
            return cases.note(args.number, args.text)
        return cases.show_case(args.number, args.json)
    except ValidationError as exc:  # an INTAKE_* setting out of range or malformed
        print(f"{name}: bad configuration: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # the store cannot be opened or reached
        print(f"{name}: cannot open the store: {exc.orig}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "eval":
        from bot.cli.evaluate import evaluate

        return evaluate(args.file, args.json)
    if args.command == "extract":
        from bot.cli.evaluate import extract

        return extract(args.file, args.score, args.json)
    if args.command == "serve":
        from bot.cli.serve import serve

        return serve(args.host, args.port, args.workers)
    if args.command == "cases":
        return _cases(args)
    if args.command == "report":
        from bot.cli.report import run

        filters = {k: getattr(args, k) for k in ("category", "business", "channel",
                                                 "priority", "status")}
        return run(args.start, args.end, args.format, args.out, args.kind, args.by, args.lang,
                   filters)
    if args.command == "import-transcripts":
        from bot.cli.hotline import import_transcripts

        return import_transcripts(args.paths, args.json)
    if args.command == "telegram":
        from bot.cli import telegram

        if args.telegram_command == "set-webhook":
            return telegram.register_webhook(args.url)
        if args.telegram_command == "delete-webhook":
            return telegram.remove_webhook()
        return telegram.poll()
    if args.command == "agents":
        from bot.cli import agents

        if args.agents_command == "add":
            source = ("stdin" if args.password_stdin
                      else "generate" if args.generate_password else "prompt")
            return agents.add(args.login, name=args.name, role=args.role, lang=args.lang,
                              password_source=source)
        if args.agents_command == "list":
            return agents.list_agents(args.json)
        if args.agents_command == "disable":
            return agents.disable(args.login)
        return agents.issue_token(args.login)
    return 2
