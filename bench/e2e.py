"""End-to-end benchmark: the real service over HTTP, driven by simulated web chat customers.

    python -m bench.e2e [--customers 20] [--seconds 15] [--db sqlite,postgresql,postgresql-2w]
                        [--think 0] [--json]

For each target a server is started as its own process on a free port and stopped at the
end: a bare FastAPI endpoint (`bench/bare_app.py`, `POST /echo`, the framework's floor), then
`intake serve` on a fresh SQLite file, on a freshly created PostgreSQL database (dropped
afterwards), and `intake serve --workers 2` (a uvicorn supervisor and two worker processes)
on another fresh PostgreSQL database. N closed-loop customers, spread over several client
processes (asyncio, raw HTTP/1.1 with keep-alive, one connection per customer), each play a
dialogue of the dev set to completion (a case number in a reply), then start the next one as
a new visitor. After a warm-up, messages and complaints completed during the measured window
are counted.

The service's customers answer what `waiting_for` asks (see shared/eval/README.md); the bare
endpoint's customers send the same texts in script order (opening, answers, confirmation).
The client's, server's (its whole process tree, workers included) and machine's CPU use over
the window are printed, with what they say the bottleneck was, so a reader can judge whether
the load client limited the rate. At the end the service's database is checked: one case per
complaint seen by the client, one `in` message per answered message. The summary evaluates
the goals: SQLite's messages/s at least 15% of the bare endpoint's, `--workers 2` on
PostgreSQL at least as fast as SQLite, p99 under 50 ms for every service target. With
`--json` the human report goes to stderr and stdout gets one JSON object with every figure.

Closed-loop customers saturate the server, so their latency is mostly waiting in line (20
customers at R messages/s wait about 20/R s each). `--think S` makes each customer wait S
seconds between an answer and the next message, as people reading and typing do: the
latency at a load below saturation.
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
from typing import Any

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
                body = common.webchat_body(visitor, message, f"{visitor}.{turn}", lang)
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
                if spec["think"]:  # the customer reads the answer and types the next one
                    await asyncio.sleep(spec["think"])
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
    workers: int = 1  # `intake serve --workers`


@dataclass
class Result:
    target: Target
    seconds: float
    stats: ClientStats
    client_processes: int
    server_cpu: float  # the server's whole process tree (a supervisor and its workers)
    postgres_cpu: float
    machine_busy: float
    machine_total: float
    server_processes: int = 1  # in the tree at the end of the window
    db_cases: int | None = None
    db_messages_in: int | None = None


LABELS = {"bare": "bare FastAPI POST /echo (uvicorn, 1 process)",
          "sqlite": "service on SQLite (intake serve, 1 process)",
          "postgresql": "service on PostgreSQL (intake serve, 1 process)",
          "postgresql-2w": "service on PostgreSQL (intake serve --workers 2)"}
SERVICE_TARGETS = ("sqlite", "postgresql", "postgresql-2w")


def _pg_database(url: str | None) -> str | None:
    """The PostgreSQL database's name in `url`; None for another kind of database."""
    return url.rsplit("/", 1)[-1] if url and url.startswith("postgresql") else None


def run_load(target: Target, port: int, args: argparse.Namespace,
             dialogues: list[common.Dialogue], server: common.Server) -> Result:
    specs = common.client_specs(args, dialogues, kind=target.kind, port=port,
                                think=args.think)
    pg_db = _pg_database(target.database_url)
    with common.LoadClients(_client, specs) as clients:
        (server0, pg0, (busy0, all0)), (server1, pg1, (busy1, all1)) = \
            common.sample_window(args.warmup, args.seconds, lambda: (
                server.tree_cpu(), _postgres_cpu(pg_db), common.machine_busy()))
        processes = len(server.processes())
        parts = clients.results(args.timeout + 30)
    return Result(target, args.seconds, common.merge_stats(ClientStats(), parts), len(specs),
                  server1 - server0, pg1 - pg0, busy1 - busy0, all1 - all0, processes)


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
        if target.workers > 1:
            argv += ["--workers", str(target.workers)]
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
    """Run target `name` (bare, sqlite, postgresql or postgresql-2w), a fresh database for
    the service."""
    if name == "bare":
        return run_target(Target("bare", "bare"), args, dialogues, workdir)
    if name == "sqlite":
        url = f"sqlite:///{workdir / 'intake.db'}"
        return run_target(Target("sqlite", "service", url), args, dialogues, workdir)
    workers = 2 if name == "postgresql-2w" else 1
    with postgres_database(args.pg_admin_url) as url:
        return run_target(Target(name, "service", url, workers), args, dialogues, workdir)


# --------------------------------------------------------------------------- figures, goals


CORES = os.cpu_count() or 1
BUSY_PCT = 80.0  # a process using this much of a core (or more) is taken as CPU-bound
SATURATED = 0.9  # the machine is saturated at this share of all its cores
GOAL_SHARE_OF_BARE = 15.0  # SQLite's messages/s, in % of the bare endpoint's
GOAL_P99_MS = 50.0


def _number(value: float | None, digits: int = 2) -> float | None:
    """`value` rounded for the JSON object; None for a missing or NaN figure."""
    return None if value is None or value != value else round(value, digits)


def figures(result: Result, bare: Result | None) -> dict[str, Any]:
    """What one target measured, as the JSON object reports it (CPU in % of one core over the
    measured window; `pct_of_bare` and the database checks None where they do not apply)."""
    s, secs = result.stats, result.seconds
    rate = s.messages / secs
    service = result.target.kind == "service"
    share = rate / (bare.stats.messages / bare.seconds) * 100 \
        if bare is not None and bare is not result and bare.stats.messages else None
    pg = _pg_database(result.target.database_url) is not None
    return {
        "label": LABELS[result.target.name],
        "messages_per_s": _number(rate, 1),
        "complaints_per_s": _number(s.complaints / secs) if service else None,
        "dialogues_per_s": _number(s.dialogues / secs),
        "p50_ms": _number(common.percentile(s.latencies, 0.5) * 1e3),
        "p99_ms": _number(common.percentile(s.latencies, 0.99) * 1e3),
        "errors": s.errors,
        "pct_of_bare": _number(share, 1),
        "cpu_client_pct": _number(common.core_percent(s.cpu_window, secs), 1),
        "cpu_server_pct": _number(common.core_percent(result.server_cpu, secs), 1),
        "cpu_postgres_pct": _number(common.core_percent(result.postgres_cpu, secs), 1)
        if pg else None,
        "machine_pct": _number(common.machine_percent(result.machine_busy,
                                                      result.machine_total, CORES), 1),
        "client_processes": result.client_processes,
        "server_workers": result.target.workers,
        "server_processes": result.server_processes,
        "db_cases_ok": result.db_cases == s.complaints_total
        if result.db_cases is not None else None,
        "db_messages_ok": result.db_messages_in == s.answered_total
        if result.db_messages_in is not None else None,
    }


def bottleneck(result: Result, fig: dict[str, Any]) -> str:
    """What limited the target's rate, as far as the CPU figures tell."""
    per_client = fig["cpu_client_pct"] / result.client_processes
    per_worker = fig["cpu_server_pct"] / result.target.workers
    unit = "per worker process" if result.target.workers > 1 else "of its 1 process"
    machine, capacity = fig["machine_pct"], CORES * 100
    if per_client >= BUSY_PCT:
        return (f"the load client may have been: {per_client:.0f}% of a core per client "
                "process")
    if per_worker >= BUSY_PCT:
        return f"the server: {per_worker:.0f}% of a core {unit}"
    if machine >= SATURATED * capacity:
        others = machine - fig["cpu_client_pct"] - fig["cpu_server_pct"] \
            - (fig["cpu_postgres_pct"] or 0.0)
        return (f"the machine's cores: {machine:.0f}% of {capacity}% busy, the server "
                f"{per_worker:.0f}% of a core {unit}, everything else (kernel, other "
                f"processes) {max(0.0, others):.0f}%")
    return (f"not the CPU: the server used {per_worker:.0f}% of a core {unit}, the machine "
            f"{machine:.0f}% of {capacity}%, so waiting (on the database, locks, I/O) rather "
            "than computing limited the rate")


def goals(figs: dict[str, dict[str, Any]], planned: list[str],
          customers: int, think: float = 0.0) -> dict[str, dict[str, Any]]:
    """The benchmark's goals: each with its wording, `met` (None when a target it needs was
    not in the run), the figures compared and a one-line `detail`. With think time the
    customers set the rate, so the rate goals are not evaluated."""

    def missing(names: tuple[str, ...], rate: bool = False) -> str | None:
        if rate and think:
            return f"customers think {think:g} s: the rate is theirs, not the server's"
        absent = [n for n in names if n not in figs]
        if not absent:
            return None
        failed = [n for n in absent if n in planned]
        return f"{', '.join(failed)} failed" if failed else f"{', '.join(absent)} not run"

    out: dict[str, dict[str, Any]] = {}
    goal = f"SQLite messages/s >= {GOAL_SHARE_OF_BARE:g}% of bare"
    why = missing(("bare", "sqlite"), rate=True)
    if why is None:
        share = figs["sqlite"]["pct_of_bare"] or 0.0
        out["sqlite_share_of_bare"] = {
            "goal": goal, "met": share >= GOAL_SHARE_OF_BARE, "value": share,
            "threshold": GOAL_SHARE_OF_BARE,
            "detail": f"{figs['sqlite']['messages_per_s']:.1f} msgs/s = {share:.1f}% of bare "
                      f"{figs['bare']['messages_per_s']:.1f}"}
    else:
        out["sqlite_share_of_bare"] = {"goal": goal, "met": None, "detail": why}
    goal = "postgresql-2w messages/s >= SQLite messages/s"
    why = missing(("sqlite", "postgresql-2w"), rate=True)
    if why is None:
        two, one = figs["postgresql-2w"]["messages_per_s"], figs["sqlite"]["messages_per_s"]
        out["postgresql_2w_vs_sqlite"] = {
            "goal": goal, "met": two >= one, "value": two, "threshold": one,
            "detail": f"{two:.1f} vs {one:.1f} msgs/s ({two / one * 100 if one else 0:.0f}%)"}
    else:
        out["postgresql_2w_vs_sqlite"] = {"goal": goal, "met": None, "detail": why}
    goal = f"p99 < {GOAL_P99_MS:g} ms for every service target at {customers} customers"
    if think:
        goal += f" thinking {think:g} s"
    services = tuple(n for n in planned if n in SERVICE_TARGETS)
    p99 = {n: figs[n]["p99_ms"] for n in services if n in figs}
    why = missing(services) if services else "no service target run"
    if why is not None and not p99:
        out["p99_under_50ms"] = {"goal": goal, "met": None, "detail": why}
    else:
        slow = [n for n, v in p99.items() if v is None or v >= GOAL_P99_MS]
        detail = ", ".join(f"{n} {v:.1f} ms" if v is not None else f"{n} no latencies"
                           for n, v in p99.items())
        out["p99_under_50ms"] = {
            "goal": goal, "met": not slow and why is None, "value": p99,
            "threshold": GOAL_P99_MS, "detail": detail + (f"; {why}" if why else "")}
    return out


# --------------------------------------------------------------------------- report



def report(result: Result, fig: dict[str, Any]) -> None:
    s = result.stats
    line = f"  messages/s {fig['messages_per_s']:8.1f}"
    if result.target.kind == "service":
        line += f"   complaints/s {fig['complaints_per_s']:6.2f}"
    else:
        line += f"   dialogues/s {fig['dialogues_per_s']:7.2f}"
    line += (f"   p50 {common.percentile(s.latencies, 0.5) * 1e3:7.2f} ms"
             f"   p99 {common.percentile(s.latencies, 0.99) * 1e3:7.2f} ms   errors {s.errors}")
    print(line)
    if fig["pct_of_bare"] is not None:
        print(f"  {fig['pct_of_bare']:.1f}% of the bare endpoint's messages/s")
    client, server = fig["cpu_client_pct"], fig["cpu_server_pct"]
    postgres = fig["cpu_postgres_pct"]
    machine = fig["machine_pct"]
    processes = f"{result.server_processes} process" + \
        ("es: supervisor, workers, helpers" if result.server_processes > 1 else "")
    cpu = (f"  CPU over the window, % of one core: client {client:.0f}% "
           f"({result.client_processes} processes), server {server:.0f}% ({processes})")
    if postgres is not None:
        cpu += f", postgres backends {postgres:.0f}%"
    print(cpu)
    rest = max(0.0, machine - client - server - (postgres or 0.0))
    print(f"  machine {machine:.0f}% busy of {CORES * 100}% ({CORES} cores); everything else "
          f"on the machine (kernel, other processes) {rest:.0f}%")
    print(f"  bottleneck: {bottleneck(result, fig)}")
    common.print_notes(s, [("replies marked duplicate", s.duplicates_total),
                           (common.NO_CASE, s.no_case_total),
                           (f"dialogues cut at {common.MAX_TURNS} turns", s.too_long_total)])
    if result.db_cases is not None:
        print(f"  database: {result.db_cases} cases vs {s.complaints_total} complaints seen by "
              f"the client: {'OK' if fig['db_cases_ok'] else 'MISMATCH'}")
        note = "" if s.sent_total == s.answered_total else \
            f"; {s.sent_total - s.answered_total} sent but not answered"
        print(f"  database: {result.db_messages_in} 'in' messages vs {s.answered_total} "
              f"answered ({s.sent_total} sent{note}): "
              f"{'OK' if fig['db_messages_ok'] else 'MISMATCH'}")


def load_client(results: dict[str, Result], figs: dict[str, dict[str, Any]]) -> str:
    """How busy the load client was at most, and whether that made it the bottleneck."""
    top = max(figs, key=lambda n: figs[n]["cpu_client_pct"])
    line = (f"load client: {figs[top]['cpu_client_pct']:.0f}% of a core at most (of "
            f"{CORES * 100}%; on {top}, {results[top].client_processes} processes)")
    services = [n for n in figs if n in SERVICE_TARGETS]
    if services:
        line += (f", {max(figs[n]['cpu_client_pct'] for n in services):.0f}% at most on the "
                 "service targets")
    bound = [n for n in figs
             if figs[n]["cpu_client_pct"] / results[n].client_processes >= BUSY_PCT]
    return line + (f"; it may have limited {', '.join(bound)}" if bound
                   else "; it was not the bottleneck")


def _cell(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else format(value, spec) + unit


def summary(results: dict[str, Result], figs: dict[str, dict[str, Any]],
            verdicts: dict[str, dict[str, Any]], failures: dict[str, str],
            args: argparse.Namespace) -> None:
    print(f"\nsummary ({args.customers} customers, {args.seconds:g} s measured; CPU in % of "
          f"one core over the window, the machine has {CORES * 100}%)")
    print(f"  {'target':<15}{'msgs/s':>9}{'cases/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>7}{'% bare':>8}{'client':>8}{'server':>8}{'pg':>6}{'machine':>9}")
    for name, fig in figs.items():
        print(f"  {name:<15}{fig['messages_per_s']:>9.1f}"
              f"{_cell(fig['complaints_per_s'], '.2f'):>9}"
              f"{_cell(fig['p50_ms'], '.2f'):>9}{_cell(fig['p99_ms'], '.2f'):>9}"
              f"{fig['errors']:>7}{_cell(fig['pct_of_bare'], '.1f'):>8}"
              f"{_cell(fig['cpu_client_pct'], '.0f', '%'):>8}"
              f"{_cell(fig['cpu_server_pct'], '.0f', '%'):>8}"
              f"{_cell(fig['cpu_postgres_pct'], '.0f', '%'):>6}"
              f"{_cell(fig['machine_pct'], '.0f', '%'):>9}")
    for name, why in failures.items():
        print(f"  {name:<15}FAILED ({why.splitlines()[0][:100]})")
    if figs:
        print(f"  {load_client(results, figs)}")
        for name in figs:
            print(f"  bottleneck of {name}: {bottleneck(results[name], figs[name])}")
    print("goals")
    for verdict in verdicts.values():
        met = {True: "met", False: "NOT MET", None: "not evaluated"}[verdict["met"]]
        print(f"  {verdict['goal']}: {met} ({verdict['detail']})")


def main() -> None:
    parser = common.load_parser(__doc__, customers=20, seconds=15.0)
    parser.add_argument("--db", default="sqlite,postgresql,postgresql-2w",
                        help="comma-separated: " + ", ".join(SERVICE_TARGETS))
    common.add_client_arguments(parser, client_processes=2)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="where to CREATE/DROP the benchmark's database")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0,
                        help="seconds to wait for a server's /healthz")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object to stdout (the human report to stderr)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each customer waits between an answer and their next "
                             "message (0: closed loop, the server saturated)")
    args = parser.parse_args()
    if args.think < 0:
        parser.error("--think must be >= 0")
    dbs = common.names_option(parser, "--db", args.db, SERVICE_TARGETS)
    dialogues = common.checked_dialogues(parser, args)

    human = sys.stderr if args.json else sys.stdout
    with contextlib.redirect_stdout(human):
        results, figs, failures, failed = run_all(args, dbs, dialogues)
        verdicts = goals(figs, ["bare", *dbs], args.customers, args.think)
        if figs or failures:
            summary(results, figs, verdicts, failures, args)
    if args.json:
        print(json.dumps({"customers": args.customers, "think": args.think,
                          "seconds": args.seconds, "warmup": args.warmup, "cores": CORES,
                          "client_processes": common.client_count(args.client_processes,
                                                                  args.customers),
                          "targets": figs, "failed": failures,
                          "load_client": load_client(results, figs) if figs else None,
                          "bottleneck": {n: bottleneck(results[n], figs[n]) for n in figs},
                          "goals": verdicts}, ensure_ascii=False))
    if failed:
        sys.exit(1)


def run_all(args: argparse.Namespace, dbs: list[str], dialogues: list[common.Dialogue]
            ) -> tuple[dict[str, Result], dict[str, dict[str, Any]], dict[str, str], bool]:
    """Every target in turn, each reported as it ends: the results, their figures, the
    targets that failed (why), and whether anything failed or the database disagreed."""
    nproc = common.client_count(args.client_processes, args.customers)
    loop = "closed-loop" if not args.think else f"{args.think:g} s think time,"
    print(f"end-to-end web chat: {args.customers} {loop} customers in {nproc} client "
          f"processes (asyncio, raw HTTP/1.1 keep-alive), {args.warmup:g} s warm-up + "
          f"{args.seconds:g} s measured, {len(dialogues)} dialogues from {args.dialogues.name}")
    print(f"machine: {CORES} CPU cores shared by the load client, the server and "
          "PostgreSQL; the client's CPU use is shown to judge whether it was the bottleneck")
    results: dict[str, Result] = {}
    figs: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="intake-e2e-") as tmp:
        workdir = Path(tmp)
        for name in ["bare", *dbs]:
            print(f"\n{LABELS[name]}")
            try:
                result = run_named(name, args, dialogues, workdir)
            except (common.ServerError, RuntimeError, OSError) as exc:
                print(f"  FAILED: {exc}")
                failures[name] = str(exc)
                failed = True
                continue
            results[name] = result
            figs[name] = figures(result, results.get("bare"))
            report(result, figs[name])
            if figs[name]["db_cases_ok"] is False or figs[name]["db_messages_ok"] is False:
                failed = True
    return results, figs, failures, failed


if __name__ == "__main__":
    main()
