"""The `intake` command line: builds the parser and hands each command to its module.

Command modules are imported only when their command runs, so `intake eval` does not load
the store or Telegram, and one command's missing configuration cannot break another.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("complaint-intake")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intake", description="Complaint intake service.")
    parser.add_argument("--version", action="version", version=f"intake {_version()}")
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
    ca = cs_sub.add_parser("assign", help="give a case to an agent (audited as cli)")
    ca.add_argument("number")
    ca.add_argument("login")
    cm = cs_sub.add_parser("move", help="move a case to another status; the customer is told "
                           "when it matters (taken up, waiting for them, resolved, reopened)")
    cm.add_argument("number")
    cm.add_argument("status", help="new, in_progress, waiting_customer, resolved, closed, "
                    "reopened, review_requested")
    cm.add_argument("--note", help="an internal note: why (needed to reopen or for a review)")
    cm.add_argument("--outcome", help="on resolving: the outcome the customer is told")
    cn = cs_sub.add_parser("note", help="an internal note on a case (never sent)")
    cn.add_argument("number")
    cn.add_argument("text")

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

    ag = sub.add_parser("agents", help="console users: add, list, disable, issue API tokens")
    ag_sub = ag.add_subparsers(dest="agents_command", required=True)
    aa = ag_sub.add_parser(
        "add", help="add a console user",
        description="Add a console user. The password comes from --password-stdin, "
                    "--generate-password, or (at a terminal) is asked for twice.")
    aa.add_argument("login", metavar="LOGIN",
                    help="log-in name: lower-case letters, digits, '.', '_' and '-'")
    aa.add_argument("--name", required=True, help="the name colleagues see")
    aa.add_argument("--role", required=True, choices=("agent", "lead"),
                    help="agent: works complaints; lead: also sees everyone's and edits "
                         "canned replies")
    aa.add_argument("--lang", choices=("zh", "en"), default="zh",
                    help="the console's language (default zh)")
    password = aa.add_mutually_exclusive_group()
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of stdin (for scripts)")
    password.add_argument("--generate-password", action="store_true",
                          help="generate a password and print it (shown only this once)")
    al = ag_sub.add_parser("list", help="every console user, disabled ones too")
    al.add_argument("--json", action="store_true", help="one JSON object per line")
    ad = ag_sub.add_parser("disable", help="disable a user: end their sessions, revoke their "
                                           "API tokens")
    ad.add_argument("login", metavar="LOGIN")
    at = ag_sub.add_parser("token", help="issue a new API token (printed once, as the last "
                                         "line; only its hash is kept)")
    at.add_argument("login", metavar="LOGIN")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "eval":
        from bot.cli.evaluate import evaluate

        return evaluate(args.file, args.json)
    if args.command == "extract":
        from bot.cli.evaluate import extract

        return extract(args.file)
    if args.command == "serve":
        from bot.cli.serve import serve

        return serve(args.host, args.port, args.workers)
    if args.command == "cases":
        from bot.cli import cases

        if args.cases_command == "list":
            return cases.list_cases(args.limit, args.json)
        if args.cases_command == "assign":
            return cases.assign(args.number, args.login)
        if args.cases_command == "move":
            return cases.move(args.number, args.status, args.note, args.outcome)
        if args.cases_command == "note":
            return cases.note(args.number, args.text)
        return cases.show_case(args.number, args.json)
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
