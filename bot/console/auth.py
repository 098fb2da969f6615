"""Who is at the console: log-in (argon2 passwords, limited attempts), the session cookie
and its CSRF token, and API tokens for `/api/v1`.

Sessions live in the store (any service process can check them; disabling an agent ends
them at once); the cookie holds a random token the store keeps only as its SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from ..store import agents, audit
from . import secrets
from .rules import Actor

COOKIE = "intake_console"
CSRF_HEADER = "x-csrf-token"
LOCK_AFTER = 10  # wrong passwords for one login within the lock window
ADDRESS_LIMIT = 50  # failed log-ins from one address within the lock window
TOUCH_EVERY = timedelta(seconds=30)  # how often a session's last use is written down


@dataclass(frozen=True)
class Seat:
    """A live console session: the agent and the session's CSRF token."""

    actor: Actor
    session_id: int
    csrf: str


class LoginRefused(Exception):
    def __init__(self, code: str, status: int, minutes: int = 0) -> None:
        super().__init__(code)
        self.code, self.status, self.minutes = code, status, minutes


def address_of(conn: HTTPConnection) -> str:
    return (conn.client.host if conn.client else "unknown")[:64]


def log_in(sessions: sessionmaker[Session], login: str, password: str, address: str,
           lock: timedelta, now: datetime | None = None) -> tuple[str, Actor]:
    """Check the password; a new session's cookie token and the agent. Raises LoginRefused
    (401 wrong login or password, 429 locked)."""
    now = now or datetime.now(UTC)
    login = login.strip().lower()[:64]
    since = now - lock
    minutes = max(1, int(lock.total_seconds() // 60))
    # Each refusal is written down before it is raised: raising inside the transaction
    # would roll back the very attempt that must count.
    # The attempt counts as failed from the start and turns into a success only once the
    # password checked out: parallel guesses each see the others, and none slips past the
    # limit while the slow hash runs.
    with sessions.begin() as session:
        locked = agents.failures(session, since=since, address=address) >= ADDRESS_LIMIT or \
            agents.failures(session, since=since, login=login) >= LOCK_AFTER
        if locked:
            audit.record(session, actor=f"login:{login}", action="login_locked",
                         subject=f"agent:{login}", now=now, address=address)
        else:
            attempt = agents.record_attempt(session, login, address, False, now)
        agent = agents.by_login(session, login)
        stored = agent.password_hash if agent is not None else None
        usable = agent is not None and agent.disabled_at is None
    if locked:
        raise LoginRefused("locked", 429, minutes)
    # The slow hash runs outside any transaction (no lock held meanwhile).
    ok = secrets.check_password(stored, password) and usable
    with sessions.begin() as session:
        if ok:
            agents.attempt_succeeded(session, attempt)
        if not ok or agent is None:
            audit.record(session, actor=f"login:{login}", action="login_failed",
                         subject=f"agent:{login}", now=now, address=address)
            locked = agents.failures(session, since=since, login=login) >= LOCK_AFTER
            token = None
        else:
            token = secrets.new_token()
            agents.start_session(session, agent, token_hash=secrets.token_hash(token),
                                 csrf_token=secrets.new_token(), address=address, now=now)
            audit.record(session, actor=f"agent:{agent.login}", action="login",
                         subject=f"agent:{agent.login}", now=now, address=address)
            actor = Actor(agent.id, agent.login, agent.name, agent.role, agent.lang)
    if token is None:
        raise LoginRefused("locked", 429, minutes) if locked else LoginRefused("bad_login", 401)
    return token, actor


def seat(sessions: sessionmaker[Session], token: str | None, idle: timedelta,
         longest: timedelta, now: datetime | None = None, touch: bool = True) -> Seat | None:
    """The live session the cookie names, noting its use (`touch`: a person acted, not a
    page refreshing itself, which must not keep an unattended console signed in); None if
    there is none."""
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(UTC)
    with sessions.begin() as session:
        found = agents.live_session(session, secrets.token_hash(token), now, idle, longest)
        if found is None:
            return None
        row, agent = found
        if touch and now - row.last_seen_at >= TOUCH_EVERY:
            agents.touch(session, row.id, now)
        return Seat(Actor(agent.id, agent.login, agent.name, agent.role, agent.lang), row.id,
                    row.csrf_token)


def log_out(sessions: sessionmaker[Session], seat_: Seat, address: str) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        agents.end_session(session, seat_.session_id, now)
        audit.record(session, actor=seat_.actor.label, action="logout",
                     subject=seat_.actor.label, now=now, address=address)


def still_here(sessions: sessionmaker[Session], seat_: Seat, idle: timedelta,
               longest: timedelta) -> bool:
    """An open live connection reports in: its agent counts as online; False when the
    session ended meanwhile (log-out, idle, disabled, too old)."""
    with sessions.begin() as session:
        return agents.present(session, seat_.session_id, datetime.now(UTC), idle,
                                    longest)


def bearer(sessions: sessionmaker[Session], header: str | None) -> Actor | None:
    """The agent an `Authorization: Bearer <token>` header names, if the token is live."""
    if not header or not header.lower().startswith("bearer "):
        return None
    token = header[7:].strip()
    if not token.startswith(secrets.API_PREFIX) or len(token) > 200:
        return None
    now = datetime.now(UTC)
    with sessions.begin() as session:
        agent = agents.by_token(session, secrets.token_hash(token), now)
        if agent is None:
            return None
        return Actor(agent.id, agent.login, agent.name, agent.role, agent.lang)
