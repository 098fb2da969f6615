"""Every `intake` command, nested ones included, explains itself in `--help`: a description,
a help text for each argument, and the default of each option that has one."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

from bot.cli import _parser


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and every subcommand's parser below it, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def helps(*argv: str) -> str:
    shown = subprocess.run([sys.executable, "-m", "bot.cli", *argv, "--help"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    return " ".join(shown.stdout.split())  # as one line: argparse wraps to the terminal


def test_every_command_and_argument_has_a_help_text() -> None:
    tree = list(parsers(_parser()))
    progs = {p.prog for p in tree}
    assert {"intake cases show", "intake agents add", "intake telegram poll"} <= progs
    missing = []
    for parser in tree:
        if not (parser.description or "").strip():
            missing.append(f"{parser.prog}: description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{parser.prog}: {action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                # The one-line summaries in the parent's list of commands.
                missing += [f"{parser.prog}: summary of {choice.dest}"
                            for choice in action._choices_actions
                            if not (choice.help or "").strip()]
    assert missing == []


def test_defaults_are_shown_only_where_there_is_one() -> None:
    for parser in parsers(_parser()):
        text = " ".join(parser.format_help().split())
        assert "default: None" not in text and "default: False" not in text, parser.prog
    serve = helps("serve")
    assert "(default: 8000)" in serve and "(default: 127.0.0.1)" in serve
    assert "(default: 50)" in helps("cases", "list")
    assert "(default: zh)" in helps("agents", "add")
    show = helps("cases", "show")
    assert "NUMBER" in show and "TS20261128-0042" in show and "default" not in show
