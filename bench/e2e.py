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
import multiprocessing as mp
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SERVICE_PATH = "/channels/webchat/messages"
BARE_PATH = "/echo"
MAX_TURNS = 30
CASE_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{8}-\d{4,}(?!\d)")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- HTTP client


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection, opened lazily, reopened after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.prefix = (f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
                       "Connection: keep-alive\r\n").encode()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None
        writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.prefix
                     + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ProtocolError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            payload = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            payload = await _read_chunked(reader)
        else:
            raise ProtocolError("response has neither Content-Length nor chunked encoding")
        if headers.get("connection") == "close":
            await self.close()
        return status, payload

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --------------------------------------------------------------------------- load client


@dataclass
class ClientStats:
    latencies: list[float] = field(default_factory=list)  # window, seconds
    messages: int = 0  # answered (200) within the window
    complaints: int = 0  # case numbers seen within the window
    dialogues: int = 0  # dialogues finished (case filed / script done) within the window
    errors: int = 0  # failed requests completed within the window
    sent_total: int = 0  # every request sent, warm-up and drain included
    answered_total: int = 0  # every 200 response
    complaints_total: int = 0
    errors_total: int = 0
    duplicates_total: int = 0
    no_case_total: int = 0  # service dialogues that stopped waiting without a case number
    too_long_total: int = 0  # dialogues cut at MAX_TURNS
    error_kinds: dict[str, int] = field(default_factory=dict)
    cpu_window: float = 0.0


def _script(d: dict[str, Any]) -> list[str]:
    confirm = "确认" if d.get("lang") == "zh" else "yes"
    return [d["opening"], *d.get("answers", {}).values(), confirm]


async def _customer(spec: dict[str, Any], index: int, stats: ClientStats,
                    warm_end: float, end: float) -> None:
    bare = spec["kind"] == "bare"
    path = BARE_PATH if bare else SERVICE_PATH
    dialogues = spec["dialogues"]
    conn = Connection("127.0.0.1", spec["port"])
    global_index = spec["first_customer"] + index
    k = global_index
    try:
        while time.monotonic() < end:
            d = dialogues[k % len(dialogues)]
            k += spec["total_customers"]
            lang = d.get("lang", "zh")
            dont_know = "不知道" if lang == "zh" else "I don't know"
            confirm = "确认" if lang == "zh" else "yes"
            script = _script(d)
            visitor = f"bench-{global_index}-{uuid.uuid4().hex[:16]}"
            message = d["opening"]
            for turn in range(MAX_TURNS):
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
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        TimeoutError, ProtocolError, ValueError) as exc:
                    error = type(exc).__name__
                    await conn.close()
                elapsed = time.perf_counter() - started
                done = time.monotonic()
                in_window = warm_end <= done < end
                if error is not None:
                    stats.errors_total += 1
                    stats.errors += in_window
                    stats.error_kinds[error] = stats.error_kinds.get(error, 0) + 1
                    break  # abandon this dialogue, start another as a new visitor
                stats.answered_total += 1
                stats.duplicates_total += bool(data.get("duplicate"))
                if in_window:
                    stats.messages += 1
                    stats.latencies.append(elapsed)
                if not bare:
                    texts = " ".join(r.get("text", "") for r in data.get("replies", []))
                    if CASE_NUMBER.search(texts):
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
                        d.get("answers", {}).get(waiting, dont_know)
            else:
                stats.too_long_total += 1
    finally:
        await conn.close()


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _client(spec: dict[str, Any]) -> ClientStats:
    start = time.monotonic()
    warm_end = start + spec["warmup"]
    end = warm_end + spec["seconds"]
    stats = ClientStats()

    async def cpu_probe() -> None:
        await asyncio.sleep(max(0.0, warm_end - time.monotonic()))
        before = _cpu_self()
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        stats.cpu_window = _cpu_self() - before

    probe = asyncio.create_task(cpu_probe())
    await asyncio.gather(*(_customer(spec, i, stats, warm_end, end)
                           for i in range(spec["customers"])))
    await probe
    return stats


def client_process(spec: dict[str, Any], barrier: Any, results: Any) -> None:
    """Entry point of one load client process: wait for the others, run, report."""
    try:
        barrier.wait(timeout=60)
        try:
            import uvloop  # optional, a cheaper event loop for the client
        except ImportError:
            stats = asyncio.run(_client(spec))
        else:
            stats = uvloop.run(_client(spec))
        results.put(("ok", spec["proc"], stats.__dict__))
    except BaseException as exc:  # report to the parent rather than vanish
        results.put(("error", spec["proc"], f"{type(exc).__name__}: {exc}"))


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class Server:
    """A server child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int, timeout: float) -> None:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}/healthz"
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name}: server exited with code {self.proc.returncode} "
                                  f"before it was healthy; its output:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise ServerError(f"{self.name}: /healthz not OK after {timeout:.0f} s ({last}); "
                          f"its output:\n{self.tail()}")

    def cpu(self) -> float:
        return _proc_cpu(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own group, started by us
            proc.wait(timeout=5)

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text("utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "(no output)"


def _proc_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


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
            total += _proc_cpu(int(entry.name))
    return total


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _merge(parts: list[dict[str, Any]]) -> ClientStats:
    total = ClientStats()
    for part in parts:
        for key, value in part.items():
            if key == "latencies":
                total.latencies.extend(value)
            elif key == "error_kinds":
                for kind, n in value.items():
                    total.error_kinds[kind] = total.error_kinds.get(kind, 0) + n
            else:
                setattr(total, key, getattr(total, key) + value)
    return total


def run_load(target: Target, port: int, args: argparse.Namespace,
             dialogues: list[dict[str, Any]], server: Server) -> Result:
    ctx = mp.get_context("spawn")
    nproc = max(1, min(args.client_processes, args.customers))
    barrier = ctx.Barrier(nproc + 1)
    results = ctx.Queue()
    procs = []
    first = 0
    for p in range(nproc):
        share = args.customers // nproc + (p < args.customers % nproc)
        spec = {"proc": p, "kind": target.kind, "port": port, "customers": share,
                "first_customer": first, "total_customers": args.customers,
                "dialogues": dialogues, "warmup": args.warmup, "seconds": args.seconds,
                "timeout": args.timeout}
        first += share
        procs.append(ctx.Process(target=client_process, args=(spec, barrier, results),
                                 daemon=True))
    try:
        for proc in procs:
            proc.start()
        try:
            barrier.wait(timeout=60)
        except Exception as exc:
            raise RuntimeError("load client processes did not start") from exc
        start = time.monotonic()
        time.sleep(max(0.0, start + args.warmup - time.monotonic()))
        pg_db = target.database_url.rsplit("/", 1)[-1] \
            if target.database_url and target.database_url.startswith("postgresql") else None
        server0, pg0, (busy0, all0) = server.cpu(), _postgres_cpu(pg_db), _machine_busy()
        time.sleep(max(0.0, start + args.warmup + args.seconds - time.monotonic()))
        server1, pg1, (busy1, all1) = server.cpu(), _postgres_cpu(pg_db), _machine_busy()
        parts, failures = [], []
        deadline = time.monotonic() + args.timeout + 30
        for _ in procs:
            try:
                status, proc_id, payload = results.get(
                    timeout=max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                raise RuntimeError("a load client process did not report in time") from exc
            if status == "ok":
                parts.append(payload)
            else:
                failures.append(f"client {proc_id}: {payload}")
        if failures:
            raise RuntimeError("load client failed: " + "; ".join(failures))
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return Result(target, args.seconds, _merge(parts), nproc, server1 - server0, pg1 - pg0,
                  busy1 - busy0, all1 - all0)


def _count_rows(url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
            messages_in = conn.execute(
                text("SELECT count(*) FROM messages WHERE direction = 'in'")).scalar_one()
    finally:
        engine.dispose()
    return int(cases), int(messages_in)


def run_target(target: Target, args: argparse.Namespace, dialogues: list[dict[str, Any]],
               workdir: Path) -> Result:
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if target.kind == "bare":
        argv = [sys.executable, "-m", "bench.bare_app", "--host", "127.0.0.1",
                "--port", str(port)]
    else:
        assert target.database_url
        env["INTAKE_DATABASE_URL"] = target.database_url
        argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port)]
    server = Server(target.name, argv, env, workdir / f"{target.name}.log")
    try:
        server.start(port, args.start_timeout)
        result = run_load(target, port, args, dialogues, server)
    finally:
        server.stop()
    if target.database_url:
        result.db_cases, result.db_messages_in = _count_rows(target.database_url)
    return result


@contextlib.contextmanager
def postgres_database(admin_url: str):
    import psycopg

    name = f"intake_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise ServerError(f"postgresql: cannot create a database via {admin_url}: {exc}") \
            from exc
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------- report


def report(result: Result, bare: Result | None) -> None:
    s, secs = result.stats, result.seconds
    rate = s.messages / secs
    line = f"  messages/s {rate:8.1f}"
    if result.target.kind == "service":
        line += f"   complaints/s {s.complaints / secs:6.2f}"
    else:
        line += f"   dialogues/s {s.dialogues / secs:7.2f}"
    line += (f"   p50 {percentile(s.latencies, 0.5) * 1e3:7.2f} ms"
             f"   p99 {percentile(s.latencies, 0.99) * 1e3:7.2f} ms   errors {s.errors}")
    print(line)
    if bare is not None and bare.stats.messages:
        print(f"  {rate / (bare.stats.messages / bare.seconds) * 100:.1f}% of the bare "
              "endpoint's messages/s")
    cores = os.cpu_count() or 1
    client = s.cpu_window / secs * 100
    server = result.server_cpu / secs * 100
    postgres = result.postgres_cpu / secs * 100
    machine = result.machine_busy / result.machine_total * 100 * cores \
        if result.machine_total else 0.0
    cpu = (f"  CPU over the window, % of one core: client {client:.0f}% "
           f"({result.client_processes} processes), server {server:.0f}%")
    if result.target.database_url and result.target.database_url.startswith("postgresql"):
        cpu += f", postgres backends {postgres:.0f}%"
    print(cpu)
    rest = max(0.0, machine - client - server - postgres)
    print(f"  machine {machine:.0f}% busy of {cores * 100}% ({cores} cores); everything else "
          f"on the machine (kernel, other processes) {rest:.0f}%")
    extras = []
    if s.errors_total:
        extras.append(f"errors over the run {s.errors_total} "
                      f"({', '.join(f'{k} x{n}' for k, n in sorted(s.error_kinds.items()))})")
    if s.duplicates_total:
        extras.append(f"replies marked duplicate {s.duplicates_total}")
    if s.no_case_total:
        extras.append(f"dialogues that ended without a case number {s.no_case_total}")
    if s.too_long_total:
        extras.append(f"dialogues cut at {MAX_TURNS} turns {s.too_long_total}")
    for extra in extras:
        print(f"  {extra}")
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--dialogues", type=Path, default=DEFAULT_SET)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="where to CREATE/DROP the benchmark's database")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0,
                        help="seconds to wait for a server's /healthz")
    args = parser.parse_args()
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    unknown = set(dbs) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"--db: unknown {', '.join(sorted(unknown))}")
    if args.customers < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--customers must be >= 1, --seconds > 0, --warmup >= 0")
    dialogues = [json.loads(line) for line in args.dialogues.read_text("utf-8").splitlines()
                 if line.strip()]
    if not dialogues:
        parser.error(f"{args.dialogues}: no dialogues")

    nproc = max(1, min(args.client_processes, args.customers))
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
            try:
                if name == "bare":
                    result = run_target(Target("bare", "bare"), args, dialogues, workdir)
                elif name == "sqlite":
                    url = f"sqlite:///{workdir / 'intake.db'}"
                    result = run_target(Target("sqlite", "service", url), args, dialogues,
                                        workdir)
                else:
                    with postgres_database(args.pg_admin_url) as url:
                        result = run_target(Target("postgresql", "service", url), args,
                                            dialogues, workdir)
            except (ServerError, RuntimeError, OSError) as exc:
                print(f"  FAILED: {exc}")
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
                  f"{percentile(r.stats.latencies, 0.5) * 1e3:>10.2f}"
                  f"{percentile(r.stats.latencies, 0.99) * 1e3:>10.2f}"
                  f"{r.stats.errors:>8}{share:>8}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
