"""Owner of `agents`, `agent_sessions`, `api_tokens` and `login_attempts`: who may use the
console, their log-ins and tokens. Secrets are kept only as hashes (see bot.console.secrets)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Agent, AgentSession, ApiToken, LoginAttempt

ROLES = ("agent", "lead")
LANGUAGES = ("zh", "en")


class AgentExists(ValueError):
    """The login is taken."""


def add(session: Session, *, login: str, name: str, role: str, lang: str,
        password_hash: str, now: datetime) -> Agent:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    agent = Agent(login=login, name=name, role=role, lang=lang, password_hash=password_hash,
                  created_at=now)
    try:
        with session.begin_nested():
            session.add(agent)
            session.flush()
    except IntegrityError:
        raise AgentExists(f"an agent with login {login!r} exists already") from None
    return agent


def by_login(session: Session, login: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.login == login))


def get(session: Session, agent_id: int) -> Agent | None:
    return session.get(Agent, agent_id)


def all_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.login)))


def active(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.disabled_at.is_(None))
                                .order_by(Agent.name)))


def any_active(session: Session) -> bool:
    """Does this deployment have a team at all (an agent account not disabled)?"""
    return session.scalar(select(Agent.id).where(Agent.disabled_at.is_(None)).limit(1)) \
        is not None


def disable(session: Session, agent: Agent, now: datetime) -> tuple[int, int]:
    """No more log-ins or API calls: end the sessions, revoke the tokens. How many sessions
    ended and tokens were revoked."""
    agent.disabled_at = agent.disabled_at or now
    ended = session.execute(update(AgentSession).where(AgentSession.agent_id == agent.id,
                                                       AgentSession.ended_at.is_(None))
                            .values(ended_at=now))
    revoked = session.execute(update(ApiToken).where(ApiToken.agent_id == agent.id,
                                                     ApiToken.revoked_at.is_(None))
                              .values(revoked_at=now))
    return ended.rowcount or 0, revoked.rowcount or 0


# ---- sessions ---------------------------------------------------------------------------


def start_session(session: Session, agent: Agent, *, token_hash: str, csrf_token: str,
                  address: str | None, now: datetime) -> AgentSession:
    row = AgentSession(token_hash=token_hash, agent_id=agent.id, csrf_token=csrf_token,
                       address=address, created_at=now, last_seen_at=now, present_at=now)
    session.add(row)
    session.flush()
    return row


def live_session(session: Session, token_hash: str, now: datetime, idle: timedelta,
                 longest: timedelta) -> tuple[AgentSession, Agent] | None:
    """The session and its agent, if the session is neither ended, idle too long, too old
    nor of a disabled agent."""
    row = session.execute(
        select(AgentSession, Agent).join(Agent, AgentSession.agent_id == Agent.id)
        .where(AgentSession.token_hash == token_hash)).first()
    if row is None:
        return None
    found, agent = row
    return (found, agent) if _alive(found, agent, now, idle, longest) else None


def _alive(found: AgentSession, agent: Agent, now: datetime, idle: timedelta,
           longest: timedelta) -> bool:
    return (found.ended_at is None and agent.disabled_at is None
            and found.last_seen_at >= now - idle and found.created_at >= now - longest)


def touch(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(AgentSession).where(AgentSession.id == session_id)
                    .values(last_seen_at=now))


def end_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(AgentSession).where(AgentSession.id == session_id,
                                               AgentSession.ended_at.is_(None))
                    .values(ended_at=now))


def online_ids(session: Session, now: datetime, within: timedelta) -> set[int]:
    """The agents with the console open now."""
    return set(session.scalars(
        select(AgentSession.agent_id).join(Agent, AgentSession.agent_id == Agent.id)
        .where(AgentSession.ended_at.is_(None), AgentSession.present_at >= now - within,
               Agent.disabled_at.is_(None))))


def online(session: Session, now: datetime, within: timedelta) -> int:
    """Agents with the console open: a session seen within `within`."""
    return session.scalar(
        select(func.count(func.distinct(AgentSession.agent_id)))
        .join(Agent, AgentSession.agent_id == Agent.id)
        .where(AgentSession.ended_at.is_(None), AgentSession.present_at >= now - within,
               Agent.disabled_at.is_(None))) or 0


# ---- API tokens -------------------------------------------------------------------------


def add_token(session: Session, agent: Agent, token_hash: str, now: datetime) -> ApiToken:
    token = ApiToken(token_hash=token_hash, agent_id=agent.id, created_at=now)
    session.add(token)
    session.flush()
    return token


def by_token(session: Session, token_hash: str, now: datetime) -> Agent | None:
    """The active agent this API token belongs to; its use is noted (at most once a minute)."""
    row = session.execute(
        select(ApiToken, Agent).join(Agent, ApiToken.agent_id == Agent.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None),
               Agent.disabled_at.is_(None))).first()
    if row is None:
        return None
    token, agent = row
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        token.last_used_at = now
    return agent


# ---- log-in attempts --------------------------------------------------------------------


def record_attempt(session: Session, login: str, address: str, ok: bool,
                   now: datetime) -> int:
    attempt = LoginAttempt(login=login[:64], address=address[:64], ok=ok, at=now)
    session.add(attempt)
    session.flush()
    return attempt.id


def attempt_succeeded(session: Session, attempt_id: int) -> None:
    session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(ok=True))


def failures(session: Session, *, since: datetime, login: str | None = None,
             address: str | None = None) -> int:
    """Failed attempts since `since` (and since the last success of that login)."""
    query = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ok.is_(False), LoginAttempt.at >= since)
    if login is not None:
        last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(
            LoginAttempt.login == login, LoginAttempt.ok.is_(True)))
        query = query.where(LoginAttempt.login == login)
        if last_ok is not None and last_ok > since:
            query = query.where(LoginAttempt.at > last_ok)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return session.scalar(query) or 0


def last_failure(session: Session, login: str) -> datetime | None:
    return session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.login == login, LoginAttempt.ok.is_(False)))


def present(session: Session, session_id: int, now: datetime, idle: timedelta,
            longest: timedelta) -> bool:
    """The console of this session is open now (its agent is online), if the session is
    still live; False if it is not. Presence does not keep an idle session alive."""
    row = session.execute(
        select(AgentSession, Agent).join(Agent, AgentSession.agent_id == Agent.id)
        .where(AgentSession.id == session_id)).first()
    if row is None:
        return False
    found, agent = row
    if not _alive(found, agent, now, idle, longest):
        return False
    found.present_at = now
    return True


# ---- availability (automatic assignment deals cases to available agents) ----------------


def set_available(session: Session, agent_id: int, available: bool) -> bool | None:
    """Mark the agent available or not; what it was before (None: no such agent)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return None
    before = bool(agent.available)
    agent.available = available
    return before


def available(session: Session) -> list[Agent]:
    """Enabled agents marked available, by id."""
    return list(session.scalars(select(Agent).where(Agent.available.is_(True),
                                                    Agent.disabled_at.is_(None))
                                .order_by(Agent.id)))
