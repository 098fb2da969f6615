"""End-to-end benchmark: the real service over HTTP, driven by simulated web chat customers.

    python -m bench.e2e [--customers 20] [--seconds 15] [--db sqlite,postgresql]

For each target a server is started as its own process on a free port and stopped at the
end: a bare FastAPI endpoint (`bench/bare_app.py`, `POST /echo`, the framework's floor), then
`intake serve` on a fresh SQLite file and on a freshly created PostgreSQL database (dropped
afterwards). N closed-loop customers, spread over several client processes (asyncio, raw
HTTP/1.1 with keep-alive, one connection per customer), each play a dialogue of the dev set
to completion (a case number in a reply), then start the next one as a new visitor. After a
warm-up, messages and complaints completed during the measured window are counted.

The service's customers answer what `waiting_for` asks (see shared/eval/README.md); the bare
endpoint's customers send the same texts in script order (opening, answers, confirmation).
The client's, server's and machine's CPU use over the window are printed so a reader can
judge whether the load client was the bottleneck. At the end the service's database is
checked: one case per complaint seen by the client, one `in` message per answered message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import common

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SERVICE_PATH = "/channels/webchat/messages"
BARE_PATH = "/echo"


# --------------------------------------------------------------------------- load client


@dataclass
class ClientStats(common.LoadStats):
    """`LoadStats`: latencies of answered requests; `errors`: failed requests; `no_case_total`:
    service dialogues that stopped waiting without a case number."""

    dialogues: int = 0  # dialogues finished (case filed / script done) within the window
    sent_total: int = 0  # every request sent, warm-up and drain included
    answered_total: int = 0  # every 200 response
    duplicates_total: int = 0
    too_long_total: int = 0  # dialogues cut at MAX_TURNS


def _script(d: common.Dialogue) -> list[str]:
    return [d["opening"], *d.get("answers", {}).values(), common.confirm_word(d.get("lang"))]


async def _customer(spec: common.Spec, index: int, stats: ClientStats,
                    warm_end: float, end: float) -> None:
    bare = spec["kind"] == "bare"
    path = BARE_PATH if bare else SERVICE_PATH
    conn = common.Connection("127.0.0.1", spec["port"])
    global_index = spec["first_customer"] + index
    try:
        for d in common.round_robin(spec, index, end):
            lang = d.get("lang", "zh")
            confirm = common.confirm_word(lang)
            script = _script(d)
            visitor = f"bench-{global_index}-{uuid.uuid4().hex[:16]}"
            message = d["opening"]
            for turn in range(common.MAX_TURNS):
                body = json.dumps({"visitor_id": visitor, "text": message,
                                   "client_message_id": f"{visitor}.{turn}", "lang": lang},
                                  ensure_ascii=False).encode()
                stats.sent_total += 1
                started = time.perf_counter()
                error = None
                try:
                    status, payload = await asyncio.wait_for(conn.post(path, body),
                                                             spec["timeout"])
                    if status != 200:
                        error = f"HTTP {status}"
                    else:
                        data = json.loads(payload)
                except common.REQUEST_ERRORS as exc:
                    error = type(exc).__name__
                    await conn.close()
                elapsed = time.perf_counter() - started
                done = time.monotonic()
                in_window = warm_end <= done < end
                if error is not None:
                    stats.count_error(error, in_window)
                    break  # abandon this dialogue, start another as a new visitor
                stats.answered_total += 1
                stats.duplicates_total += bool(data.get("duplicate"))
                if in_window:
                    stats.messages += 1
                    stats.latencies.append(elapsed)
                if not bare:
                    texts = " ".join(r.get("text", "") for r in data.get("replies", []))
                    if common.CASE_NUMBER.search(texts):
                        stats.complaints_total += 1
                        stats.complaints += in_window
                        stats.dialogues += in_window
                        break
                if bare and turn + 1 >= len(script):
                    stats.dialogues += in_window
                    break
                if done >= end:
                    break  # time is up: do not start another message
                if bare:
                    message = script[turn + 1]
                else:
                    waiting = data.get("waiting_for")
                    if waiting is None:
                        stats.no_case_total += 1
                        break
                    message = confirm if waiting == "confirm" else \
                        d.get("answers", {}).get(waiting, common.dont_know(lang))
            else:
                stats.too_long_total += 1
    finally:
        await conn.close()


async def _client(spec: common.Spec) -> ClientStats:
    warm_end, end = common.window(spec)
    stats = ClientStats()
    probe = asyncio.create_task(common.cpu_window(warm_end, end))
    await asyncio.gather(*(_customer(spec, i, stats, warm_end, end)
                           for i in range(spec["customers"])))
    stats.cpu_window = await probe
    return stats


# --------------------------------------------------------------------------- servers


# The words of a ServerError when the server dies or its /healthz does not answer 200.
DIED = "server exited with code {code} before it was healthy"
LATE = "/healthz not OK after {timeout:.0f} s ({last})"


def _postgres_cpu(database: str | None) -> float:
    """CPU time of the PostgreSQL backends serving `database` (others on the box excluded)."""
    if not database:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                "utf-8", "replace")
        except OSError:
            continue
        if cmdline.startswith("postgres:") and f" {database} " in cmdline:
            total += common.proc_cpu(int(entry.name))
    return total


# --------------------------------------------------------------------------- one target


@dataclass
class Target:
    name: str
    kind: str  # bare | service
    database_url: str | None = None


@dataclass
class Result:
    target: Target
    seconds: float
    stats: ClientStats
    client_processes: int
    server_cpu: float
    postgres_cpu: float
    machine_busy: float
    machine_total: float
    db_cases: int | None = None
    db_messages_in: int | None = None


def _pg_database(url: str | None) -> str | None:
    """The PostgreSQL database's name in `url`; None for another kind of database."""
    return url.rsplit("/", 1)[-1] if url and url.startswith("postgresql") else None


def run_load(target: Target, port: int, args: argparse.Namespace,
             dialogues: list[common.Dialogue], server: common.Server) -> Result:
    specs = common.client_specs(args, dialogues, kind=target.kind, port=port)
    pg_db = _pg_database(target.database_url)
    with common.LoadClients(_client, specs) as clients:
        (server0, pg0, (busy0, all0)), (server1, pg1, (busy1, all1)) = \
            common.sample_window(args.warmup, args.seconds, lambda: (
                server.cpu(), _postgres_cpu(pg_db), common.machine_busy()))
        parts = clients.results(args.timeout + 30)
    return Result(target, args.seconds, common.merge_stats(ClientStats(), parts), len(specs),
                  server1 - server0, pg1 - pg0, busy1 - busy0, all1 - all0)


def run_target(target: Target, args: argparse.Namespace,
               dialogues: list[common.Dialogue], workdir: Path) -> Result:
    port = common.free_port()
    env = common.child_env()
    if target.kind == "bare":
        argv = [sys.executable, "-m", "bench.bare_app", "--host", "127.0.0.1",
                "--port", str(port)]
    else:
        assert target.database_url
        env["INTAKE_DATABASE_URL"] = target.database_url
        argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port)]
    server = common.Server(target.name, argv, env, workdir / f"{target.name}.log")
    try:
        server.start(common.healthz(port), args.start_timeout, died=DIED, late=LATE)
        result = run_load(target, port, args, dialogues, server)
    finally:
        server.stop()
    if target.database_url:
        result.db_cases, result.db_messages_in = common.count_rows(target.database_url)
    return result


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped on leaving."""
    import psycopg

    name = f"intake_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise common.ServerError(
            f"postgresql: cannot create a database via {admin_url}: {exc}") from exc
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


def run_named(name: str, args: argparse.Namespace, dialogues: list[common.Dialogue],
              workdir: Path) -> Result:
    """Run target `name` (bare, sqlite or postgresql), a fresh database for the service."""
    if name == "bare":
        return run_target(Target("bare", "bare"), args, dialogues, workdir)
    if name == "sqlite":
        url = f"sqlite:///{workdir / 'intake.db'}"
        return run_target(Target("sqlite", "service", url), args, dialogues, workdir)
    with postgres_database(args.pg_admin_url) as url:
        return run_target(Target("postgresql", "service", url), args, dialogues, workdir)


# --------------------------------------------------------------------------- report


def report(result: Result, bare: Result | None) -> None:
    s, secs = result.stats, result.seconds
    rate = s.messages / secs
    line = f"  messages/s {rate:8.1f}"
    if result.target.kind == "service":
        line += f"   complaints/s {s.complaints / secs:6.2f}"
    else:
        line += f"   dialogues/s {s.dialogues / secs:7.2f}"
    line += (f"   p50 {common.percentile(s.latencies, 0.5) * 1e3:7.2f} ms"
             f"   p99 {common.percentile(s.latencies, 0.99) * 1e3:7.2f} ms   errors {s.errors}")
    print(line)
    if bare is not None and bare.stats.messages:
        print(f"  {rate / (bare.stats.messages / bare.seconds) * 100:.1f}% of the bare "
              "endpoint's messages/s")
    cores = os.cpu_count() or 1
    client = common.core_percent(s.cpu_window, secs)
    server = common.core_percent(result.server_cpu, secs)
    postgres = common.core_percent(result.postgres_cpu, secs)
    machine = common.machine_percent(result.machine_busy, result.machine_total, cores)
    cpu = (f"  CPU over the window, % of one core: client {client:.0f}% "
           f"({result.client_processes} processes), server {server:.0f}%")
    if result.target.database_url and result.target.database_url.startswith("postgresql"):
        cpu += f", postgres backends {postgres:.0f}%"
    print(cpu)
    rest = max(0.0, machine - client - server - postgres)
    print(f"  machine {machine:.0f}% busy of {cores * 100}% ({cores} cores); everything else "
          f"on the machine (kernel, other processes) {rest:.0f}%")
    common.print_notes(s, [("replies marked duplicate", s.duplicates_total),
                           (common.NO_CASE, s.no_case_total),
                           (f"dialogues cut at {common.MAX_TURNS} turns", s.too_long_total)])
    if result.db_cases is not None:
        cases_ok = result.db_cases == s.complaints_total
        msgs_ok = result.db_messages_in == s.answered_total
        print(f"  database: {result.db_cases} cases vs {s.complaints_total} complaints seen by "
              f"the client: {'OK' if cases_ok else 'MISMATCH'}")
        note = "" if s.sent_total == s.answered_total else \
            f"; {s.sent_total - s.answered_total} sent but not answered"
        print(f"  database: {result.db_messages_in} 'in' messages vs {s.answered_total} "
              f"answered ({s.sent_total} sent{note}): {'OK' if msgs_ok else 'MISMATCH'}")


def main() -> None:
    parser = common.load_parser(__doc__, customers=20, seconds=15.0)
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    common.add_client_arguments(parser, client_processes=2)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="where to CREATE/DROP the benchmark's database")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0,
                        help="seconds to wait for a server's /healthz")
    args = parser.parse_args()
    dbs = common.names_option(parser, "--db", args.db, ("sqlite", "postgresql"))
    dialogues = common.checked_dialogues(parser, args)

    nproc = common.client_count(args.client_processes, args.customers)
    print(f"end-to-end web chat: {args.customers} closed-loop customers in {nproc} client "
          f"processes (asyncio, raw HTTP/1.1 keep-alive), {args.warmup:g} s warm-up + "
          f"{args.seconds:g} s measured, {len(dialogues)} dialogues from {args.dialogues.name}")
    print(f"machine: {os.cpu_count()} CPU cores shared by the load client, the server and "
          "PostgreSQL; the client's CPU use is shown to judge whether it was the bottleneck")
    results: dict[str, Result] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="intake-e2e-") as tmp:
        workdir = Path(tmp)
        plan = ["bare", *dbs]
        for name in plan:
            label = {"bare": "bare FastAPI POST /echo (uvicorn, 1 process)",
                     "sqlite": "service on SQLite (intake serve, 1 process)",
                     "postgresql": "service on PostgreSQL (intake serve, 1 process)"}[name]
            print(f"\n{label}")
            result = common.try_target(run_named, name, args, dialogues, workdir)
            if result is None:
                failed = True
                continue
            results[name] = result
            report(result, results.get("bare") if name != "bare" else None)
            s = result.stats
            if result.db_cases is not None and (result.db_cases != s.complaints_total
                                                or result.db_messages_in != s.answered_total):
                failed = True
    if results:
        print("\nsummary")
        print(f"  {'target':<12}{'msgs/s':>10}{'cases/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
              f"{'errors':>8}{'% bare':>8}")
        bare = results.get("bare")
        for name, r in results.items():
            rate = r.stats.messages / r.seconds
            cases = f"{r.stats.complaints / r.seconds:.2f}" if r.target.kind == "service" \
                else "-"
            share = f"{rate / (bare.stats.messages / bare.seconds) * 100:.1f}" \
                if bare and bare.stats.messages and name != "bare" else "-"
            print(f"  {name:<12}{rate:>10.1f}{cases:>10}"
                  f"{common.percentile(r.stats.latencies, 0.5) * 1e3:>10.2f}"
                  f"{common.percentile(r.stats.latencies, 0.99) * 1e3:>10.2f}"
                  f"{r.stats.errors:>8}{share:>8}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
