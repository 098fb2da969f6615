"""Memory benchmark: the resident memory of `intake serve` over a large store while many web
chat conversations are active at once.

    python -m bench.memory [--conversations 10000] [--active 1000] [--concurrency 50]
                           [--db sqlite|postgresql] [--json]

A fresh store (a SQLite file in a temporary directory, or with `--db postgresql` a freshly
created PostgreSQL database, dropped afterwards) is migrated and `intake serve` (one process)
started on it. A few dev-set dialogues are played part of the way over HTTP (the opening and
up to two answers, never the confirmation) to get the engine state and the messages a real
conversation has after a few messages. Then `--conversations` web chat conversations are
seeded straight into the database with bulk inserts: for each a customer, a channel identity
(a random visitor id), the conversation holding one of those states, and copies of its
messages, all last active within the past day so that no visitor id has expired
(INTAKE_WEBCHAT_IDLE_DAYS). Then `--active` distinct visitors, half of them seeded ones
coming back and half new ones, each play a dev-set dialogue to completion over
`POST /channels/webchat/messages` (answering what `waiting_for` asks), `--concurrency` at a
time.

The server's resident memory (VmRSS from /proc, summed over its process tree) is sampled
after start, after seeding (idle), every second during the load and at the end, beside its
high-water mark (VmHWM); the goal is less than 300 MiB resident. The cases and messages in
the database before and after the load show that the load really happened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common
from bench.e2e import DEFAULT_PG_ADMIN, DIED, LATE, SERVICE_PATH, postgres_database

GOAL_MIB = 300.0  # resident memory of the server, at most
TEMPLATE_MESSAGES = 3  # customer messages played per template dialogue, at most
IDLE_SECONDS = 3.0  # the server is left alone this long after seeding before it is measured
SEED_CHUNK = 1000  # conversations per bulk-insert transaction
SAMPLE_SECONDS = 1.0


# --------------------------------------------------------------------------- options


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000,
                        help="web chat conversations seeded into the store")
    parser.add_argument("--active", type=int, default=1000,
                        help="visitors playing a dialogue to completion (half of them seeded)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="dialogues in flight at once")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="where to CREATE/DROP the benchmark's database")
    parser.add_argument("--dialogues", type=Path, default=common.DEFAULT_SET)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0,
                        help="seconds to wait for the server's /healthz")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object to stdout (the human report to stderr)")
    args = parser.parse_args()
    if args.conversations < 0 or args.active < 1 or args.concurrency < 1:
        parser.error("--conversations must be >= 0, --active and --concurrency >= 1")
    args.dialogue_list = [json.loads(line)
                          for line in args.dialogues.read_text("utf-8").splitlines()
                          if line.strip()]
    if not args.dialogue_list:
        parser.error(f"{args.dialogues}: no dialogues")
    return args


# --------------------------------------------------------------------------- HTTP client


@dataclass
class Counts(common.LoadStats):
    """`LoadStats` over the whole load (there is no warm-up window: every request counts)."""

    dialogues: int = 0  # dialogues played to their end (a case number, or nothing asked)
    sent_total: int = 0
    answered_total: int = 0
    too_long_total: int = 0  # dialogues cut at MAX_TURNS


async def play(conn: common.Connection, visitor: str, d: common.Dialogue, counts: Counts,
               timeout: float, *, prefix: str = "load", template: bool = False) -> None:
    """Visitor `visitor` plays dialogue `d`, answering what `waiting_for` asks, until a reply
    holds a case number or nothing more is asked. A `template` stops early: after
    TEMPLATE_MESSAGES messages or when the summary is to be confirmed (nothing is filed)."""
    lang = d.get("lang", "zh")
    message = d["opening"]
    for turn in range(common.MAX_TURNS):
        body = common.webchat_body(visitor, message, f"{prefix}.{turn}", lang)
        counts.sent_total += 1
        started = time.perf_counter()
        try:
            status, payload = await asyncio.wait_for(conn.post(SERVICE_PATH, body), timeout)
        except common.REQUEST_ERRORS as exc:
            await conn.close()
            counts.count_error(type(exc).__name__, True)
            return
        if status != 200:
            counts.count_error(f"HTTP {status}", True)
            return
        data = json.loads(payload)
        counts.latencies.append(time.perf_counter() - started)
        counts.answered_total += 1
        counts.messages += 1
        texts = " ".join(r.get("text", "") for r in data.get("replies", []))
        if common.CASE_NUMBER.search(texts):
            counts.complaints += 1
            counts.complaints_total += 1
            counts.dialogues += 1
            return
        waiting = data.get("waiting_for")
        if waiting is None:
            counts.no_case_total += 1
            counts.dialogues += 1
            return
        if template and (waiting == "confirm" or turn + 1 >= TEMPLATE_MESSAGES):
            return
        message = common.confirm_word(lang) if waiting == "confirm" else \
            d.get("answers", {}).get(waiting, common.dont_know(lang))
    counts.too_long_total += 1


async def play_all(port: int, jobs: list[tuple[str, common.Dialogue]], concurrency: int,
                   timeout: float, counts: Counts, *, template: bool = False) -> None:
    """Every (visitor, dialogue) of `jobs`, `concurrency` at a time, each worker on its own
    keep-alive connection."""
    queue: asyncio.Queue[tuple[str, common.Dialogue]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        conn = common.Connection("127.0.0.1", port)
        try:
            while not queue.empty():
                visitor, d = queue.get_nowait()
                await play(conn, visitor, d, counts, timeout, template=template)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))


# --------------------------------------------------------------------------- memory


def rss_kb(server: common.Server) -> int:
    """The resident memory of the server's processes, summed (kB)."""
    return sum(common.proc_memory_kb(pid) for pid in server.processes())


def mib(kb: float) -> float:
    return kb / 1024


async def sample_memory(server: common.Server, samples: list[int],
                        stop: asyncio.Event) -> None:
    """The server's RSS into `samples` every SAMPLE_SECONDS until `stop` is set."""
    while not stop.is_set():
        samples.append(rss_kb(server))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def load(server: common.Server, port: int, jobs: list[tuple[str, common.Dialogue]],
               args: argparse.Namespace, counts: Counts, samples: list[int]) -> None:
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(server, samples, stop))
    try:
        await play_all(port, jobs, args.concurrency, args.timeout, counts)
    finally:
        stop.set()
        await sampler


# --------------------------------------------------------------------------- the store


@dataclass
class Template:
    """A real conversation after a few messages: its engine state and messages."""

    state: dict[str, Any]
    version: int
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first; `reply_to`
    # is the index of the message answered, `raw` the channel payload (visitor id replaced)


def read_templates(url: str, visitors: list[str]) -> list[Template]:
    """The conversations the template visitors left, with a state that files nothing."""
    from sqlalchemy import select

    from bot.store.db import make_engine
    from bot.store.models import ChannelIdentity, Conversation, Message

    engine = make_engine(url)
    templates = []
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Conversation.id, Conversation.state, Conversation.version)
                .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
                .where(ChannelIdentity.external_id.in_(visitors),
                       Conversation.status == "bot")
                .order_by(Conversation.id)).all()
            for conversation_id, state, version in rows:
                if not state or state.get("stage") == "filed":
                    continue
                messages = conn.execute(
                    select(Message.id, Message.direction, Message.sender, Message.text,
                           Message.quick_replies, Message.raw, Message.reply_to_id)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id)).all()
                index = {m.id: i for i, m in enumerate(messages)}
                templates.append(Template(state, version, [
                    {"direction": m.direction, "sender": m.sender, "text": m.text,
                     "quick_replies": m.quick_replies, "raw": m.raw,
                     "reply_to": index.get(m.reply_to_id)} for m in messages]))
    finally:
        engine.dispose()
    return templates


def new_visitor() -> str:
    """A visitor id as the widget makes one: 128+ random bits, url-safe base64."""
    return secrets.token_urlsafe(18)  # 24 characters


def seed(url: str, templates: list[Template], n: int) -> tuple[list[str], int]:
    """`n` web chat conversations copied from `templates`, bulk-inserted in transactions of
    SEED_CHUNK; their visitor ids and the number of messages inserted."""
    from sqlalchemy import insert

    from bot.store.db import make_engine
    from bot.store.models import ChannelIdentity, Conversation, Customer, Message
    from channels import webchat

    customers, identities = Customer.__table__, ChannelIdentity.__table__
    conversations, messages = Conversation.__table__, Message.__table__
    rng = random.Random(20_000)
    now = datetime.now(UTC)
    visitors: list[str] = []
    inserted = 0
    engine = make_engine(url)

    def ids(conn: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(statement, rows).scalars())

    try:
        for start in range(0, n, SEED_CHUNK):
            count = min(SEED_CHUNK, n - start)
            chunk = [templates[(start + i) % len(templates)] for i in range(count)]
            names = [new_visitor() for _ in chunk]
            # Last active within the past day; a customer message every 40 s before that.
            ends = [now - timedelta(seconds=rng.uniform(60, 23 * 3600)) for _ in chunk]
            turns = [sum(m["direction"] == "in" for m in t.messages) for t in chunk]
            begins = [end - timedelta(seconds=40 * max(0, k - 1))
                      for end, k in zip(ends, turns, strict=True)]
            with engine.begin() as conn:
                customer_ids = ids(conn, customers, [
                    {"name": None, "phone": None, "created_at": b, "updated_at": e}
                    for b, e in zip(begins, ends, strict=True)])
                identity_ids = ids(conn, identities, [
                    {"channel": webchat.CHANNEL, "external_id": v, "customer_id": c,
                     "display_name": None, "created_at": b}
                    for v, c, b in zip(names, customer_ids, begins, strict=True)])
                conversation_ids = ids(conn, conversations, [
                    {"identity_id": i, "customer_id": c, "channel": webchat.CHANNEL,
                     "status": "bot", "state": t.state, "version": t.version,
                     "handoff_urgent": False, "created_at": b, "updated_at": e}
                    for i, c, t, b, e in zip(identity_ids, customer_ids, chunk, begins, ends,
                                             strict=True)])
                # The k-th message of every conversation in one statement, k = 0, 1, ...:
                # ids then follow each conversation's order, and a reply's message exists.
                message_ids: list[list[int]] = [[] for _ in chunk]
                for k in range(max(len(t.messages) for t in chunk)):
                    rows, owners = [], []
                    for j, t in enumerate(chunk):
                        if k >= len(t.messages):
                            continue
                        m = t.messages[k]
                        turn = sum(x["direction"] == "in" for x in t.messages[:k + 1]) - 1
                        at = begins[j] + timedelta(seconds=40 * max(0, turn))
                        row = {"conversation_id": conversation_ids[j],
                               "direction": m["direction"], "channel": webchat.CHANNEL,
                               "sender": m["sender"], "text": m["text"],
                               "quick_replies": m["quick_replies"], "external_id": None,
                               "raw": None, "sent_at": None, "created_at": at,
                               "reply_to_id": None if m["reply_to"] is None
                               else message_ids[j][m["reply_to"]]}
                        if m["direction"] == "in":
                            client_id = f"seed.{turn}"
                            row["external_id"] = webchat.message_key(names[j], client_id)
                            row["raw"] = {**(m["raw"] or {}), "visitor_id": names[j],
                                          "client_message_id": client_id}
                            row["sent_at"] = at
                        rows.append(row)
                        owners.append(j)
                    for j, message_id in zip(owners, ids(conn, messages, rows), strict=True):
                        message_ids[j].append(message_id)
                    inserted += len(rows)
            visitors.extend(names)
    finally:
        engine.dispose()
    return visitors, inserted


def db_counts(url: str) -> dict[str, int]:
    """Cases, inbound messages, all messages and conversations in the store."""
    from sqlalchemy import func, select

    from bot.store.db import make_engine
    from bot.store.models import Conversation, Message

    cases, messages_in = common.count_rows(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
            conversations = conn.execute(
                select(func.count()).select_from(Conversation)).scalar_one()
    finally:
        engine.dispose()
    return {"cases": cases, "messages_in": messages_in, "messages": int(messages),
            "conversations": int(conversations)}


@contextlib.contextmanager
def fresh_store(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """The URL of a fresh, migrated store of the kind `--db` asks for."""
    from bot.store.db import make_engine, migrate

    with contextlib.ExitStack() as stack:
        if args.db == "postgresql":
            url = stack.enter_context(postgres_database(args.pg_admin_url))
        else:
            url = f"sqlite:///{workdir / 'intake.db'}"
        engine = make_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()
        yield url


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, url: str, workdir: Path) -> dict[str, Any]:
    """Start the server on the store at `url`, seed it, load it; every figure measured."""
    dialogues = args.dialogue_list
    port = common.free_port()
    env = common.child_env()
    env["INTAKE_DATABASE_URL"] = url
    argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port)]
    server = common.Server("intake serve", argv, env, workdir / "server.log")
    out: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        server.start(common.healthz(port), args.start_timeout, died=DIED, late=LATE)
        out["ready_seconds"] = time.monotonic() - t0
        time.sleep(1.0)
        out["server_processes"] = len(server.processes())
        rss = {"after_start": rss_kb(server)}
        print(f"  server ready in {out['ready_seconds']:.1f} s "
              f"({out['server_processes']} process); RSS {mib(rss['after_start']):.1f} MiB")

        scratch = Counts()
        template_jobs = [(new_visitor(), d) for d in dialogues]
        asyncio.run(play_all(port, template_jobs, args.concurrency, args.timeout, scratch,
                             template=True))
        templates = read_templates(url, [v for v, _ in template_jobs])
        if not templates:
            raise RuntimeError("no conversation in progress to copy: the template dialogues "
                               f"failed ({scratch.error_kinds or 'all filed at once'})")
        waits = sorted({str(t.state.get("waiting_for")) for t in templates})
        print(f"  templates: {len(templates)} of {len(dialogues)} dev dialogues played over "
              f"HTTP for up to {TEMPLATE_MESSAGES} messages, unconfirmed (waiting for "
              f"{', '.join(waits)})")

        t0 = time.monotonic()
        visitors, seeded_messages = seed(url, templates, args.conversations)
        out["seed_seconds"] = time.monotonic() - t0
        out["seeded_messages"] = seeded_messages
        print(f"  seeded {len(visitors)} conversations ({seeded_messages} messages) with "
              f"bulk inserts in {out['seed_seconds']:.1f} s")
        time.sleep(IDLE_SECONDS)
        rss["after_seeding_idle"] = rss_kb(server)
        before = db_counts(url)

        rng = random.Random(1000)
        returning = rng.sample(visitors, min(len(visitors), args.active // 2))
        jobs_visitors = returning + [new_visitor()
                                     for _ in range(args.active - len(returning))]
        rng.shuffle(jobs_visitors)
        jobs = [(v, dialogues[k % len(dialogues)]) for k, v in enumerate(jobs_visitors)]
        out["returning"] = len(returning)
        counts, samples = Counts(), []
        cpu0, server0 = common.cpu_self(), server.tree_cpu()
        t0 = time.monotonic()
        asyncio.run(load(server, port, jobs, args, counts, samples))
        out["load_seconds"] = time.monotonic() - t0
        out["cpu_client_pct"] = common.core_percent(common.cpu_self() - cpu0,
                                                    out["load_seconds"])
        out["cpu_server_pct"] = common.core_percent(server.tree_cpu() - server0,
                                                    out["load_seconds"])
        time.sleep(1.0)
        rss["peak_during_load"] = max(samples, default=0)
        rss["at_end"] = rss_kb(server)
        rss["hwm"] = common.proc_memory_kb(server.proc.pid, "VmHWM") if server.proc else 0
        out["samples"] = samples
        out["rss_kb"] = rss
        out["counts"] = counts
    finally:
        server.stop()
    out["db_before"], out["db_after"] = before, db_counts(url)
    return out


# --------------------------------------------------------------------------- report


def summarize(args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    """The report's figures, printed and as the JSON object."""
    counts: Counts = out["counts"]
    before, after = out["db_before"], out["db_after"]
    rss = {key: round(mib(kb), 1) for key, kb in out["rss_kb"].items()}
    peak = max(rss["peak_during_load"], rss["hwm"], rss["at_end"])
    cases = after["cases"] - before["cases"]
    messages_in = after["messages_in"] - before["messages_in"]
    secs = out["load_seconds"]
    figures = {
        "db": args.db, "conversations": args.conversations, "active": args.active,
        "returning": out["returning"], "concurrency": args.concurrency,
        "server_processes": out["server_processes"],
        "seed_seconds": round(out["seed_seconds"], 2),
        "seeded_messages": out["seeded_messages"],
        "rss_mib": rss,
        "samples": len(out["samples"]),
        "rss_samples_mib": [round(mib(kb), 1) for kb in out["samples"]],
        "load": {
            "seconds": round(secs, 1), "dialogues": counts.dialogues,
            "messages": counts.answered_total, "sent": counts.sent_total,
            "messages_per_s": round(counts.answered_total / secs, 1) if secs else None,
            "complaints": counts.complaints_total, "errors": counts.errors_total,
            "error_kinds": counts.error_kinds, "no_case": counts.no_case_total,
            "too_long": counts.too_long_total,
            "p50_ms": round(common.percentile(counts.latencies, 0.5) * 1e3, 2)
            if counts.latencies else None,
            "p99_ms": round(common.percentile(counts.latencies, 0.99) * 1e3, 2)
            if counts.latencies else None,
            "cpu_client_pct": round(out["cpu_client_pct"], 1),
            "cpu_server_pct": round(out["cpu_server_pct"], 1),
        },
        "database": {
            "before_load": before, "after_load": after,
            "cases_filed": cases, "messages_in_stored": messages_in,
            "messages_stored": after["messages"] - before["messages"],
            "new_conversations": after["conversations"] - before["conversations"],
            "cases_ok": cases == counts.complaints_total,
            "messages_ok": messages_in == counts.answered_total,
        },
        "goal": {"goal": f"resident memory < {GOAL_MIB:g} MiB", "met": peak < GOAL_MIB,
                 "value": peak, "threshold": GOAL_MIB},
    }
    return figures


def report(figures: dict[str, Any]) -> None:
    load_, db, rss = figures["load"], figures["database"], figures["rss_mib"]
    print(f"  load: {figures['active']} visitors ({figures['returning']} seeded ones coming "
          f"back, {figures['active'] - figures['returning']} new), {figures['concurrency']} "
          f"at a time: {load_['dialogues']} dialogues ended in {load_['seconds']:.1f} s, "
          f"{load_['messages']} messages answered ({load_['messages_per_s']}/s), "
          f"p50 {load_['p50_ms']} ms, p99 {load_['p99_ms']} ms, errors {load_['errors']}")
    kinds = ", ".join(f"{k} x{n}" for k, n in sorted(load_["error_kinds"].items()))
    if kinds:
        print(f"  errors: {kinds}")
    notes = [(common.NO_CASE, load_["no_case"]),
             (f"dialogues cut at {common.MAX_TURNS} turns", load_["too_long"])]
    for what, n in notes:
        if n:
            print(f"  {what} {n}")
    print(f"  CPU over the load, % of one core: client {load_['cpu_client_pct']:.0f}% "
          f"(1 process), server {load_['cpu_server_pct']:.0f}% (machine: "
          f"{os.cpu_count()} cores)")
    print(f"  database: {db['cases_filed']} cases filed during the load vs "
          f"{load_['complaints']} case numbers seen by the client: "
          f"{'OK' if db['cases_ok'] else 'MISMATCH'}")
    print(f"  database: {db['messages_in_stored']} 'in' messages stored during the load vs "
          f"{load_['messages']} answered: {'OK' if db['messages_ok'] else 'MISMATCH'}; "
          f"{db['messages_stored']} messages in all, {db['new_conversations']} new "
          f"conversations; the store now holds {db['after_load']['conversations']} "
          f"conversations, {db['after_load']['messages']} messages, "
          f"{db['after_load']['cases']} cases")
    print(f"\nsummary: resident memory of intake serve ({figures['server_processes']} "
          f"process, {figures['db']}), MiB")
    rows = [("after start", rss["after_start"]),
            (f"after seeding {figures['conversations']} conversations, idle",
             rss["after_seeding_idle"]),
            (f"peak during load ({figures['samples']} samples, 1 s apart)",
             rss["peak_during_load"]),
            ("at end", rss["at_end"]),
            ("high-water mark (VmHWM)", rss["hwm"])]
    for what, value in rows:
        print(f"  {what:<52}{value:>8.1f}")
    goal = figures["goal"]
    print("goal")
    print(f"  {goal['goal']}: {'met' if goal['met'] else 'NOT MET'} (highest "
          f"{goal['value']:.1f} MiB)")


def main() -> None:
    args = parse_args()
    human = sys.stderr if args.json else sys.stdout
    figures: dict[str, Any] | None = None
    failure = ""
    with contextlib.redirect_stdout(human):
        print(f"memory of intake serve on {args.db}: {args.conversations} seeded web chat "
              f"conversations, {args.active} active visitors, {args.concurrency} at a time")
        try:
            with tempfile.TemporaryDirectory(prefix="intake-memory-") as tmp:
                workdir = Path(tmp)
                with fresh_store(args, workdir) as url:
                    out = run(args, url, workdir)
            figures = summarize(args, out)
            report(figures)
        except (common.ServerError, RuntimeError, OSError) as exc:
            print(f"  FAILED: {exc}")
            failure = str(exc)
    if args.json:
        print(json.dumps(figures if figures is not None else {"failed": failure},
                         ensure_ascii=False))
    if figures is None or not (figures["database"]["cases_ok"]
                               and figures["database"]["messages_ok"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
