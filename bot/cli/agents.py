"""`intake agents add|list|disable|token`: the console's users, from the terminal.

Passwords and API tokens are shown at most once, here, and kept only as hashes (argon2id,
SHA-256; see bot.console.secrets). Every change is written to the audit trail as actor
"cli", without any secret or hash in it.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.console.secrets import API_PREFIX, hash_password, new_password, new_token, token_hash
from bot.live import announce
from bot.settings import Settings
from bot.store import agents as store
from bot.store import audit, conversations
from bot.store.db import make_engine, make_sessionmaker, migrate
from bot.store.models import Agent, AuditEvent

PasswordSource = Literal["stdin", "generate", "prompt"]

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
ACTOR = "cli"
_SUBJECT = "agent:"
# The audit trail names the agent as "agent:<login>": a login must fit that column too.
MAX_LOGIN = min(Agent.__table__.c.login.type.length,
                AuditEvent.__table__.c.subject.type.length - len(_SUBJECT))
MAX_NAME = Agent.__table__.c.name.type.length


class _Refused(Exception):
    """A user error: printed as the command's message, the command exits with `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def _store(command: str) -> Iterator[tuple[sessionmaker[Session], ZoneInfo]]:
    """Sessions on the configured store (migrated first, so a fresh SQLite file works) and
    the institution's time zone; the engine is disposed of afterwards."""
    try:
        settings = Settings()
    except ValueError as exc:
        raise _Refused(f"intake agents {command}: bad configuration: {exc}", 2) from None
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        yield make_sessionmaker(engine), settings.zone
    finally:
        engine.dispose()


def _fail(exc: _Refused) -> int:
    print(exc, file=sys.stderr)
    return exc.code


def _subject(login: str) -> str:
    return _SUBJECT + login


def _check_login(login: str) -> None:
    if not LOGIN.fullmatch(login) or len(login) > MAX_LOGIN:
        raise _Refused(f"intake agents add: bad login {login!r}: use 2-{MAX_LOGIN} characters "
                       "of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", 2)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise _Refused(f"intake agents add: --name must have 1-{MAX_NAME} characters", 2)
    return name


def _password(source: PasswordSource) -> str:
    """The new agent's password, from where the user asked (see `add`)."""
    if source == "generate":
        return new_password()
    if source == "stdin":
        # Only the line break is dropped: spaces may be part of a password.
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        # Nobody to ask, and a password read silently from a pipe is easy to get wrong.
        raise _Refused("intake agents add: no terminal to ask for the password: use "
                       "--password-stdin (one line on stdin) or --generate-password", 2)
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise _Refused("intake agents add: the passwords do not match", 2)
    return first


def add(login: str, *, name: str, role: str, lang: str = "zh",
        password_source: PasswordSource = "prompt") -> int:
    """Add a console user. 0 added, 1 the login is taken, 2 bad input or configuration."""
    try:
        _check_login(login)
        name = _check_name(name)
        with _store("add") as (sessions, _zone):
            # Before asking for a password, so nobody types one twice for nothing.
            with sessions() as session:
                if store.by_login(session, login) is not None:
                    raise _Refused(f"intake agents add: agent {login} exists already", 1)
            password = _password(password_source)
            try:
                hashed = hash_password(password)
            except ValueError as exc:
                raise _Refused(f"intake agents add: {exc}", 2) from None
            now = datetime.now(UTC)
            with sessions.begin() as session:
                try:
                    store.add(session, login=login, name=name, role=role, lang=lang,
                              password_hash=hashed, now=now)
                except store.AgentExists:  # added meanwhile by someone else
                    raise _Refused(f"intake agents add: agent {login} exists already",
                                   1) from None
                except ValueError as exc:  # role or language the store does not know
                    raise _Refused(f"intake agents add: {exc}", 2) from None
                audit.record(session, actor=ACTOR, action="agent_added",
                             subject=_subject(login), now=now,
                             detail={"name": name, "role": role, "lang": lang,
                                     "password_from": password_source})
    except _Refused as exc:
        return _fail(exc)
    print(f"added {role} {login} ({name}), console language {lang}")
    if password_source == "generate":
        print("the password is shown only this once (only its hash is kept); pass it on "
              "safely:")
        print(f"password: {password}")
    return 0


def _row(agent: Agent, zone: ZoneInfo) -> dict[str, object]:
    """What may be shown of an agent: never the password hash."""
    return {"login": agent.login, "name": agent.name, "role": agent.role, "lang": agent.lang,
            "status": "disabled" if agent.disabled_at else "active",
            "created_at": agent.created_at.astimezone(zone).isoformat(),
            "disabled_at": agent.disabled_at and agent.disabled_at.astimezone(zone).isoformat()}


def list_agents(as_json: bool = False) -> int:
    """Every agent, disabled ones too: a table, or one JSON object per line."""
    try:
        with _store("list") as (sessions, zone), sessions() as session:
            rows = [_row(a, zone) for a in store.all_agents(session)]
    except _Refused as exc:
        return _fail(exc)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print("no agents")
        return 0
    table = [("login", "name", "role", "lang", "status", "created")]
    table += [(str(r["login"]), str(r["name"]), str(r["role"]), str(r["lang"]),
               str(r["status"]), str(r["created_at"])[:16].replace("T", " ")) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        print(" ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)),
              line[-1])
    return 0


def disable(login: str) -> int:
    """Disable an agent: no more log-ins, their sessions ended, their API tokens revoked.
    0 done (or disabled already), 1 no such agent."""
    try:
        with _store("disable") as (sessions, _zone), sessions.begin() as session:
            agent = store.by_login(session, login)
            if agent is None:
                raise _Refused(f"intake agents disable: no agent {login}", 1)
            if agent.disabled_at is not None:
                print(f"agent {login} is disabled already")
                return 0
            now = datetime.now(UTC)
            sessions_open, tokens_live = store.disable(session, agent, now)
            # Their conversations go back to the queue rather than wait for them for ever.
            requeued = conversations.return_to_queue(session, agent.id, now)
            for conversation_id in requeued:
                announce(session, "released", conversation_id)
            audit.record(session, actor=ACTOR, action="agent_disabled", subject=_subject(login),
                         now=now, detail={"sessions_ended": sessions_open,
                                          "tokens_revoked": tokens_live,
                                          "conversations_requeued": requeued})
    except _Refused as exc:
        return _fail(exc)
    print(f"disabled agent {login}: {sessions_open} session(s) ended, "
          f"{tokens_live} API token(s) revoked, {len(requeued)} conversation(s) back in "
          f"the queue")
    return 0


def issue_token(login: str) -> int:
    """A new API token for an active agent, printed as the last line of stdout (scripts take
    `tail -1`); only its SHA-256 is stored. 0 issued, 1 no such or a disabled agent."""
    token = new_token(API_PREFIX)
    try:
        with _store("token") as (sessions, _zone), sessions.begin() as session:
            agent = store.by_login(session, login)
            if agent is None:
                raise _Refused(f"intake agents token: no agent {login}", 1)
            if agent.disabled_at is not None:
                raise _Refused(f"intake agents token: agent {login} is disabled", 1)
            now = datetime.now(UTC)
            row = store.add_token(session, agent, token_hash(token), now)
            audit.record(session, actor=ACTOR, action="token_issued", subject=_subject(login),
                         now=now, detail={"token_id": row.id})
    except _Refused as exc:
        return _fail(exc)
    print(f"API token for {login}: shown only this once (only its hash is kept); "
          "disabling the agent revokes it")
    print(token)
    return 0
