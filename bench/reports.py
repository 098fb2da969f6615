"""Reports benchmark: the response time of the reports dashboard (GET /console/reports) with
100,000 cases in the store, on SQLite and on PostgreSQL.

    python -m bench.reports [--cases 100000] [--targets sqlite,postgresql] [--repeat 20]
                            [--json]

Per target a fresh store (a SQLite file in a temporary directory; a PostgreSQL database
created for the run and dropped after it) is migrated and seeded with `bench.casegen`'s
cases over the 365 days up to today (bulk inserts; PostgreSQL then ANALYZEd). The groups of
similar complaints are refreshed in-process twice: every case indexed, then again with
nothing new. `intake serve` is started (scheduled refresh daily; the one it runs 10 s after
start is waited out) and a lead logs in. On one keep-alive httpx client each dashboard view
gets 2 warm-up requests and `--repeat` timed ones (request sent to body read): the default
(last 30 days, by day), 90 days by day, 365 days by week, 90 days of credit_card. One CSV
and one XLSX export of the last 90 days' cases and a lead's refresh over HTTP are timed
once each. Every answer is checked: the dashboard's total and the exports' rows must equal
the generated cases of the period (the run fails otherwise).

Goals (the issue's): the dashboard under 500 ms on PostgreSQL and under 1 s on SQLite,
judged on the p50 of the default and the 90-day views (the worse of the two); the other
views are reported, not judged.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import casegen, common
from bench.e2e import DEFAULT_PG_ADMIN, DIED, LATE, _pg_database, _postgres_cpu, postgres_database
from bot.reports import clusters
from bot.reports.schedule import START_DELAY
from bot.store.db import make_engine, make_sessionmaker, migrate
from workflow.topics import KeyTerms

TARGETS = ("sqlite", "postgresql")
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
GOAL_MS = {"sqlite": 1000.0, "postgresql": 500.0}  # the judged views' p50, under
DAYS = 365  # the generated cases are received over this many days up to today
WARMUP = 2  # untimed requests per view
EXPORT_DAYS = 90
LEAD = "bench-lead"
RULE = ("the worse p50 of the default (30 d) and the 90-day views; the other views are "
        "reported, not judged")

TOTAL = re.compile(r'<b data-figure="total">(\d+)</b>')
FROM = re.compile(r'name="from" value="([0-9-]+)"')
TO = re.compile(r'name="to" value="([0-9-]+)"')
QUIET_SECONDS, QUIET_CPU = 1.0, 0.05  # the server idles: under this CPU over that window
PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class WrongAnswer(RuntimeError):
    """The service answered, but not what the generated store holds (or not 200)."""


@dataclass(frozen=True)
class View:
    key: str
    label: str
    short: str  # in the goal lines
    days: int | None  # None: the page's default period (no parameters sent)
    by: str | None = None
    business: str | None = None
    judged: bool = False

    def params(self, today: date) -> dict[str, str]:
        if self.days is None:
            return {}
        out = {"from": (today - timedelta(days=self.days - 1)).isoformat(),
               "to": today.isoformat()}
        if self.by:
            out["by"] = self.by
        if self.business:
            out["business"] = self.business
        return out


VIEWS = (
    View("default", "default (30 d, by day)", "default", None, judged=True),
    View("90d", "90 d, by day", "90 d", 90, "day", judged=True),
    View("365d_week", "365 d, by week", "365 d", 365, "week"),
    View("90d_credit_card", "90 d, credit_card", "credit_card", 90, "day", "credit_card"),
)
DEFAULT_DAYS = 30  # what the page shows without parameters (bot/reports/routes.py)


# --------------------------------------------------------------------------- the store


def expected(cases: list[dict[str, Any]], start: date, end: date,
             business: str | None = None) -> int:
    """The generated cases received from `start` to `end` (both included), of `business`."""
    return sum(1 for c in cases if start <= c["filed_on"] <= end
               and (business is None or c["business"] == business))


def seed(url: str, cases: list[dict[str, Any]], out: dict[str, Any]) -> None:
    """Migrate and fill the store at `url`, then refresh the groups twice (timed)."""
    engine = make_engine(url)
    try:
        migrate(engine)
        started = time.perf_counter()
        casegen.insert(engine, cases)
        out["seed_s"] = time.perf_counter() - started
        print(f"  seeded {len(cases)} cases in {out['seed_s']:.1f} s")
        if engine.dialect.name == "postgresql":
            out["analyze_s"] = _analyze(engine)
            print(f"  ANALYZE in {out['analyze_s']:.1f} s")
        sessions = make_sessionmaker(engine)
        terms = KeyTerms()
        terms.of("借记卡年费")  # its IDF table loads on first use: not part of a refresh
        for key in ("refresh", "refresh_again"):
            now = datetime.now(UTC)
            started = time.perf_counter()
            done = clusters.refresh(sessions.begin, sessions, terms,
                                    now.astimezone(casegen.ZONE).date(), now)
            out[f"{key}_s"] = time.perf_counter() - started
            out[f"{key}_indexed"], out[f"{key}_groups"] = done.indexed, done.groups
        print(f"  refresh: {out['refresh_indexed']} cases indexed, {out['refresh_groups']} "
              f"groups in {out['refresh_s']:.1f} s; again with nothing new "
              f"({out['refresh_again_indexed']} indexed, {out['refresh_again_groups']} "
              f"groups) in {out['refresh_again_s']:.2f} s")
        if engine.dialect.name == "postgresql":
            # What autovacuum soon does after a refresh: the first one marks every case
            # indexed (an UPDATE of each row), leaving as many dead row versions behind.
            seconds = _analyze(engine, "cases", "case_terms", "clusters", "cluster_cases",
                               vacuum=True)
            print(f"  VACUUM ANALYZE after the refresh (autovacuum's work) in {seconds:.1f} s")
    finally:
        engine.dispose()


def _analyze(engine: Any, *tables: str, vacuum: bool = False) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(("VACUUM ANALYZE " if vacuum else "ANALYZE ") + ", ".join(tables))
    return time.perf_counter() - started


def add_lead(url: str, password: str) -> None:
    """A lead in the store, added with `intake agents add` as an operator would."""
    env = common.child_env()
    env["INTAKE_DATABASE_URL"] = url
    done = subprocess.run([sys.executable, "-m", "bot.cli", "agents", "add", LEAD,
                           "--name", "Bench Lead", "--role", "lead", "--password-stdin"],
                          input=password + "\n", text=True, capture_output=True, env=env,
                          cwd=common.ROOT, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"intake agents add: exit {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[:500]}")


# --------------------------------------------------------------------------- HTTP


def log_in(client: httpx.Client, password: str) -> str:
    """Sign the lead in (the session cookie stays in `client`); the page's CSRF token."""
    r = client.post("/console/login", data={"login": LEAD, "password": password})
    if r.status_code != 303 or not client.cookies:
        raise WrongAnswer(f"log-in answered {r.status_code}, not 303 with a cookie")
    r = client.get("/console")
    found = CSRF.search(r.text)
    if r.status_code != 200 or not found:
        raise WrongAnswer(f"GET /console answered {r.status_code} without a CSRF token")
    return found.group(1)


def check_page(r: httpx.Response, view: View, cases: list[dict[str, Any]], today: date
               ) -> int:
    """The page's total, after checking it against the generated cases of its period."""
    if r.status_code != 200:
        raise WrongAnswer(f"{view.label}: HTTP {r.status_code}: {r.text[:200]!r}")
    text = r.text
    total, start, end = TOTAL.search(text), FROM.search(text), TO.search(text)
    if not (total and start and end):
        raise WrongAnswer(f"{view.label}: no total or period on the page")
    first, last = date.fromisoformat(start.group(1)), date.fromisoformat(end.group(1))
    if view.days is None:
        # The server's today, which may have passed midnight since `today`.
        if (last - first).days + 1 != DEFAULT_DAYS or last not in (today, today + timedelta(1)):
            raise WrongAnswer(f"{view.label}: period {first}..{last}, not the last "
                              f"{DEFAULT_DAYS} days to {today}")
    elif (first, last) != (today - timedelta(days=view.days - 1), today):
        raise WrongAnswer(f"{view.label}: period {first}..{last}, not as asked")
    want = expected(cases, first, last, view.business)
    if int(total.group(1)) != want:
        raise WrongAnswer(f"{view.label}: the dashboard's total is {total.group(1)}, the "
                          f"store has {want} cases received {first}..{last}"
                          + (f" of {view.business}" if view.business else ""))
    return want


def time_view(client: httpx.Client, view: View, cases: list[dict[str, Any]], today: date,
              repeat: int, server: common.Server, pg_db: str | None) -> dict[str, Any]:
    """Warm-up then `repeat` timed requests of one view; each answer checked."""
    params = view.params(today)
    for _ in range(WARMUP):
        check_page(client.get("/console/reports", params=params), view, cases, today)
    times: list[float] = []
    size = total = 0
    cpu0, pg0 = server.tree_cpu(), _postgres_cpu(pg_db)
    for _ in range(repeat):
        started = time.perf_counter()
        r = client.get("/console/reports", params=params)
        times.append(time.perf_counter() - started)
        total = check_page(r, view, cases, today)
        size = len(r.content)
    cpu1, pg1 = server.tree_cpu(), _postgres_cpu(pg_db)
    fig = {"label": view.label, "short": view.short, "judged": view.judged, "params": params,
           "p50_ms": common.percentile(times, 0.5) * 1e3,
           "p95_ms": common.percentile(times, 0.95) * 1e3, "max_ms": max(times) * 1e3,
           "kib": size / 1024, "total": total,
           "server_cpu_ms": (cpu1 - cpu0) / repeat * 1e3,
           "pg_cpu_ms": (pg1 - pg0) / repeat * 1e3 if pg_db else None}
    pg = f", PostgreSQL {fig['pg_cpu_ms']:.0f}" if pg_db else ""
    print(f"  {view.label:<24} p50 {fig['p50_ms']:7.0f} ms  p95 {fig['p95_ms']:7.0f} ms  "
          f"max {fig['max_ms']:7.0f} ms  {fig['kib']:6.0f} KiB  total {total} (checked); "
          f"CPU ms/request: server {fig['server_cpu_ms']:.0f}{pg}")
    return fig


def time_exports(client: httpx.Client, cases: list[dict[str, Any]], today: date
                 ) -> dict[str, Any]:
    """One CSV and one XLSX export of the last EXPORT_DAYS days' cases, rows checked."""
    from openpyxl import load_workbook

    start = today - timedelta(days=EXPORT_DAYS - 1)
    want = expected(cases, start, today)
    out: dict[str, Any] = {}
    for fmt in ("csv", "xlsx"):
        params = {"kind": "cases", "format": fmt, "from": start.isoformat(),
                  "to": today.isoformat()}
        meanwhile: dict[str, Any] = {}
        customer = threading.Thread(target=_customer_meanwhile,
                                    args=(str(client.base_url), meanwhile), daemon=True)
        started = time.perf_counter()
        customer.start()  # a customer writes while the export reads
        r = client.get("/console/reports/export", params=params)
        seconds = time.perf_counter() - started
        customer.join(30)
        if r.status_code != 200:
            raise WrongAnswer(f"{fmt} export: HTTP {r.status_code}: {r.text[:200]!r}")
        if fmt == "csv":
            rows = sum(1 for _ in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))) - 1
        else:
            book = load_workbook(io.BytesIO(r.content), read_only=True)
            rows = sum(1 for _ in book["cases"].iter_rows(values_only=True)) - 1
            book.close()
        if rows != want:
            raise WrongAnswer(f"{fmt} export: {rows} rows, the store has {want} cases "
                              f"received {start}..{today}")
        out[fmt] = {"rows": rows, "seconds": seconds, "mib": len(r.content) / 2**20,
                    "message_during": meanwhile}
        print(f"  {fmt.upper()} export of {EXPORT_DAYS} d: {rows} rows (checked) in "
              f"{seconds:.2f} s, {out[fmt]['mib']:.1f} MiB; a customer's message sent "
              f"{MEANWHILE_AFTER:.1f} s into it: HTTP {meanwhile.get('status')} in "
              f"{meanwhile.get('ms', float('nan')):.0f} ms")
    return out


MEANWHILE_AFTER = 0.5  # seconds into an export


def _customer_meanwhile(base: str, out: dict[str, Any]) -> None:
    """A web chat customer's first message, sent while an export runs: is it held up?"""
    time.sleep(MEANWHILE_AFTER)
    started = time.perf_counter()
    try:
        r = httpx.post(f"{base}/channels/webchat/messages", timeout=30, json={
            "visitor_id": secrets.token_hex(16), "text": "我的信用卡被多扣了年费",
            "client_message_id": "m1"})
        out["status"] = r.status_code
    except httpx.HTTPError as exc:
        out["status"] = type(exc).__name__
    out["ms"] = (time.perf_counter() - started) * 1e3


def time_lead_refresh(client: httpx.Client, csrf: str) -> float:
    """A lead's "recompute now" (POST /console/reports/refresh), nothing new to index."""
    started = time.perf_counter()
    r = client.post("/console/reports/refresh", data={"csrf": csrf})
    seconds = time.perf_counter() - started
    if r.status_code != 303:
        raise WrongAnswer(f"POST /console/reports/refresh answered {r.status_code}")
    print(f"  lead's refresh over HTTP (nothing new to index): {seconds:.2f} s")
    return seconds


# --------------------------------------------------------------------------- one target


def run_target(name: str, url: str, cases: list[dict[str, Any]], args: argparse.Namespace,
               workdir: Path, out: dict[str, Any]) -> None:
    """Seed, refresh, serve and time; the figures go into `out` as they come."""
    seed(url, cases, out)
    password = secrets.token_urlsafe(18)
    add_lead(url, password)
    port = common.free_port()
    env = common.child_env()
    env["INTAKE_DATABASE_URL"] = url
    env["INTAKE_REPORTS_REFRESH_SECONDS"] = "86400"  # no scheduled refresh while timing
    server = common.Server(name, [sys.executable, "-m", "bot.cli", "serve", "--host",
                                  "127.0.0.1", "--port", str(port)],
                           env, workdir / f"{name}.log")
    try:
        started = time.perf_counter()
        server.start(common.healthz(port), args.start_timeout, died=DIED, late=LATE)
        ready = time.perf_counter()
        print(f"  server ready in {ready - started:.1f} s")
        pg_db = _pg_database(url)
        out["startup_refresh_cpu_s"] = wait_startup_refresh(server, ready, pg_db)
        print(f"  the service's own refresh {START_DELAY:g} s after start (nothing to store): "
              f"{out['startup_refresh_cpu_s']:.2f} s of CPU, server and database (waited out, "
              "not timed)")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=args.timeout) as client:
            csrf = log_in(client, password)
            today = datetime.now(casegen.ZONE).date()
            out["views"] = {v.key: time_view(client, v, cases, today, args.repeat, server,
                                             pg_db) for v in VIEWS}
            out["exports"] = time_exports(client, cases, today)
            out["lead_refresh_s"] = time_lead_refresh(client, csrf)
    finally:
        server.stop()
        out["server_log_problems"] = log_problems(server.log, name)


def wait_startup_refresh(server: common.Server, ready: float, pg_db: str | None) -> float:
    """Wait out the service's own refresh START_DELAY s after start, so that no timed request
    shares the server with it: with the groups just refreshed it stores nothing, but it
    computes them before it looks at the time of the last refresh. Its end is when the
    server and its PostgreSQL backends go quiet. The CPU seconds it used (both)."""
    def cpu() -> float:
        return server.tree_cpu() + _postgres_cpu(pg_db)

    time.sleep(max(0.0, ready + START_DELAY - 1.0 - time.perf_counter()))
    first = cpu()  # before it began: all its CPU is counted
    time.sleep(max(0.0, ready + START_DELAY + 0.2 - time.perf_counter()))
    last = cpu()
    deadline = time.perf_counter() + 600
    while time.perf_counter() < deadline:
        time.sleep(QUIET_SECONDS)
        now = cpu()
        if now - last < QUIET_CPU:
            break
        last = now
    return last - first


def log_problems(log: Path, name: str) -> list[str]:
    """The server log's warnings and errors (a slow page can make other work wait), printed
    once each with how often they came."""
    try:
        lines = log.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    seen: dict[str, int] = {}
    for line in lines:
        found = PROBLEM.search(line)
        if found:  # from the level on: the time stamp would make each line differ
            key = line[found.start():].strip()[:200]
            seen[key] = seen.get(key, 0) + 1
    for line, n in seen.items():
        print(f"  {name} server log: {line}" + (f" (x{n})" if n > 1 else ""))
    return [f"{line} (x{n})" if n > 1 else line for line, n in seen.items()]


@contextlib.contextmanager
def store_url(name: str, args: argparse.Namespace, workdir: Path) -> Any:
    if name == "sqlite":
        yield f"sqlite:///{workdir / 'intake.db'}"
    else:
        with postgres_database(args.pg_admin_url) as url:
            yield url


# --------------------------------------------------------------------------- report


def goals(results: dict[str, dict[str, Any]], targets: list[str], failures: dict[str, str]
          ) -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for name in targets:
        goal = GOAL_MS[name]
        text = f"{LABELS[name]} dashboard p50 under {goal:.0f} ms"
        views = results.get(name, {}).get("views")
        if not views:
            why = "the run failed" if name in failures else "not measured"
            verdicts[name] = {"goal": text, "met": None, "ms": None, "detail": why}
            continue
        judged = {k: f["p50_ms"] for k, f in views.items() if f["judged"]}
        worst = max(judged.values())
        detail = f"{worst:.0f} ms; " + ", ".join(f"{views[k]['short']} {ms:.0f} ms"
                                                 for k, ms in judged.items())
        verdicts[name] = {"goal": text, "met": worst < goal, "ms": round(worst, 1),
                          "detail": detail}
    return verdicts


def summary(results: dict[str, dict[str, Any]], verdicts: dict[str, Any],
            failures: dict[str, str], args: argparse.Namespace) -> None:
    print(f"\nsummary ({args.cases} cases over {DAYS} days; {WARMUP} warm-up + "
          f"{args.repeat} timed requests per view, one keep-alive client)")
    print(f"  {'target':<12}{'view':<26}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'KiB':>7}")
    for name, res in results.items():
        for fig in res.get("views", {}).values():
            print(f"  {name:<12}{fig['label']:<26}{fig['p50_ms']:>8.0f}{fig['p95_ms']:>8.0f}"
                  f"{fig['max_ms']:>8.0f}{fig['kib']:>7.0f}")
    for name, res in results.items():
        parts = []
        if "seed_s" in res:
            parts.append(f"seeding {res['seed_s']:.1f} s")
        if "refresh_again_s" in res:
            parts.append(f"refresh {res['refresh_s']:.1f} s (again, nothing new: "
                         f"{res['refresh_again_s']:.2f} s)")
        ex = res.get("exports")
        if ex:
            parts.append(f"{EXPORT_DAYS}-day export of {ex['csv']['rows']} cases: CSV "
                         f"{ex['csv']['seconds']:.2f} s, XLSX {ex['xlsx']['seconds']:.2f} s")
        if "lead_refresh_s" in res:
            parts.append(f"lead's refresh over HTTP {res['lead_refresh_s']:.2f} s")
        if parts:
            print(f"  {name}: " + "; ".join(parts))
    for name, why in failures.items():
        print(f"  {name:<12}FAILED ({why.splitlines()[0][:120]})")
    print(f"goals (judged on {RULE})")
    for verdict in verdicts.values():
        met = {True: "met", False: "NOT MET", None: "not evaluated"}[verdict["met"]]
        print(f"  {verdict['goal']}: {met} ({verdict['detail']})")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated: " + ", ".join(TARGETS))
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per view")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="where to CREATE/DROP the benchmark's database")
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0,
                        help="seconds to wait for the server's /healthz")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object to stdout (the human report to stderr)")
    args = parser.parse_args()
    if args.cases < 1 or args.repeat < 1:
        parser.error("--cases and --repeat must be >= 1")
    targets = common.names_option(parser, "--targets", args.targets, TARGETS)

    human = sys.stderr if args.json else sys.stdout
    with contextlib.redirect_stdout(human):
        results, failures = run_all(args, targets)
        verdicts = goals(results, targets, failures)
        summary(results, verdicts, failures, args)
    if args.json:
        print(json.dumps({"cases": args.cases, "days": DAYS, "repeat": args.repeat,
                          "warmup": WARMUP, "rule": RULE, "targets": _rounded(results),
                          "failed": failures, "goals": verdicts}, ensure_ascii=False))
    if failures:
        sys.exit(1)


def run_all(args: argparse.Namespace, targets: list[str]
            ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    today = datetime.now(casegen.ZONE).date()
    started = time.perf_counter()
    cases = casegen.generate(args.cases, DAYS, today)
    print(f"reports dashboard: {args.cases} cases received over the {DAYS} days to {today} "
          f"(generated in {time.perf_counter() - started:.1f} s); targets "
          f"{', '.join(targets)}")
    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="intake-reports-") as tmp:
        for name in targets:
            print(f"\n{LABELS[name]}")
            try:
                with store_url(name, args, Path(tmp)) as url:
                    run_target(name, url, cases, args, Path(tmp), results.setdefault(name, {}))
            except (WrongAnswer, common.ServerError, RuntimeError, OSError,
                    httpx.HTTPError) as exc:
                print(f"  FAILED: {exc}")
                failures[name] = f"{type(exc).__name__}: {exc}"
    return results, failures


if __name__ == "__main__":
    main()
