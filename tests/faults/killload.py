"""What the kill -9 and duplicate storm tests share.

* `ServiceProcess`: the real service (`python -m bot.cli serve`) as a child process on a fixed
  port, started, SIGKILLed and restarted on the same database;
* scripted customers: a web chat customer who answers what `waiting_for` asks, and a Telegram
  customer who posts updates to the webhook (resending the same update until it gets 200, as
  Telegram does) and paces itself on the replies the fake Bot API receives;
* `check_store`: what the database must hold afterwards, whatever happened on the way.

Only 127.0.0.1 is ever contacted, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import socket
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.common import Server, child_env, free_port, healthz
from bot.store.db import make_engine
from bot.store.models import Case, CaseCounter, Message, OutboxItem
from bot.store.outbox import LEASE
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
CASE_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{8}-\d{4,}(?!\d)")
WEBCHAT_PATH = "/channels/webchat/messages"
TELEGRAM_PATH = "/channels/telegram/webhook"
TG_TOKEN = "424242:FAULT-suite_token"
TG_SECRET = "fault-suite_hook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

START_TIMEOUT = 30.0  # seconds for the service to answer /healthz after a (re)start
REQUEST_TIMEOUT = 15.0  # one HTTP request
ACK_TIMEOUT = 40.0  # one message, resent until acknowledged (a restart included)
RETRY_PAUSES = (0.1, 0.2, 0.4, 0.5)  # between two sends of the same message (then the last)
MAX_TURNS = 14  # a web chat dialogue that needs more is broken
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}  # dropped: local only

# Web chat client message ids: fixed shape, so the stored external id (which may be prefixed
# by the visitor) ends with it and nothing else does.
_CMID = re.compile(r"(fk[0-9a-f]{12}x\d{3})$")
# Telegram message external ids end with "<chat id>:<message id>".
_TG_ID = re.compile(r"(\d+:\d+)$")


# --------------------------------------------------------------------------- the service


def port_refuses(port: int) -> bool:
    """True when nothing accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


class ServiceProcess:
    """`python -m bot.cli serve` (one process: uvicorn runs in it, no wrapper) on one port and
    one database, restartable; bench's `Server` runs it. Every start appends to one log."""

    def __init__(self, database_url: str, workdir: Path,
                 extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in child_env().items()
               if not k.startswith("INTAKE_") and k.lower() not in _PROXY_VARS}
        env.update(INTAKE_DATABASE_URL=database_url, INTAKE_OUTBOX_POLL_SECONDS="0.1",
                   INTAKE_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port)]
        # The work directory, not the project's: a developer's .env must not reach it.
        self.server = Server("intake serve", argv, env, workdir / "service.log", cwd=workdir)
        self.ready_seconds: list[float] = []  # spawn -> /healthz 200, per start
        self.kills = 0
        self.kill_times: list[float] = []  # monotonic
        self.kill_clock: list[datetime] = []  # the same, on the store's clock (UTC)

    async def start(self) -> float:
        """Spawn and wait for /healthz 200 (off the event loop); the seconds it took."""
        proc = self.server.proc
        assert proc is None or proc.poll() is not None, "already running"
        started = time.monotonic()
        await asyncio.to_thread(self.server.start, healthz(self.port), START_TIMEOUT)
        took = time.monotonic() - started
        self.ready_seconds.append(took)
        return took

    def kill9(self) -> None:
        """SIGKILL the server process itself and make sure the port is dead."""
        proc = self.server.proc
        assert proc is not None and proc.poll() is None, "the service is not running"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"bot.cli" in cmdline and b"serve" in cmdline, cmdline  # the server, no shell
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        self.kills += 1
        self.kill_times.append(time.monotonic())
        self.kill_clock.append(datetime.now(UTC))
        assert port_refuses(self.port), "something still listens after the kill"

    def stop(self) -> None:
        """A graceful stop (SIGTERM), SIGKILL of its group if it hangs; idempotent."""
        self.server.stop()

    def tail(self, lines: int = 40) -> str:
        return self.server.tail(lines)


def http_client(connections: int = 64) -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT,
                             limits=httpx.Limits(max_connections=connections,
                                                 max_keepalive_connections=connections))


def telegram_env(tg: FakeTelegram) -> dict[str, str]:
    return {"INTAKE_TELEGRAM_TOKEN": tg.token, "INTAKE_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "INTAKE_TELEGRAM_API_BASE": tg.base_url}


# --------------------------------------------------------------------------- customers


NAMES = ("张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴霞", "徐明",
         "孙丽")
PLACES = ("南山支行", "福田支行", "罗湖支行", "宝安支行")
DAYS = ("昨天下午", "前天上午", "昨天晚上", "前天下午")
RESOLUTION = "请把钱退给我"
CONFIRM = "确认"


@dataclass(frozen=True)
class Persona:
    """One customer's complaint: an ATM that kept the cash but debited the card."""

    name: str
    phone: str
    day: str
    place: str
    amount: int
    style: int  # 0: everything in the opening; 1: some; 2: almost nothing

    @classmethod
    def draw(cls, rng: random.Random, style: int | None = None) -> Persona:
        phone = "139" + "".join(rng.choice("0123456789") for _ in range(8))
        return cls(rng.choice(NAMES), phone, rng.choice(DAYS), rng.choice(PLACES),
                   rng.randint(2, 90) * 100, rng.randrange(3) if style is None else style)

    def opening(self) -> str:
        if self.style == 0:
            return (f"我是{self.name}，手机{self.phone}。{self.day}在你们{self.place}的ATM取款"
                    f"{self.amount}元，钱没吐出来但是卡里扣了。")
        if self.style == 1:
            return f"我要投诉，{self.day}在{self.place}的ATM取款{self.amount}元没出钞，卡里却扣了钱"
        return "你们的ATM吞了我的钱，我要投诉！"

    def answer(self, slot: str | None) -> str:
        return {"name": self.name, "phone": self.phone, "incident_time": self.day,
                "amount": f"{self.amount}元", "resolution": RESOLUTION, "business": "银行卡",
                "branch": self.place, "description": "ATM取款没出钞但是卡里扣了钱",
                "confirm": CONFIRM}.get(slot or "", "不知道")

    def telegram_script(self) -> list[str]:
        """A style-0 opening leaves only the resolution to ask, then the confirmation."""
        assert self.style == 0
        return [self.opening(), RESOLUTION, CONFIRM]


@dataclass
class Played:
    """One dialogue as the client lived it."""

    channel: str
    user: str  # visitor id or chat id
    keys: list[str] = field(default_factory=list)  # message keys acknowledged, in order
    texts: list[str] = field(default_factory=list)
    replies: list[list[dict[str, Any]]] = field(default_factory=list)  # web chat responses
    case_number: str | None = None
    complete: bool = False  # the script ran to its end (web chat: the case number came)
    sends: int = 0  # requests made, resends included
    reply_timeouts: int = 0  # Telegram: turns that went on without seeing a reply
    replays: int = 0  # web chat: acknowledgements that said "duplicate" (stored before)


class NotAcknowledged(AssertionError):
    pass


async def post_until_ack(client: httpx.AsyncClient, url: str, body: dict[str, Any],
                         headers: dict[str, str] | None = None,
                         timeout: float = ACK_TIMEOUT) -> tuple[httpx.Response, int]:
    """POST `body` until a 200 arrives; resend the same body after a connection error or a
    5xx. Anything else fails. (response, sends)."""
    deadline = time.monotonic() + timeout
    sends = 0
    last = ""
    while time.monotonic() < deadline:
        sends += 1
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return response, sends
            if response.status_code < 500:
                raise NotAcknowledged(f"{url} answered {response.status_code} "
                                      f"{response.text[:300]} to {body}")
            last = f"HTTP {response.status_code} {response.text[:200]}"
        await asyncio.sleep(RETRY_PAUSES[min(sends, len(RETRY_PAUSES)) - 1])
    raise NotAcknowledged(f"not acknowledged within {timeout:.0f} s after {sends} sends "
                          f"(last: {last}): {body}")


def new_visitor() -> str:
    return secrets.token_urlsafe(16)


def new_cmid(prefix: str, turn: int) -> str:
    return f"{prefix}x{turn:03d}"


async def webchat_dialogue(client: httpx.AsyncClient, base_url: str, persona: Persona,
                           played: Played) -> Played:
    """Play one web chat complaint to its case number, answering what the bot asks.

    `played` is filled as messages are acknowledged (so a failure still leaves a record)."""
    prefix = "fk" + secrets.token_hex(6)
    text = persona.opening()
    for turn in range(MAX_TURNS):
        cmid = new_cmid(prefix, turn)
        body = {"visitor_id": played.user, "text": text, "client_message_id": cmid}
        response, sends = await post_until_ack(client, base_url + WEBCHAT_PATH, body)
        played.sends += sends
        data = response.json()
        played.replays += bool(data.get("duplicate"))
        played.keys.append(cmid)
        played.texts.append(text)
        played.replies.append(data["replies"])
        said = " ".join(r["text"] for r in data["replies"])
        found = CASE_NUMBER.search(said)
        if found:
            played.case_number = found.group(0)
            played.complete = True
            return played
        waiting = data.get("waiting_for")
        if waiting is None:
            raise AssertionError(f"the bot stopped asking without a case number: {said!r}")
        text = persona.answer(waiting)
    raise AssertionError(f"no case number after {MAX_TURNS} turns: {played.texts}")


class SentWatcher:
    """Follows what the fake Bot API has sent, per chat (one poller for all customers)."""

    def __init__(self, tg: FakeTelegram, interval: float = 0.1) -> None:
        self.tg = tg
        self.interval = interval
        self.texts: dict[int, list[str]] = defaultdict(list)
        self._seen = 0
        self._changed = asyncio.Event()

    def poll(self) -> None:
        sent = self.tg.sent
        for entry in sent[self._seen:]:
            self.texts[int(entry["chat_id"])].append(str(entry.get("text", "")))
        if len(sent) > self._seen:
            self._seen = len(sent)
            self._changed.set()

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(self.interval)

    def count(self, chat: int) -> int:
        return len(self.texts.get(chat, ()))

    async def wait_beyond(self, chat: int, seen: int, timeout: float) -> bool:
        """Wait until `chat` got more than `seen` messages; False after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.count(chat) <= seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True


async def telegram_dialogue(client: httpx.AsyncClient, base_url: str, tg: FakeTelegram,
                            watcher: SentWatcher, persona: Persona, played: Played, *,
                            copies: int = 1, reply_wait: float = 4.0,
                            patient: bool = True) -> Played:
    """Post the scripted updates of one chat, each until acknowledged (`copies` at once, all
    of which must be acknowledged). A `patient` customer waits up to `reply_wait` for a reply
    before its next message; an impatient one sends each message on the acknowledgement of
    the one before and then waits (up to `reply_wait` per message) for all the replies.

    The case number is read later from what the fake received (`case_numbers_sent`)."""
    chat = int(played.user)
    headers = {SECRET_HEADER: TG_SECRET}
    script = persona.telegram_script()
    first_seen = watcher.count(chat)
    for text in script:
        update = tg.text_update(chat, text, push=False, first_name="Fault",
                                language_code="zh-hans")
        key = f"{chat}:{update['message']['message_id']}"
        seen = watcher.count(chat)
        results = await asyncio.gather(*(post_until_ack(client, base_url + TELEGRAM_PATH, update,
                                                        headers) for _ in range(copies)))
        played.sends += sum(sends for _, sends in results)
        played.keys.append(key)
        played.texts.append(text)
        if patient and not await watcher.wait_beyond(chat, seen, reply_wait):
            played.reply_timeouts += 1
    if not patient and not await watcher.wait_beyond(chat, first_seen + len(script) - 1,
                                                     reply_wait * len(script)):
        played.reply_timeouts += 1
    played.complete = True
    return played


def case_numbers_sent(watcher: SentWatcher, played: list[Played]) -> None:
    """Set each Telegram dialogue's case number from the texts its chat received."""
    watcher.poll()
    for p in played:
        numbers = {m.group(0) for text in watcher.texts.get(int(p.user), ())
                   for m in CASE_NUMBER.finditer(text)}
        assert len(numbers) <= 1, f"chat {p.user} was told several case numbers: {numbers}"
        p.case_number = next(iter(numbers), None)


# --------------------------------------------------------------------------- the store


Key = tuple[str, str]  # (channel, dialogue user or message key)


@dataclass
class StoreFigures:
    """Per channel: messages acknowledged, inbound rows stored, rows stored beyond one per
    acknowledged message, cases; and what the store got wrong (`problems`)."""

    acknowledged: Counter[str]
    stored: Counter[str]
    duplicates: Counter[str]
    cases: Counter[str]
    conversations: dict[Key, int]  # (channel, dialogue user) -> conversation id
    inbound_ids: dict[Key, int]  # (channel, message key) -> inbound row id
    problems: list[str]

    def assert_sound(self) -> None:
        assert not self.problems, (f"{len(self.problems)} store problems:\n"
                                   + "\n".join(self.problems[:40]))


def _message_key(channel: str, external_id: str | None) -> str | None:
    if external_id is None:
        return None
    match = (_CMID if channel == "webchat" else _TG_ID).search(external_id)
    return match.group(1) if match else None


def check_store(database_url: str, played: list[Played]) -> StoreFigures:
    """What the store holds after `played` (any channels), and its `problems` against what
    it must hold: every acknowledged message stored exactly once, in order, in one
    conversation per dialogue; no other inbound message of those channels; one case per
    dialogue told a case number (that number, in that conversation) and no other case; the
    day counters equal to the cases of each day, numbered without gaps. Call
    `assert_sound()` on the result."""
    channels = sorted({p.channel for p in played})
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            inbound = conn.execute(
                select(Message.id, Message.conversation_id, Message.channel,
                       Message.external_id, Message.text)
                .where(Message.direction == "in", Message.channel.in_(channels))
                .order_by(Message.id)).all()
            cases = conn.execute(select(Case.id, Case.number, Case.conversation_id,
                                        Case.channel)).all()
            counters = conn.execute(select(CaseCounter.day, CaseCounter.last)).all()
    finally:
        engine.dispose()

    problems: list[str] = []
    by_key: dict[Key, list[Any]] = defaultdict(list)
    for row in inbound:
        by_key[(row.channel, _message_key(row.channel, row.external_id) or "")].append(row)
    expected = [(p.channel, k) for p in played for k in p.keys]
    if len(set(expected)) != len(expected):
        problems.append("the client used a message key twice (test bug)")
    conversations: dict[Key, int] = {}
    inbound_ids: dict[Key, int] = {}
    owners: dict[int, Key] = {}
    for p in played:
        who: Key = (p.channel, p.user)
        ids = []
        for key, text in zip(p.keys, p.texts, strict=True):
            rows = by_key.get((p.channel, key), [])
            if len(rows) != 1:
                problems.append(f"{p.channel} message {key} ({text!r}) of {p.user} stored "
                                f"{len(rows)} times")
                continue
            row = rows[0]
            inbound_ids[(p.channel, key)] = row.id
            ids.append(row.id)
            if row.text != text:
                problems.append(f"{p.channel} message {key} stored as {row.text!r}, "
                                f"sent {text!r}")
            conv = conversations.setdefault(who, row.conversation_id)
            if row.conversation_id != conv:
                problems.append(f"{p.channel} dialogue {p.user} spread over conversations "
                                f"{conv} and {row.conversation_id}")
        if ids != sorted(ids):
            problems.append(f"{p.channel} dialogue {p.user} stored out of order: {ids}")
        if who in conversations:
            other = owners.setdefault(conversations[who], who)
            if other != who:
                problems.append(f"dialogues {other} and {who} share conversation "
                                f"{conversations[who]}")
    wanted = set(expected)
    stray = [r for r in inbound
             if (r.channel, _message_key(r.channel, r.external_id)) not in wanted]
    if stray:
        problems.append(f"{len(stray)} stored inbound messages nobody acknowledged, e.g. "
                        f"{[(r.channel, r.external_id, r.text) for r in stray[:5]]}")
    duplicates: Counter[str] = Counter()
    for (channel, _), rows in by_key.items():
        duplicates[channel] += len(rows) - 1

    # Cases: one per dialogue told a number, none else.
    cases_by_conv: dict[int | None, list[Any]] = defaultdict(list)
    for case in cases:
        cases_by_conv[case.conversation_id].append(case)
    told = 0
    for p in played:
        conv = conversations.get((p.channel, p.user))
        mine = cases_by_conv.get(conv, []) if conv is not None else []
        if p.case_number is None:
            if mine:
                problems.append(f"{p.channel} dialogue {p.user} was never told a case number "
                                f"but has cases {[c.number for c in mine]}")
            continue
        told += 1
        if [c.number for c in mine] != [p.case_number]:
            problems.append(f"{p.channel} dialogue {p.user} was told {p.case_number}; its "
                            f"conversation {conv} has cases {[c.number for c in mine]}")
    ours = set(conversations.values())
    foreign = [c.number for c in cases if c.conversation_id not in ours]
    if foreign:
        problems.append(f"cases of no dialogue (or of no conversation): {foreign}")
    if len({c.number for c in cases}) != len(cases):
        problems.append("a case number was given twice")
    if len(cases) != told:
        problems.append(f"{len(cases)} cases for {told} dialogues told a case number")

    # Day counters: `last` equals the cases of that day, numbered 1..last.
    per_day: dict[str, list[int]] = defaultdict(list)
    for case in cases:
        per_day[case.number[2:10]].append(int(case.number.split("-")[1]))
    counted = {day: last for day, last in counters}
    for day in sorted(set(per_day) | set(counted)):
        numbers = sorted(per_day.get(day, []))
        if counted.get(day) != len(numbers) or numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"day {day}: counter {counted.get(day)}, case numbers {numbers}")

    return StoreFigures(
        acknowledged=Counter({ch: sum(len(p.keys) for p in played if p.channel == ch)
                              for ch in channels}),
        stored=Counter(row.channel for row in inbound), duplicates=duplicates,
        cases=Counter(c.channel for c in cases), conversations=conversations,
        inbound_ids=inbound_ids, problems=problems)


def outbox_status(database_url: str, channel: str) -> Counter[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxItem.status).where(OutboxItem.channel == channel))
            return Counter(status for (status,) in rows)
    finally:
        engine.dispose()


async def wait_outbox_settled(database_url: str, channel: str, timeout: float) -> Counter[str]:
    """Poll until no outbox row of `channel` is pending (or `timeout`); the last counts."""
    deadline = time.monotonic() + timeout
    while True:
        status = await asyncio.to_thread(outbox_status, database_url, channel)
        if not status.get("pending") or time.monotonic() >= deadline:
            return status
        await asyncio.sleep(0.5)


def stranded_leases(database_url: str, channel: str,
                    killed_at: datetime) -> tuple[Counter[str], int]:
    """(pending rows claimed before `killed_at`, i.e. leased by a process since killed, per
    recipient; other pending rows to those recipients, which wait behind them to stay in
    order). Call it before any lease of a killed process has run out."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxItem.recipient, OutboxItem.via,
                                       OutboxItem.next_attempt_at)
                                .where(OutboxItem.channel == channel,
                                       OutboxItem.status == "pending")).all()
    finally:
        engine.dispose()
    dead = Counter(r.recipient for r in rows
                   if r.via == "api" and r.next_attempt_at - LEASE < killed_at)
    behind = sum(1 for r in rows if r.recipient in dead) - sum(dead.values())
    return dead, behind


def outbox_texts(database_url: str, channel: str) -> dict[str, Counter[str]]:
    """Reply texts queued per recipient."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxItem.recipient, OutboxItem.payload)
                                .where(OutboxItem.channel == channel)).all()
    finally:
        engine.dispose()
    texts: dict[str, Counter[str]] = defaultdict(Counter)
    for recipient, payload in rows:
        texts[recipient][payload["text"]] += 1
    return texts


def reply_duplicates(database_url: str, watcher: SentWatcher,
                     chats: list[str]) -> tuple[Counter[str], list[str]]:
    """(per chat, the replies the fake received more than once; problems): every queued
    reply of each chat must have been received, and nothing that was not queued."""
    watcher.poll()
    queued = outbox_texts(database_url, "telegram")
    problems = []
    duplicates: Counter[str] = Counter()
    for chat in chats:
        want = queued.get(chat, Counter())
        got = Counter(watcher.texts.get(int(chat), ()))
        missing = want - got
        if missing:
            problems.append(f"chat {chat}: never received {dict(missing)}")
        unknown = set(got) - set(want)
        if unknown:
            problems.append(f"chat {chat}: received texts never queued {unknown}")
        extra = sum((got - want).values())
        if extra:
            duplicates[chat] = extra
    return duplicates, problems


def replies_stored(database_url: str, inbound_ids: list[int]) -> dict[int, list[Any]]:
    """The bot's stored replies per inbound message id, with their outbox rows:
    {inbound id: [(text, outbox status, outbox via), ...]} in id order."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Message.reply_to_id, Message.text, OutboxItem.status, OutboxItem.via)
                .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
                .where(Message.direction == "out", Message.reply_to_id.in_(inbound_ids))
                .order_by(Message.id)).all()
    finally:
        engine.dispose()
    found: dict[int, list[Any]] = defaultdict(list)
    for reply_to, text, status, via in rows:
        found[reply_to].append((text, status, via))
    return found


def check_webchat_replies(database_url: str, played: list[Played],
                          figures: StoreFigures) -> int:
    """Assert that the replies each acknowledged web chat message got in its (last) response
    are the ones stored for it, each with one outbox row answered in the response; the
    number of stored replies."""
    stored = replies_stored(database_url, [i for (channel, _), i in figures.inbound_ids.items()
                                           if channel == "webchat"])
    problems = []
    for p in played:
        if p.channel != "webchat":
            continue
        for key, replies in zip(p.keys, p.replies, strict=True):
            rows = stored.get(figures.inbound_ids[("webchat", key)], [])
            if [text for text, _, _ in rows] != [r["text"] for r in replies]:
                problems.append(f"{key}: answered {[r['text'] for r in replies]}, stored "
                                f"{rows}")
            if any((status, via) != ("delivered", "response") for _, status, via in rows):
                problems.append(f"{key}: outbox rows {rows}")
    assert not problems, "\n".join(problems[:20])
    return sum(len(rows) for rows in stored.values())
