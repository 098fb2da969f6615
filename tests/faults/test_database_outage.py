"""The store goes away: refused, stalled, locked. Requests are answered 503 in bounded time,
never 500 and never a hang, and the service recovers as soon as the store is back.

PostgreSQL is reached through `TcpProxy` (tests/faults/tcp_proxy.py), which the tests switch
between forwarding, refusing (connections reset, new ones refused) and stalling (connections
open, no byte moving). The service runs in-process under uvicorn, as in tests/service.

Each outage test prints one summary line (``FAULT <case>: ...``) with what it measured: the
time to a 503, /healthz's time, the recovery time (from the store's return to the first 200)
and the messages acknowledged and stored.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.settings import Settings
from bot.store.models import Message
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.tcp_proxy import Mode, TcpProxy
from tests.service.conftest import LiveServer, start_server, stop_server

CONNECT_TIMEOUT = 1.0  # INTAKE_DB_CONNECT_TIMEOUT_SECONDS in these tests
DB_TIMEOUT = 2.0  # INTAKE_DB_TIMEOUT_SECONDS in these tests
ANSWER_BOUND = DB_TIMEOUT + 1.0  # a message is answered (503) within this during an outage
HEALTH_BOUND = 2.0  # /healthz answers (503) within this during an outage
RECOVERY_BOUND = 2.0  # the first 200 comes this soon after the store is back
HTTP_TIMEOUT = 15.0  # any HTTP call that takes longer counts as a hang
RECOVERY_GIVE_UP = 10.0  # resending stops after this long without a 200

OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")
OPENING_EN = "My card was charged twice for the same purchase of 300 yuan yesterday."
FOLLOW_UP = "我叫张伟，电话13912345678"

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = "fault-hook_secret"


# ---- helpers ------------------------------------------------------------------------------


def outage_settings(database_url: str, **extra: Any) -> Settings:
    return Settings(database_url=database_url, db_connect_timeout_seconds=CONNECT_TIMEOUT,
                    db_timeout_seconds=DB_TIMEOUT, outbox_poll_seconds=0.1, _env_file=None,
                    **extra)


@contextlib.contextmanager
def serving(settings: Settings, proxy: TcpProxy | None = None) -> Iterator[LiveServer]:
    """The service on `settings` (migrated at start, so the store must answer then)."""
    live, server, thread = start_server(settings)
    try:
        yield live
    finally:
        if proxy is not None:
            proxy.forward()  # whatever hangs on the store finishes, so the service can stop
        stop_server(server, thread)


@contextlib.contextmanager
def summary(case: str, capsys: pytest.CaptureFixture[str]) -> Iterator[dict[str, object]]:
    """Figures the test fills in; printed as one line at the end, even when it fails."""
    figures: dict[str, object] = {}
    try:
        yield figures
    finally:
        parts = [f"{key}={value:.2f}s" if isinstance(value, float) else f"{key}={value}"
                 for key, value in figures.items()]
        with capsys.disabled():
            print(f"\nFAULT {case}: " + " ".join(parts))


def visitor() -> str:
    return secrets.token_urlsafe(16)


def pg_connect(database_url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    url = make_url(database_url)
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                           user=url.username, password=url.password, dbname=url.database,
                           autocommit=autocommit, connect_timeout=5)


def target_of(database_url: str) -> tuple[str, int]:
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 5432


@dataclass
class Sent:
    """One POST of a web chat message and how it was answered."""

    visitor_id: str
    client_message_id: str
    text: str
    status: int
    seconds: float
    response: httpx.Response

    def describe(self) -> str:
        return (f"{self.client_message_id}: {self.status} after {self.seconds:.2f}s, "
                f"headers {dict(self.response.headers)}, body {self.response.text[:300]!r}")


@dataclass
class Ledger:
    """Every web chat message sent, whether it was acknowledged (200), and the 503s seen."""

    live: LiveServer
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> visitor, text
    acknowledged: set[str] = field(default_factory=set)
    unavailable: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, visitor_id: str, text: str, client_message_id: str | None = None) -> Sent:
        message_id = client_message_id or f"m-{secrets.token_hex(8)}"
        with self._lock:
            self.messages.setdefault(message_id, (visitor_id, text))
        body = {"visitor_id": visitor_id, "text": text, "client_message_id": message_id}
        started = time.monotonic()
        try:
            response = httpx.post(f"{self.live.url}/channels/webchat/messages", json=body,
                                  timeout=HTTP_TIMEOUT)
        except httpx.TimeoutException:
            pytest.fail(f"message {message_id} got no answer within {HTTP_TIMEOUT}s: it hung")
        sent = Sent(visitor_id, message_id, text, response.status_code,
                    time.monotonic() - started, response)
        assert sent.status != 500, f"a 500: {sent.describe()}"
        with self._lock:
            if sent.status == 200:
                self.acknowledged.add(message_id)
            elif sent.status == 503:
                self.unavailable += 1
        return sent

    def post_many(self, items: list[tuple[str, str]]) -> list[Sent]:
        """Messages (visitor, text) sent at the same time, one connection each."""
        with ThreadPoolExecutor(len(items)) as pool:
            futures = [pool.submit(self.post, v, t) for v, t in items]
            return [f.result(timeout=HTTP_TIMEOUT + 5) for f in futures]

    def resend(self, sent: Sent) -> Sent:
        return self.post(sent.visitor_id, sent.text, sent.client_message_id)

    def resend_until_ok(self, sent: Sent, since: float) -> tuple[Sent, float]:
        """Resend until 200 (503s meanwhile are fine); the seconds from `since` to the 200."""
        while True:
            again = self.resend(sent)
            if again.status == 200:
                return again, time.monotonic() - since
            assert again.status == 503, f"while recovering: {again.describe()}"
            if time.monotonic() - since > RECOVERY_GIVE_UP:
                pytest.fail(f"no 200 within {RECOVERY_GIVE_UP}s of the store's return: "
                            f"{again.describe()}")
            time.sleep(0.05)

    def stored(self, database_url: str, channel: str = "webchat") -> dict[str, int]:
        """Inbound rows of `channel` in the store, by message id (read directly)."""
        engine = create_engine(database_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Message.external_id, func.count())
                    .where(Message.channel == channel, Message.direction == "in")
                    .group_by(Message.external_id)).all()
        finally:
            engine.dispose()
        # The stored id may carry a per-visitor prefix ("<visitor key>:<client_message_id>");
        # the ids sent here contain no ':'.
        counts: dict[str, int] = {}
        for external_id, n in rows:
            key = str(external_id).rsplit(":", 1)[-1] if channel == "webchat" else str(external_id)
            counts[key] = counts.get(key, 0) + int(n)
        return counts

    def assert_stored_once(self, database_url: str, figures: dict[str, object]) -> None:
        """Every message sent was acknowledged in the end, and each is stored exactly once."""
        stored = self.stored(database_url)
        figures["acknowledged"] = len(self.acknowledged)
        figures["stored"] = sum(stored.values())
        figures["unacknowledged"] = len(set(self.messages) - self.acknowledged)
        assert self.acknowledged == set(self.messages), "some message never got a 200"
        assert stored == dict.fromkeys(self.messages, 1), "not every message stored once"


def assert_unavailable(sent: Sent, bound: float = ANSWER_BOUND) -> None:
    """A 503 with Retry-After (integer seconds) and a JSON detail, within `bound` seconds."""
    response = sent.response
    assert sent.status == 503, f"expected 503 during the outage: {sent.describe()}"
    assert sent.seconds <= bound, f"503 took longer than {bound}s: {sent.describe()}"
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit(), f"Retry-After must be integer seconds: {sent.describe()}"
    assert response.headers.get("content-type", "").startswith("application/json")
    detail = response.json().get("detail")
    assert isinstance(detail, str) and detail, f"no detail: {sent.describe()}"


def assert_acknowledged(sent: Sent) -> None:
    assert sent.status == 200, sent.describe()
    replies = sent.response.json()["replies"]
    assert replies and all(r["text"] for r in replies), f"no replies: {sent.describe()}"


def health(live: LiveServer) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    try:
        response = httpx.get(f"{live.url}/healthz", timeout=HTTP_TIMEOUT)
    except httpx.TimeoutException:
        pytest.fail(f"/healthz got no answer within {HTTP_TIMEOUT}s: it hung")
    return response, time.monotonic() - started


def assert_health_unavailable(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, f"/healthz: {response.status_code} {response.text}"
    assert seconds <= HEALTH_BOUND, f"/healthz took {seconds:.2f}s"
    assert response.json()["status"] != "ok"


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(target_of(database_url)) as tcp:
        yield tcp


@pytest.fixture
def background() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


def within(seconds: float, predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ---- the proxy itself ---------------------------------------------------------------------


@POSTGRESQL
def test_proxy_forwards_real_queries(database_url, proxy):
    with pg_connect(proxy.url_for(database_url), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        big = "x" * 3_000_000  # many chunks each way, through flow control
        assert conn.execute("SELECT length(%s::text), %s::text", (big, big)).fetchone() == (
            len(big), big)
        assert proxy.open_connections == 1
    assert within(2, lambda: proxy.open_connections == 0)
    assert proxy.accepted == 1 and proxy.mode is Mode.FORWARD


@POSTGRESQL
def test_proxy_refuse_resets_open_connections_and_refuses_new_ones(database_url, proxy):
    url = proxy.url_for(database_url)
    conn = pg_connect(url, autocommit=True)
    try:
        conn.execute("SELECT 1")
        proxy.refuse()
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError, match="refused"):
            pg_connect(url)  # connect_timeout 5: it must fail at once, not time out
        assert time.monotonic() - started < 1.0
    finally:
        conn.close()
    proxy.forward()  # the same port listens again
    with pg_connect(url, autocommit=True) as again:
        assert again.execute("SELECT 2").fetchone() == (2,)


@POSTGRESQL
def test_proxy_stall_holds_bytes_until_forward(database_url, proxy, background):
    url = proxy.url_for(database_url)
    with pg_connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        proxy.stall()
        query: Future[Any] = background.submit(lambda: conn.execute("SELECT 42").fetchone())

        def connect_and_query() -> Any:
            with pg_connect(url, autocommit=True) as fresh:
                return fresh.execute("SELECT 43").fetchone()

        connecting: Future[Any] = background.submit(connect_and_query)
        time.sleep(1.5)
        assert not query.done() and not connecting.done(), "bytes moved while stalled"
        assert proxy.accepted == 2
        with pytest.raises(psycopg.errors.ConnectionTimeout):
            with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2):
                pass  # a new connection cannot complete its start-up while stalled
        proxy.forward()
        assert query.result(timeout=5) == (42,)
        assert connecting.result(timeout=5) == (43,)
        assert conn.execute("SELECT 44").fetchone() == (44,)


@POSTGRESQL
def test_proxy_refuse_while_stalled_resets_the_stalled(database_url, proxy, background):
    url = proxy.url_for(database_url)
    conn = pg_connect(url, autocommit=True)
    try:
        proxy.stall()
        query: Future[Any] = background.submit(lambda: conn.execute("SELECT 1").fetchone())
        time.sleep(0.3)
        assert not query.done()
        proxy.refuse()
        with pytest.raises(psycopg.OperationalError):
            query.result(timeout=5)
    finally:
        conn.close()
    proxy.forward()
    with pg_connect(url, autocommit=True) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


# ---- PostgreSQL outages -------------------------------------------------------------------


@POSTGRESQL
def test_refused_database_answers_503_then_recovers(database_url, proxy, capsys):
    with summary("postgresql refused", capsys) as figures, \
            serving(outage_settings(proxy.url_for(database_url)), proxy) as live:
        ledger = Ledger(live)
        a, b, c = visitor(), visitor(), visitor()
        assert_acknowledged(ledger.post(a, OPENING))
        assert_acknowledged(ledger.post(b, OPENING_EN))

        proxy.refuse()
        during = ledger.post_many([(a, FOLLOW_UP), (c, OPENING)])
        during.append(ledger.post(b, "still there?"))  # the pool has seen the failure by now
        for sent in during:
            assert_unavailable(sent)
        figures["to_503"] = max(s.seconds for s in during)
        figures["retry_after"] = during[0].response.headers.get("retry-after")
        response, seconds = health(live)
        figures["healthz"] = seconds
        assert_health_unavailable(response, seconds)

        proxy.forward()
        back = time.monotonic()
        first, recovery = ledger.resend_until_ok(during[0], back)
        figures["recovery"] = recovery
        assert_acknowledged(first)
        assert recovery <= RECOVERY_BOUND, f"first 200 only {recovery:.2f}s after the return"
        for sent in during[1:]:
            assert_acknowledged(ledger.resend(sent))
        assert_acknowledged(ledger.post(c, FOLLOW_UP))
        response, _ = health(live)
        assert response.status_code == 200, response.text
        ledger.assert_stored_once(database_url, figures)
        figures["503s"] = ledger.unavailable


@POSTGRESQL
def test_stalled_database_answers_503_then_recovers(database_url, proxy, background, capsys):
    """A stall catches one request mid-query (its conversation row was locked, so it waits
    inside PostgreSQL when the network freezes), others on pooled connections (the pool's
    ping hangs) and on new connections (the start-up hangs)."""
    with summary("postgresql stalled", capsys) as figures, \
            serving(outage_settings(proxy.url_for(database_url)), proxy) as live:
        ledger = Ledger(live)
        a, b, c, d = visitor(), visitor(), visitor(), visitor()
        assert_acknowledged(ledger.post(a, OPENING))
        assert_acknowledged(ledger.post(b, OPENING_EN))

        with pg_connect(database_url) as locker, \
                pg_connect(database_url, autocommit=True) as watcher:
            row = locker.execute(
                "SELECT c.id FROM conversations c JOIN channel_identities i "
                "ON c.identity_id = i.id WHERE i.channel = 'webchat' AND i.external_id = %s "
                "FOR UPDATE OF c", (a,)).fetchone()
            assert row is not None, "visitor a has no conversation row to lock"
            mid_query: Future[Sent] = background.submit(ledger.post, a, FOLLOW_UP)

            def waiting_on_lock() -> bool:
                found = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> %s",
                    (locker.info.backend_pid,)).fetchone()
                return bool(found and found[0])

            assert within(3, waiting_on_lock), "the request never waited on the row lock"
            proxy.stall()
            locker.commit()  # PostgreSQL answers the waiting query; the proxy holds it

        during = ledger.post_many([(b, "still there?"), (c, OPENING), (d, OPENING_EN)])
        response, seconds = health(live)
        first = mid_query.result(timeout=HTTP_TIMEOUT + 5)
        figures["to_503_mid_query"] = first.seconds
        assert_unavailable(first)
        for sent in during:
            assert_unavailable(sent)
        figures["to_503"] = max(s.seconds for s in during)
        figures["healthz"] = seconds
        assert_health_unavailable(response, seconds)

        proxy.forward()
        back = time.monotonic()
        recovered, recovery = ledger.resend_until_ok(during[0], back)
        figures["recovery"] = recovery
        assert_acknowledged(recovered)
        assert recovery <= RECOVERY_BOUND, f"first 200 only {recovery:.2f}s after the return"
        # The mid-query message may have been committed once its connection moved again:
        # the resend then finds it stored and gets its replies.
        resent = ledger.resend(first)
        figures["mid_query_resend_duplicate"] = resent.response.json().get("duplicate")
        assert_acknowledged(resent)
        for sent in during[1:]:
            assert_acknowledged(ledger.resend(sent))
        assert_acknowledged(ledger.post(d, FOLLOW_UP))
        response, _ = health(live)
        assert response.status_code == 200, response.text
        ledger.assert_stored_once(database_url, figures)
        figures["503s"] = ledger.unavailable


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:FAULT-token") as fake:
        yield fake


def hook(live: LiveServer, update: dict[str, Any]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    try:
        response = httpx.post(f"{live.url}/channels/telegram/webhook", json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                              timeout=HTTP_TIMEOUT)
    except httpx.TimeoutException:
        pytest.fail(f"the webhook call got no answer within {HTTP_TIMEOUT}s: it hung")
    return response, time.monotonic() - started


@POSTGRESQL
def test_telegram_webhook_during_an_outage_gets_503(database_url, proxy, tg, capsys):
    """Telegram redelivers an update its webhook did not accept: a 503 (not a 500) during
    the outage, then the redelivery is stored once and answered through the outbox."""
    settings = outage_settings(proxy.url_for(database_url), telegram_token=tg.token,
                               telegram_api_base=tg.base_url, telegram_webhook_secret=SECRET)
    with summary("telegram webhook", capsys) as figures, serving(settings, proxy) as live:
        response, _ = hook(live, tg.text_update(7001, "我要投诉！", push=False))
        assert response.status_code == 200, response.text
        tg.wait_for_sent(1, timeout=10)

        outage_updates = []
        for chat, mode in ((7002, proxy.refuse), (7003, proxy.stall)):
            mode()
            update = tg.text_update(chat, OPENING, push=False)
            response, seconds = hook(live, update)
            figures[f"to_503_{proxy.mode.value}"] = seconds
            assert response.status_code != 500, f"a 500: {response.text[:300]}"
            assert response.status_code == 503, f"{response.status_code}: {response.text}"
            assert seconds <= ANSWER_BOUND, f"503 after {seconds:.2f}s"
            outage_updates.append(update)

        proxy.forward()
        back = time.monotonic()
        recovery = None
        for update in outage_updates:
            while True:
                response, _ = hook(live, update)
                if response.status_code == 200:
                    break
                assert response.status_code == 503, f"{response.status_code}: {response.text}"
                assert time.monotonic() - back < RECOVERY_GIVE_UP, "no 200 after the return"
                time.sleep(0.05)
            if recovery is None:
                recovery = time.monotonic() - back
                figures["recovery"] = recovery
        assert recovery is not None and recovery <= RECOVERY_BOUND
        sent = tg.wait_for_sent(3, timeout=10)  # the outbox dispatcher outlived the outage
        assert {7001, 7002, 7003} <= {int(s["chat_id"]) for s in sent}
        stored = Ledger(live).stored(database_url, channel="telegram")
        figures["acknowledged"] = 3
        figures["stored"] = sum(stored.values())
        assert sorted(stored.values()) == [1, 1, 1], stored


# ---- SQLite: another writer holds the lock ------------------------------------------------


@contextlib.contextmanager
def write_lock(database_url: str) -> Iterator[Callable[[], None]]:
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE); call to release."""
    path = make_url(database_url).database
    assert path
    conn = sqlite3.connect(path, timeout=1, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            conn.execute("ROLLBACK")
            conn.close()

    try:
        yield release
    finally:
        release()


@SQLITE
def test_sqlite_write_lock_longer_than_db_timeout_answers_503(database_url, capsys):
    with summary("sqlite locked", capsys) as figures, \
            serving(outage_settings(database_url)) as live:
        ledger = Ledger(live)
        a = visitor()
        assert_acknowledged(ledger.post(a, OPENING))

        with write_lock(database_url) as release:
            locked_at = time.monotonic()
            blocked = ledger.post(a, FOLLOW_UP)
            figures["to_503"] = blocked.seconds
            assert_unavailable(blocked)
            response, seconds = health(live)
            figures["healthz"] = seconds
            figures["healthz_status"] = response.status_code
            # Readers need not wait for a writer; either way: no 500, no hang.
            assert response.status_code in (200, 503), response.text
            assert seconds <= ANSWER_BOUND
            assert time.monotonic() - locked_at > DB_TIMEOUT  # held longer than db_timeout
            release()
            back = time.monotonic()
            recovered, recovery = ledger.resend_until_ok(blocked, back)
        figures["recovery"] = recovery
        assert_acknowledged(recovered)
        assert recovery <= RECOVERY_BOUND
        assert_acknowledged(ledger.post(a, "我的银行卡号不记得了"))
        ledger.assert_stored_once(database_url, figures)


@SQLITE
def test_sqlite_write_lock_each_waiting_writer_is_bounded(database_url, capsys):
    """Writers queued behind the locked one do not add up their waits: each is answered
    within db_timeout + 1 s of its own arrival."""
    with summary("sqlite locked, concurrent", capsys) as figures, \
            serving(outage_settings(database_url)) as live:
        ledger = Ledger(live)
        visitors = [visitor() for _ in range(3)]
        assert_acknowledged(ledger.post(visitors[0], OPENING))

        with write_lock(database_url) as release:
            during = ledger.post_many([(v, OPENING_EN) for v in visitors])
            figures["to_503"] = max(s.seconds for s in during)
            for sent in during:
                assert_unavailable(sent)
            release()
            back = time.monotonic()
            recovered, recovery = ledger.resend_until_ok(during[0], back)
        figures["recovery"] = recovery
        assert_acknowledged(recovered)
        assert recovery <= RECOVERY_BOUND
        for sent in during[1:]:
            assert_acknowledged(ledger.resend(sent))
        ledger.assert_stored_once(database_url, figures)

