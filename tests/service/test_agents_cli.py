"""`intake agents add|list|disable|token` as an administrator uses it, on SQLite and
PostgreSQL: what it prints, what it exits with, and that no secret is kept or echoed."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.cli import main
from bot.console.secrets import check_password, token_hash
from bot.store import agents as store
from bot.store.db import make_engine
from bot.store.models import Agent, AgentSession, ApiToken, AuditEvent, Base

PASSWORD = "correct horse battery staple"

Run = Callable[..., tuple[int, str, str]]


class Terminal(io.StringIO):
    """stdin as an interactive terminal (getpass itself is replaced in the tests)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def intake(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `intake ARGS...` in-process on the test database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("INTAKE_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env file configures the run

    def run(*args: str, stdin: str | io.StringIO = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", stdin if isinstance(stdin, io.StringIO)
                            else io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test database, migrated (tests/conftest.py), to look at what the commands did."""
    return engine


def stored(database_url: str, engine: Engine) -> bytes:
    """Everything the store holds: the SQLite files' bytes, or every PostgreSQL row as text."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"))
                        if p.exists())
    with engine.connect() as conn:
        rows = [conn.execute(text(f'SELECT CAST(t AS text) FROM "{table.name}" t')).scalars()
                for table in Base.metadata.sorted_tables]
        return "\n".join(row for table_rows in rows for row in table_rows).encode()


def agent(engine: Engine, login: str) -> Agent | None:
    with Session(engine) as session:
        return store.by_login(session, login)


def audit_trail(engine: Engine) -> list[tuple[str, str, str | None, dict | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject, AuditEvent.detail)
            .order_by(AuditEvent.id))]


def test_add_with_password_on_stdin_keeps_only_an_argon2_hash(intake: Run, db: Engine,
                                                              database_url: str) -> None:
    code, out, err = intake("agents", "add", "admin", "--name", "Li Na", "--role", "lead",
                            "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, err
    assert out == "added lead admin (Li Na), console language zh\n"
    found = agent(db, "admin")
    assert found is not None and (found.role, found.lang, found.disabled_at) == (
        "lead", "zh", None)
    assert found.password_hash.startswith("$argon2id$")
    assert check_password(found.password_hash, PASSWORD)
    assert not check_password(found.password_hash, PASSWORD + "x")
    assert PASSWORD.encode() not in stored(database_url, db)
    assert PASSWORD not in out + err and found.password_hash not in out + err
    assert audit_trail(db) == [("cli", "agent_added", "agent:admin",
                                {"name": "Li Na", "role": "lead", "lang": "zh",
                                 "password_from": "stdin"})]


def test_a_fresh_store_is_set_up_first(intake: Run, database_url: str) -> None:
    code, _, err = intake("agents", "add", "first", "--name", "First", "--role", "lead",
                            "--generate-password")
    assert code == 0, err
    assert intake("agents", "list", "--json")[1].count('"login": "first"') == 1
    engine = make_engine(database_url)
    try:
        assert agent(engine, "first") is not None
    finally:
        engine.dispose()


def test_generated_password_is_printed_once_and_works(intake: Run, db: Engine) -> None:
    code, out, _ = intake("agents", "add", "wang.wei", "--name", "王伟", "--role", "agent",
                          "--lang", "en", "--generate-password")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "added agent wang.wei (王伟), console language en"
    assert "only this once" in out
    assert lines[-1].startswith("password: ")
    password = lines[-1].removeprefix("password: ")
    assert len(password) >= 10 and out.count(password) == 1
    found = agent(db, "wang.wei")
    assert found is not None and check_password(found.password_hash, password)
    assert password not in json.dumps(audit_trail(db), ensure_ascii=False)


def test_password_asked_twice_at_a_terminal(intake: Run, db: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "!", PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = intake("agents", "add", "zhao", "--name", "Zhao", "--role", "agent",
                          stdin=Terminal())
    assert code == 2 and "do not match" in err and agent(db, "zhao") is None
    code, _, err = intake("agents", "add", "zhao", "--name", "Zhao", "--role", "agent",
                          stdin=Terminal())
    assert code == 0, err
    found = agent(db, "zhao")
    assert found is not None and check_password(found.password_hash, PASSWORD)


def test_no_terminal_and_no_flag_is_refused(intake: Run, db: Engine) -> None:
    code, out, err = intake("agents", "add", "li", "--name", "Li", "--role", "agent",
                            stdin=PASSWORD + "\n")
    assert code == 2 and out == ""
    assert "--password-stdin" in err and "--generate-password" in err
    assert agent(db, "li") is None


@pytest.mark.parametrize("password", ["short", "", "123456789"])
def test_short_password_is_refused(intake: Run, db: Engine, password: str) -> None:
    code, out, err = intake("agents", "add", "li", "--name", "Li", "--role", "agent",
                            "--password-stdin", stdin=password + "\n")
    assert code == 2 and out == "" and "at least 10 characters" in err
    assert agent(db, "li") is None and audit_trail(db) == []


def test_taken_login_is_refused(intake: Run, db: Engine) -> None:
    assert intake("agents", "add", "li", "--name", "Li Na", "--role", "agent",
                  "--password-stdin", stdin=PASSWORD)[0] == 0
    code, out, err = intake("agents", "add", "li", "--name", "Someone Else", "--role", "lead",
                            "--password-stdin", stdin="another password 123")
    assert code == 1 and out == "" and "agent li exists already" in err
    found = agent(db, "li")
    assert found is not None and (found.name, found.role) == ("Li Na", "agent")
    assert check_password(found.password_hash, PASSWORD)
    assert [a for _, a, _, _ in audit_trail(db)] == ["agent_added"]


@pytest.mark.parametrize("login", ["Admin", "a", "-lead", ".x", "li na", "li@bank", "李娜",
                                   "a" * 65])
def test_bad_login_is_refused(intake: Run, db: Engine, login: str) -> None:
    code, out, err = intake("agents", "add", "--name", "X", "--role", "agent",
                            "--generate-password", "--", login)  # "--": "-lead" is no option
    assert code == 2 and out == "" and "bad login" in err
    with db.connect() as conn:
        assert conn.execute(select(Agent)).first() is None


def test_longest_login_fits_the_store_and_its_audit_trail(intake: Run, db: Engine) -> None:
    login = "a" + "b" * 63  # 64: "agent:<login>" still fits the audit trail's subject
    code, _, err = intake("agents", "add", login, "--name", "Long", "--role", "agent",
                          "--generate-password")
    assert code == 0, err
    assert intake("agents", "token", login)[0] == 0
    assert intake("agents", "disable", login)[0] == 0
    assert [s for _, _, s, _ in audit_trail(db)] == [f"agent:{login}"] * 3


def test_list_shows_every_agent(intake: Run) -> None:
    code, out, _ = intake("agents", "list")
    assert code == 0 and out == "no agents\n"
    intake("agents", "add", "admin", "--name", "Li Na", "--role", "lead", "--password-stdin",
           stdin=PASSWORD)
    intake("agents", "add", "bob", "--name", "Bob Chen", "--role", "agent", "--lang", "en",
           "--password-stdin", stdin=PASSWORD)
    intake("agents", "disable", "bob")
    code, out, _ = intake("agents", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["login", "name", "role", "lang", "status", "created"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the default Settings.timezone
    assert rows[0].split()[:6] == ["admin", "Li", "Na", "lead", "zh", "active"]
    assert rows[1].split()[:6] == ["bob", "Bob", "Chen", "agent", "en", "disabled"]
    assert abs((datetime.fromisoformat(rows[0].split()[-2]).date() - today).days) <= 1
    assert "$argon2" not in out

    code, out, _ = intake("agents", "list", "--json")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(a["login"], a["name"], a["role"], a["lang"], a["status"]) for a in listed] == [
        ("admin", "Li Na", "lead", "zh", "active"), ("bob", "Bob Chen", "agent", "en",
                                                     "disabled")]
    created = datetime.fromisoformat(listed[0]["created_at"])
    # Local time of the institution (Asia/Shanghai by default), and the right instant.
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 8 * 3600
    assert abs((datetime.now(UTC) - created).total_seconds()) < 600
    assert listed[0]["disabled_at"] is None and listed[1]["disabled_at"] is not None
    assert all("password_hash" not in a for a in listed)


def test_token_is_printed_last_and_kept_only_as_its_sha256(intake: Run, db: Engine,
                                                           database_url: str) -> None:
    intake("agents", "add", "crm-bot", "--name", "CRM", "--role", "agent",
           "--generate-password")
    code, out, err = intake("agents", "token", "crm-bot")
    assert code == 0, err
    first = out.splitlines()[-1]
    assert first.startswith("ik_") and len(first) > 40 and len(out.splitlines()) == 2
    code, out, _ = intake("agents", "token", "crm-bot")
    second = out.splitlines()[-1]
    assert code == 0 and second.startswith("ik_") and second != first

    with db.connect() as conn:
        hashes = set(conn.execute(select(ApiToken.token_hash)).scalars())
    assert hashes == {hashlib.sha256(t.encode()).hexdigest() for t in (first, second)}
    everything = stored(database_url, db)
    assert first.encode() not in everything and second.encode() not in everything
    with Session(db) as session:
        found = store.by_token(session, token_hash(first), datetime.now(UTC))
        assert found is not None and found.login == "crm-bot"
    assert [(a, s) for _, a, s, _ in audit_trail(db)][1:] == [
        ("token_issued", "agent:crm-bot"), ("token_issued", "agent:crm-bot")]
    assert first not in json.dumps(audit_trail(db))


def test_token_for_unknown_or_disabled_agent_is_refused(intake: Run, db: Engine) -> None:
    code, out, err = intake("agents", "token", "nobody")
    assert code == 1 and out == "" and "no agent nobody" in err
    intake("agents", "add", "gone", "--name", "Gone", "--role", "agent", "--generate-password")
    intake("agents", "disable", "gone")
    code, out, err = intake("agents", "token", "gone")
    assert code == 1 and out == "" and "disabled" in err
    with db.connect() as conn:
        assert conn.execute(select(ApiToken)).first() is None


def test_disable_ends_sessions_and_revokes_tokens(intake: Run, db: Engine) -> None:
    intake("agents", "add", "bob", "--name", "Bob", "--role", "agent", "--generate-password")
    intake("agents", "add", "amy", "--name", "Amy", "--role", "agent", "--generate-password")
    token = intake("agents", "token", "bob")[1].splitlines()[-1]
    kept = intake("agents", "token", "amy")[1].splitlines()[-1]
    now = datetime.now(UTC)
    with Session(db) as session, session.begin():
        bob = store.by_login(session, "bob")
        assert bob is not None
        store.start_session(session, bob, token_hash="s" * 64, csrf_token="c", address=None,
                            now=now)

    code, out, err = intake("agents", "disable", "bob")
    assert code == 0, err
    assert out == ("disabled agent bob: 1 session(s) ended, 1 API token(s) revoked, "
                   "0 conversation(s) back in the queue\n")
    found = agent(db, "bob")
    assert found is not None and found.disabled_at is not None
    with Session(db) as session:
        assert store.by_token(session, token_hash(token), datetime.now(UTC)) is None
        assert store.by_token(session, token_hash(kept), datetime.now(UTC)) is not None
        assert session.scalar(select(AgentSession.ended_at)) is not None
        assert session.scalar(select(ApiToken.revoked_at)
                              .where(ApiToken.token_hash == token_hash(token))) is not None

    code, out, _ = intake("agents", "disable", "bob")  # again: nothing left to do
    assert code == 0 and "disabled already" in out
    code, out, err = intake("agents", "disable", "nobody")
    assert code == 1 and out == "" and "no agent nobody" in err
    assert [(a, s, d) for _, a, s, d in audit_trail(db)
            if a == "agent_disabled"] == [("agent_disabled", "agent:bob",
                                           {"sessions_ended": 1, "tokens_revoked": 1,
                                            "conversations_requeued": []})]


def test_every_change_is_audited_without_secrets(intake: Run, db: Engine) -> None:
    intake("agents", "add", "li", "--name", "Li", "--role", "lead", "--password-stdin",
           stdin=PASSWORD)
    token = intake("agents", "token", "li")[1].splitlines()[-1]
    intake("agents", "disable", "li")
    intake("agents", "list")  # reading is not a change
    trail = audit_trail(db)
    assert [(actor, action, subject) for actor, action, subject, _ in trail] == [
        ("cli", "agent_added", "agent:li"), ("cli", "token_issued", "agent:li"),
        ("cli", "agent_disabled", "agent:li")]
    found = agent(db, "li")
    assert found is not None
    written = json.dumps(trail)
    for secret in (PASSWORD, found.password_hash, token, token_hash(token)):
        assert secret not in written
