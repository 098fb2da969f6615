"""What the load benchmarks `bench.e2e`, `bench.telegram` and `bench.memory` share.

A raw HTTP/1.1 keep-alive client, the client's counters and their merging, the load client
processes (spawned, released together, joined at the end), server child processes with a
readiness check, CPU accounting of processes, of process trees and of the machine, resident
memory of a process, latency percentiles, and reading the dev set's dialogues.
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
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
MAX_TURNS = 30
CASE_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{8}-\d{4,}(?!\d)")
CLK_TCK = os.sysconf("SC_CLK_TCK")

Dialogue = dict[str, Any]  # one line of the dev set
Spec = dict[str, Any]  # what one load client process is to do (picklable)
T = TypeVar("T")
P = ParamSpec("P")


# --------------------------------------------------------------------------- options, dialogues


def load_parser(doc: str, *, customers: int, seconds: float) -> argparse.ArgumentParser:
    """A parser for a load benchmark (its description: `doc`'s first paragraph) with
    --customers, --seconds and --warmup."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=customers)
    parser.add_argument("--seconds", type=float, default=seconds, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    return parser


def add_client_arguments(parser: argparse.ArgumentParser, *, client_processes: int) -> None:
    """--client-processes and --dialogues."""
    parser.add_argument("--client-processes", type=int, default=client_processes)
    parser.add_argument("--dialogues", type=Path, default=DEFAULT_SET)


def names_option(parser: argparse.ArgumentParser, option: str, value: str,
                 allowed: Collection[str]) -> list[str]:
    """The comma-separated names of `option`'s `value`; a usage error for any not allowed."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = set(names) - set(allowed)
    if unknown:
        parser.error(f"{option}: unknown {', '.join(sorted(unknown))}")
    return names


def checked_dialogues(parser: argparse.ArgumentParser,
                      args: argparse.Namespace) -> list[Dialogue]:
    """The dialogues of `--dialogues`, after rejecting impossible load settings."""
    if args.customers < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--customers must be >= 1, --seconds > 0, --warmup >= 0")
    dialogues = [json.loads(line) for line in args.dialogues.read_text("utf-8").splitlines()
                 if line.strip()]
    if not dialogues:
        parser.error(f"{args.dialogues}: no dialogues")
    return dialogues


def webchat_body(visitor: str, text: str, message_id: str, lang: str | None) -> bytes:
    """The JSON body of one web chat message (POST /channels/webchat/messages)."""
    return json.dumps({"visitor_id": visitor, "text": text, "client_message_id": message_id,
                       "lang": lang}, ensure_ascii=False).encode()


def confirm_word(lang: str | None) -> str:
    return "确认" if lang == "zh" else "yes"


def dont_know(lang: str | None) -> str:
    return "不知道" if lang == "zh" else "I don't know"


def round_robin(spec: Spec, index: int, end: float) -> Iterator[Dialogue]:
    """The dialogues customer `index` of a client process plays one after another until
    `end`: every `total_customers`-th of the set, from the customer's global number on."""
    dialogues = spec["dialogues"]
    k = spec["first_customer"] + index
    while time.monotonic() < end:
        yield dialogues[k % len(dialogues)]
        k += spec["total_customers"]


# --------------------------------------------------------------------------- HTTP client


class ProtocolError(Exception):
    pass


# What a request on a `Connection` may fail with (besides a status other than 200).
REQUEST_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                  TimeoutError, ProtocolError, ValueError)


class Connection:
    """One keep-alive HTTP/1.1 connection, opened lazily, reopened after an error."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        extra = "".join(f"{key}: {value}\r\n" for key, value in (headers or {}).items())
        self.prefix = (f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
                       f"Connection: keep-alive\r\n{extra}").encode()

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
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --------------------------------------------------------------------------- client counters


@dataclass
class LoadStats:
    """The counters every load client keeps; each benchmark adds its own."""

    latencies: list[float] = field(default_factory=list)  # window, seconds
    messages: int = 0  # customer messages answered within the window
    complaints: int = 0  # case numbers seen within the window
    errors: int = 0  # failed requests / turns completed within the window
    complaints_total: int = 0  # case numbers seen, warm-up and drain included
    errors_total: int = 0
    no_case_total: int = 0  # dialogues that ended without a case number
    error_kinds: dict[str, int] = field(default_factory=dict)
    cpu_window: float = 0.0  # the client process's CPU seconds over the window

    def count_error(self, kind: str, in_window: bool) -> None:
        self.errors_total += 1
        self.errors += in_window
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


S = TypeVar("S", bound=LoadStats)


def merge_stats(total: S, parts: Iterable[Mapping[str, Any]]) -> S:
    """Add the client processes' counters (their `vars()`) up into `total`: lists are
    joined, dicts of counts added key by key, numbers summed."""
    for part in parts:
        for key, value in part.items():
            mine = getattr(total, key)
            if isinstance(value, list):
                mine.extend(value)
            elif isinstance(value, dict):
                for kind, n in value.items():
                    mine[kind] = mine.get(kind, 0) + n
            else:
                setattr(total, key, mine + value)
    return total


NO_CASE = "dialogues that ended without a case number"


def print_notes(stats: LoadStats, counts: Iterable[tuple[str, int]]) -> None:
    """The errors over the run by kind, if any, then `what n` for each count that is not 0."""
    if stats.errors_total:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(stats.error_kinds.items()))
        print(f"  errors over the run {stats.errors_total} ({kinds})")
    for what, n in counts:
        if n:
            print(f"  {what} {n}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --------------------------------------------------------------------------- CPU accounting


def cpu_self() -> float:
    """CPU seconds (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first); None when the
    process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it alive now, found by walking /proc for
    parent ids (a uvicorn supervisor's workers, for one)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` and all its descendants so far: each
    live process's own time plus that of the children it has reaped, so the sum keeps
    growing when a child ends between two samples."""
    total = 0
    for member in process_tree(pid):
        fields = _stat_fields(member)
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def proc_memory_kb(pid: int, key: str = "VmRSS") -> int:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM...) in kB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def machine_percent(busy: float, total: float, cores: int) -> float:
    """How busy the machine was, in % of one core (so up to cores * 100)."""
    return busy / total * 100 * cores if total else 0.0


def core_percent(cpu_seconds: float, seconds: float) -> float:
    """CPU seconds over a window of `seconds`, in % of one core."""
    return cpu_seconds / seconds * 100


def window(spec: Spec) -> tuple[float, float]:
    """(end of the warm-up, end of the measured window) in monotonic time, from now."""
    warm_end = time.monotonic() + spec["warmup"]
    return warm_end, warm_end + spec["seconds"]


async def cpu_window(warm_end: float, end: float) -> float:
    """This process's CPU seconds between the monotonic times `warm_end` and `end`."""
    await asyncio.sleep(max(0.0, warm_end - time.monotonic()))
    before = cpu_self()
    await asyncio.sleep(max(0.0, end - time.monotonic()))
    return cpu_self() - before


# --------------------------------------------------------------------------- load clients


ClientMain = Callable[[Spec], Coroutine[Any, Any, LoadStats]]  # a client process's work


def client_count(requested: int, customers: int) -> int:
    """How many client processes are used: at least one, at most one per customer."""
    return max(1, min(requested, customers))


def client_specs(args: argparse.Namespace, dialogues: list[Dialogue],
                 **shared: Any) -> list[Spec]:
    """One spec per client process, the customers spread evenly, with `shared` in each."""
    nproc = client_count(args.client_processes, args.customers)
    specs = []
    first = 0
    for p in range(nproc):
        share = args.customers // nproc + (p < args.customers % nproc)
        specs.append({"proc": p, **shared, "customers": share, "first_customer": first,
                      "total_customers": args.customers, "dialogues": dialogues,
                      "warmup": args.warmup, "seconds": args.seconds,
                      "timeout": args.timeout})
        first += share
    return specs


def client_process(main: ClientMain, spec: Spec, barrier: Any, results: Any) -> None:
    """Entry point of one load client process: wait for the others, run, report."""
    try:
        barrier.wait(timeout=60)
        try:
            import uvloop  # optional, a cheaper event loop for the client
        except ImportError:
            stats = asyncio.run(main(spec))
        else:
            stats = uvloop.run(main(spec))
        results.put(("ok", spec["proc"], vars(stats)))
    except BaseException as exc:  # report to the parent rather than vanish
        results.put(("error", spec["proc"], f"{type(exc).__name__}: {exc}"))


class LoadClients:
    """Load client processes (spawned), released together once all have started; on leaving
    the `with` block they are joined, or terminated when they do not end."""

    def __init__(self, main: ClientMain, specs: list[Spec]) -> None:
        ctx = mp.get_context("spawn")
        self.barrier = ctx.Barrier(len(specs) + 1)
        self.queue = ctx.Queue()
        self.procs = [ctx.Process(target=client_process,
                                  args=(main, spec, self.barrier, self.queue), daemon=True)
                      for spec in specs]

    def __enter__(self) -> LoadClients:
        try:
            for proc in self.procs:
                proc.start()
            try:
                self.barrier.wait(timeout=60)
            except Exception as exc:
                raise RuntimeError("load client processes did not start") from exc
        except BaseException:
            self.join()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.join()

    def results(self, timeout: float) -> list[dict[str, Any]]:
        """Every process's counters (`vars()` of its stats) within `timeout` seconds."""
        parts, failures = [], []
        deadline = time.monotonic() + timeout
        for _ in self.procs:
            try:
                status, proc_id, payload = self.queue.get(
                    timeout=max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                raise RuntimeError("a load client process did not report in time") from exc
            if status == "ok":
                parts.append(payload)
            else:
                failures.append(f"client {proc_id}: {payload}")
        if failures:
            raise RuntimeError("load client failed: " + "; ".join(failures))
        return parts

    def join(self) -> None:
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def sample_window(warmup: float, seconds: float, sample: Callable[[], T]) -> tuple[T, T]:
    """`sample()` at the end of the warm-up and at the end of the measured window, both
    counted from now."""
    start = time.monotonic()
    time.sleep(max(0.0, start + warmup - time.monotonic()))
    before = sample()
    time.sleep(max(0.0, start + warmup + seconds - time.monotonic()))
    return before, sample()


# --------------------------------------------------------------------------- servers


ReadyCheck = Callable[[], str | None]  # None when ready, else why not yet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict[str, str]:
    """This process's environment with the project on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def healthz(port: int) -> ReadyCheck:
    """A readiness check: `GET /healthz` on the port answers 200."""
    url = f"http://127.0.0.1:{port}/healthz"

    def check() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return None if r.status == 200 else f"HTTP {r.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            return str(exc)

    return check


class ServerError(RuntimeError):
    pass


class Server:
    """A server child process in its own process group, with its output in a log file (each
    start appends to it, so a restarted server's log keeps what came before)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path,
                 cwd: Path = ROOT) -> None:
        self.name, self.argv, self.env, self.log, self.cwd = name, argv, env, log, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: ReadyCheck, timeout: float, *,
              died: str = "exited with code {code} before it was ready",
              late: str = "not ready after {timeout:.0f} s ({last})") -> None:
        """Start the process and wait until `ready()` says so. `died` and `late` are the
        ServerError's words (`{code}`; `{timeout}`, `{last}`: the check's last answer)."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        last: str | None = "not started"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name}: {died.format(code=self.proc.returncode)}; "
                                  f"its output:\n{self.tail()}")
            last = ready()
            if last is None:
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name}: {late.format(timeout=timeout, last=last)}; "
                          f"its output:\n{self.tail()}")

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else 0.0

    def tree_cpu(self) -> float:
        """CPU seconds of the server and all its child processes (a supervisor's workers)."""
        return tree_cpu(self.proc.pid) if self.proc else 0.0

    def processes(self) -> list[int]:
        """The server's process and its descendants alive now."""
        return process_tree(self.proc.pid) if self.proc else []

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


def try_target(run: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """`run(*args, **kwargs)`, or None once it failed to start or run a server or the load
    clients (the reason printed as `FAILED: ...`)."""
    try:
        return run(*args, **kwargs)
    except (ServerError, RuntimeError, OSError) as exc:
        print(f"  FAILED: {exc}")
        return None


# --------------------------------------------------------------------------- the store


def count_rows(url: str) -> tuple[int, int]:
    """(cases, inbound messages) in the service's database at `url`."""
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
