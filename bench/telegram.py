"""Telegram benchmark: the service's webhook against a plain python-telegram-bot form bot.

    python -m bench.telegram [--customers 50] [--seconds 20] [--json]
        [--targets service,service-capacity,form]

One fake Bot API (`bench/fake_bot_api.py`: the tests' `FakeTelegram` in its own process, on
uvloop) receives every target's sends and pushes each recorded sendMessage over a WebSocket to
the load client. Then, for each target in turn, a server is started as its own process on a
free port and stopped at the end:

* service: `intake serve` (`python -m bot.cli serve`) on a fresh SQLite file, in Telegram
  webhook mode (`POST /channels/telegram/webhook` with the secret header), paced as Telegram
  requires (INTAKE_TELEGRAM_MAX_PER_SECOND=30, INTAKE_TELEGRAM_PER_CHAT_PER_SECOND=1): its
  messages/s cannot exceed 30 by design, so this shows latency under Telegram's limits;
* service-capacity: the same with the pacing lifted (both settings at their maximum, 1000),
  to measure what the service itself can do;
* form: `bench/form_bot.py`, a PTB `ConversationHandler` form on PTB's own webhook server,
  with PTB's defaults (one update at a time, no send pacing) and its state in memory (PTB's
  `PicklePersistence` writes it to a file only every 60 s);
* form-paced (not in the default list): the same with PTB's `AIORateLimiter`.

The default runs all three of service, service-capacity and form (about 3 x (warm-up +
seconds + a few seconds to start), 80-90 s with the defaults); `--targets` picks others.

N closed-loop customers (asyncio, raw HTTP/1.1 keep-alive, one connection each) each post an
Update as Telegram would (the fake's `text_update(..., push=False)` builds it; one chat per
dialogue), wait until the bot's reply to that chat is recorded by the fake, then send the
next message, until a case number arrives; then the next dev-set dialogue (round-robin) in a
new chat. The service's customers answer what its reply asks (its question texts are read
from the engine's message catalog); the form bot's answer its six questions in order from
the dialogue's `answers` ("不知道"/"I don't know" when missing) then confirm.

A reply turn ends at the first message that asks something, asks for confirmation or holds
a case number; latency is from posting the update to the fake recording that message. The
fake's CPU use and its own handling time of sendMessage, the push feed's delay and the
client's CPU use are printed so a reader can judge whether the fake or the client was the
bottleneck; the summary judges it (either above 80% of one core in any target: it may have
been) and says when the machine's cores were all busy. At the end the service's database is
checked: one stored inbound message per update it accepted, one case per case number the
client saw (a count, after the run: it shows a message lost, not one stored late).

The summary's table has one line per target, then the ratios service-capacity / form bot for
messages/s and complaints/s against the issue's goals (>= 1.5x and >= 5x), met or not.

--json: the human report goes to stderr and stdout holds only one JSON object: `settings`,
`targets` (per target: `messages_per_s`, `complaints_per_s`, `p50_ms`, `p99_ms`, `errors`,
`cpu_percent` of one core for `client`, `server`, `fake_bot_api`, the `machine` and the
`other` busy time, the fake's timings, counts and the store check), `failed_targets`,
`ratios` (`service-capacity/form`: per figure `value`, `goal`, `met`; null unless both ran),
`bottleneck` and `ok`. Missing values are null. The exit status is 1 when a target failed to
run or a store check failed (not when a goal is not met).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common

SERVICE_PATH = "/channels/telegram/webhook"
FORM_PATH = "/telegram"
FORM_SLOTS = ("name", "phone", "business", "description", "incident_time", "resolution")
CHATS_PER_BLOCK = 10**8  # chat ids of one client process of one target: [base, base + this)


# --------------------------------------------------------------------------- reading replies


def _template(text: str) -> re.Pattern[str]:
    """A catalog text with `{placeholders}` as a pattern that finds it inside a message."""
    parts = re.split(r"\{[^{}]*\}", text)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.S)


def _prompts() -> list[tuple[re.Pattern[str], str]]:
    """(pattern, what it asks): the engine's questions, re-asks and confirmation prompts."""
    from workflow import catalog

    found: list[tuple[re.Pattern[str], str]] = []
    for lang in catalog.LANGUAGES:
        messages = catalog._messages(lang)
        for group in ("ask", "reprompt"):
            for key, text in messages.get(group, {}).items():
                slot = key.removesuffix("_exact").removesuffix("_future")
                if slot != "generic":
                    found.append((_template(text), slot))
        for key in ("summary_footer", "confirm_again"):
            found.append((_template(messages[key]), "confirm"))
        found.append((_template(messages["what_to_change"]), "change"))
    return found


def classify(text: str, prompts: list[tuple[re.Pattern[str], str]]) -> str | None:
    """"filed", a slot, "confirm" or "change" for a message that ends a turn; None for one
    that only informs (an acknowledgement, a warning): more follows."""
    if common.CASE_NUMBER.search(text):
        return "filed"
    best: tuple[int, str] | None = None
    for pattern, what in prompts:
        match = pattern.search(text)
        if match and (best is None or match.start() > best[0]):
            best = (match.start(), what)  # the question nearest the end is the one asked
    return best[1] if best else None


# --------------------------------------------------------------------------- load client


@dataclass
class ClientStats(common.LoadStats):
    """`LoadStats`: latencies from posting an update to the fake recording the reply;
    `messages`: customer messages whose reply was seen; `errors`: failed turns;
    `no_case_total`: dialogues that ran out of script or turns without a case."""

    feed_lags: list[float] = field(default_factory=list)  # window: fake recorded -> client saw
    posted_total: int = 0  # every update posted, warm-up and drain included
    accepted_total: int = 0  # every update answered 200 by the webhook
    replied_total: int = 0  # every turn whose reply was seen
    informational_total: int = 0  # reply messages that did not end a turn
    stray_total: int = 0  # sends to chats no customer was waiting on (after a case number)


class Feed:
    """The fake's push feed of sends, routed to the chat each customer is waiting on."""

    def __init__(self, url: str, stats: ClientStats, warm_end: float, end: float) -> None:
        self.url, self.stats, self.warm_end, self.end = url, stats, warm_end, end
        self.chats: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        async with connect(self.url, max_size=None, compression=None) as ws:
            self.ready.set()
            async for frame in ws:
                seen = time.monotonic()
                for event in json.loads(frame):
                    queue = self.chats.get(event["chat"])
                    if queue is None:
                        self.stats.stray_total += 1
                        continue
                    if self.warm_end <= seen < self.end:
                        self.stats.feed_lags.append(seen - event["t"])
                    queue.put_nowait(event)


async def _reply(queue: asyncio.Queue[dict[str, Any]], form: bool,
                 prompts: list[tuple[re.Pattern[str], str]],
                 stats: ClientStats) -> tuple[str, dict[str, Any]]:
    """Wait for the message that ends this turn: (what it asks, the fake's event)."""
    while True:
        event = await queue.get()
        text = event.get("text") or ""
        if form:
            return ("filed" if common.CASE_NUMBER.search(text) else "next"), event
        what = classify(text, prompts)
        if what is not None:
            return what, event
        stats.informational_total += 1


async def _customer(spec: common.Spec, index: int, stats: ClientStats, feed: Feed,
                    builder: Any, prompts: list[tuple[re.Pattern[str], str]],
                    warm_end: float, end: float) -> None:
    form = spec["kind"] == "form"
    conn = common.Connection("127.0.0.1", spec["port"],
                             {"X-Telegram-Bot-Api-Secret-Token": spec["secret"]})
    n = 0
    try:
        for d in common.round_robin(spec, index, end):
            chat = spec["chat_base"] + index * 100_000 + n
            n += 1
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            feed.chats[chat] = queue
            try:
                await _dialogue(spec, d, chat, queue, conn, form, stats, builder, prompts,
                                warm_end, end)
            finally:
                del feed.chats[chat]
    finally:
        await conn.close()


async def _dialogue(spec: common.Spec, d: common.Dialogue, chat: int,
                    queue: asyncio.Queue[dict[str, Any]], conn: common.Connection,
                    form: bool, stats: ClientStats, builder: Any,
                    prompts: list[tuple[re.Pattern[str], str]],
                    warm_end: float, end: float) -> None:
    lang = d.get("lang", "zh")
    unknown = common.dont_know(lang)
    confirm = common.confirm_word(lang)
    answers = d.get("answers", {})
    script = [d["opening"], *(answers.get(s, unknown) for s in FORM_SLOTS), confirm]
    path = FORM_PATH if form else SERVICE_PATH
    message = d["opening"]
    for turn in range(common.MAX_TURNS):
        update = builder.text_update(chat, message, push=False, first_name="Customer",
                                     language_code="zh-hans" if lang == "zh" else "en")
        body = json.dumps(update, ensure_ascii=False).encode()
        stats.posted_total += 1
        started = time.monotonic()
        deadline = started + spec["timeout"]
        try:
            status, _ = await asyncio.wait_for(conn.post(path, body), spec["timeout"])
        except common.REQUEST_ERRORS as exc:
            await conn.close()
            stats.count_error(type(exc).__name__, warm_end <= time.monotonic() < end)
            return
        if status != 200:
            stats.count_error(f"HTTP {status}", warm_end <= time.monotonic() < end)
            return
        stats.accepted_total += 1
        try:
            what, event = await asyncio.wait_for(_reply(queue, form, prompts, stats),
                                                 max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            stats.count_error("no reply in time", warm_end <= time.monotonic() < end)
            return
        done = time.monotonic()
        in_window = warm_end <= done < end
        stats.replied_total += 1
        if in_window:
            stats.messages += 1
            stats.latencies.append(event["t"] - started)
        if what == "filed":
            stats.complaints_total += 1
            stats.complaints += in_window
            return
        if done >= end:
            return  # time is up: do not send another message
        if form:
            if turn + 1 >= len(script):
                stats.no_case_total += 1
                return
            message = script[turn + 1]
        elif what == "confirm":
            message = confirm
        elif what == "change":
            stats.no_case_total += 1
            return
        else:
            message = answers.get(what, unknown)
    stats.no_case_total += 1


async def _client(spec: common.Spec) -> ClientStats:
    from tests.fakes.telegram_api import FakeTelegram

    # Not started: only its Update builders are used, with update ids of this process's own.
    builder = FakeTelegram(spec["token"], first_update_id=spec["first_update_id"])
    prompts = [] if spec["kind"] == "form" else _prompts()
    warm_end, end = common.window(spec)
    stats = ClientStats()
    lo = spec["chat_base"]
    feed = Feed(f"ws://127.0.0.1:{spec['fake_port']}/bench/sends?lo={lo}"
                f"&hi={lo + CHATS_PER_BLOCK}", stats, warm_end, end)
    reader = asyncio.create_task(feed.run())
    await asyncio.wait_for(feed.ready.wait(), 10)
    probe = asyncio.create_task(common.cpu_window(warm_end, end))
    try:
        await asyncio.gather(*(_customer(spec, i, stats, feed, builder, prompts, warm_end, end)
                               for i in range(spec["customers"])))
        stats.cpu_window = await probe
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    return stats


# --------------------------------------------------------------------------- processes


def _get_json(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


def _form_ready(port: int, fake: str) -> common.ReadyCheck:
    def check() -> str | None:
        try:
            url = _get_json(f"{fake}/bench/stats")["webhook_url"]
        except (OSError, ValueError) as exc:
            return f"fake: {exc}"
        if not url.endswith(f":{port}{FORM_PATH}"):
            return "setWebhook not called yet"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return None
        except OSError as exc:
            return str(exc)
    return check


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    label: str
    kind: str  # "service" or "form": which client script and which store check
    pacing: tuple[tuple[str, str], ...] = ()  # the service's pacing settings (environment)
    form_args: tuple[str, ...] = ()  # extra arguments of bench/form_bot.py


TELEGRAM_LIMITS = (("INTAKE_TELEGRAM_MAX_PER_SECOND", "30"),
                   ("INTAKE_TELEGRAM_PER_CHAT_PER_SECOND", "1"))
LIFTED = (("INTAKE_TELEGRAM_MAX_PER_SECOND", "1000"),
          ("INTAKE_TELEGRAM_PER_CHAT_PER_SECOND", "1000"))
TARGETS = {
    "service": Target("service at Telegram's limits (intake serve on SQLite, 1 process, "
                      "webhook; 30 messages/s overall, 1 per chat)", "service", TELEGRAM_LIMITS),
    "service-capacity": Target("service, pacing lifted (capacity): the same, 1000 messages/s "
                               "overall and per chat", "service", LIFTED),
    "form": Target("form bot, unpaced (PTB ConversationHandler, state in memory with "
                   "PicklePersistence, run_webhook)", "form"),
    "form-paced": Target("form bot with PTB's AIORateLimiter", "form",
                         form_args=("--rate-limit",)),
}
DEFAULT_TARGETS = "service,service-capacity,form"
CAPACITY, BASELINE = "service-capacity", "form"
GOALS = (("messages_per_s", "messages/s", 1.5), ("complaints_per_s", "complaints/s", 5.0))
NEAR_FULL_CORE = 80.0  # % of one core above which a single-process client or fake may limit
MACHINE_BUSY = 0.9  # share of all cores above which the machine counts as saturated


# --------------------------------------------------------------------------- one target


@dataclass
class Result:
    name: str
    seconds: float
    stats: ClientStats
    client_processes: int
    server_cpu: float
    fake_cpu: float
    machine_busy: float
    machine_total: float
    fake_stats: dict[str, Any]
    store_cases: int | None = None
    db_messages_in: int | None = None


def run_load(name: str, kind: str, port: int, target_no: int, args: argparse.Namespace,
             dialogues: list[common.Dialogue], server: common.Server, fake: common.Server,
             fake_url: str, fake_port: int, token: str, secret: str) -> Result:
    specs = common.client_specs(args, dialogues, kind=kind, port=port, secret=secret,
                                token=token, fake_port=fake_port)
    for spec in specs:
        block = target_no * 10 + spec["proc"] + 1
        spec["chat_base"] = spec["first_update_id"] = block * CHATS_PER_BLOCK
    with common.LoadClients(_client, specs) as clients:
        (t0, server0, fake0, (busy0, all0)), (t1, server1, fake1, (busy1, all1)) = \
            common.sample_window(args.warmup, args.seconds, lambda: (
                time.monotonic(), server.cpu(), fake.cpu(), common.machine_busy()))
        parts = clients.results(args.timeout + 30)
        fake_stats = _get_json(f"{fake_url}/bench/stats?since={t0}&until={t1}")
    return Result(name, args.seconds, common.merge_stats(ClientStats(), parts), len(specs),
                  server1 - server0, fake1 - fake0, busy1 - busy0, all1 - all0, fake_stats)


def _form_cases(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM cases").fetchone()[0])
    finally:
        db.close()


def run_target(name: str, target_no: int, args: argparse.Namespace,
               dialogues: list[common.Dialogue], workdir: Path, fake: common.Server,
               fake_url: str, fake_port: int, token: str) -> Result:
    target = TARGETS[name]
    _get_json(f"{fake_url}/bench/reset", "POST")
    port = common.free_port()
    secret = secrets.token_urlsafe(24)
    env = common.child_env()
    api_base = f"{fake_url}/bot"
    url = f"sqlite:///{workdir / f'{name}.db'}"
    if target.kind == "service":
        # Explicit pacing, so that neither the caller's environment nor a .env file changes it.
        env.update(target.pacing)
        env.update(INTAKE_DATABASE_URL=url, INTAKE_TELEGRAM_TOKEN=token,
                   INTAKE_TELEGRAM_API_BASE=api_base, INTAKE_TELEGRAM_WEBHOOK_SECRET=secret,
                   INTAKE_LOG_LEVEL="WARNING")
        argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port)]
        ready = common.healthz(port)
    else:
        argv = [sys.executable, "-m", "bench.form_bot", "--port", str(port), "--token", token,
                "--api-base", api_base, f"--secret={secret}", "--data", str(workdir / name),
                *target.form_args]
        ready = _form_ready(port, fake_url)
    server = common.Server(name, argv, env, workdir / f"{name}.log")
    try:
        server.start(ready, args.start_timeout)
        result = run_load(name, target.kind, port, target_no, args, dialogues, server, fake,
                          fake_url, fake_port, token, secret)
    finally:
        server.stop()
    if target.kind == "service":
        result.store_cases, result.db_messages_in = common.count_rows(url)
    else:
        result.store_cases = _form_cases(workdir / name / "cases.db")
    return result


# --------------------------------------------------------------------------- figures


def _ms_of(values: list[float], q: float) -> float | None:
    return common.percentile(values, q) * 1e3 if values else None


def _ms_or_none(seconds: float | None) -> float | None:
    return seconds * 1e3 if seconds is not None else None


def figures(r: Result) -> dict[str, Any]:
    """One target's figures, as printed and as in the JSON (None where there is no value)."""
    s, secs = r.stats, r.seconds
    target = TARGETS[r.name]
    cores = os.cpu_count() or 1
    client = common.core_percent(s.cpu_window, secs)
    server = common.core_percent(r.server_cpu, secs)
    fake = common.core_percent(r.fake_cpu, secs)
    machine = common.machine_percent(r.machine_busy, r.machine_total, cores)
    fs = r.fake_stats
    store: dict[str, Any] = {"cases": r.store_cases, "case_numbers_seen": s.complaints_total,
                             "cases_ok": r.store_cases == s.complaints_total}
    if target.kind == "service":
        store.update(inbound_messages=r.db_messages_in, updates_accepted=s.accepted_total,
                     messages_ok=(r.db_messages_in == s.accepted_total
                                  and s.replied_total <= s.accepted_total))
        store["ok"] = store["cases_ok"] and store["messages_ok"]
    else:
        store["ok"] = None  # the form bot's store is shown, not checked
    return {
        "label": target.label,
        "pacing": dict(target.pacing) or None,
        "messages_per_s": s.messages / secs,
        "complaints_per_s": s.complaints / secs,
        "p50_ms": _ms_of(s.latencies, 0.5),
        "p99_ms": _ms_of(s.latencies, 0.99),
        "errors": s.errors,
        "errors_total": s.errors_total,
        "error_kinds": dict(s.error_kinds),
        "client_processes": r.client_processes,
        # % of one core over the measured window; "other": the rest of the machine's busy time
        # (other processes, the kernel's own work).
        "cpu_percent": {"client": client, "client_per_process": client / r.client_processes,
                        "server": server, "fake_bot_api": fake, "machine": machine,
                        "machine_max": cores * 100.0,
                        "other": max(0.0, machine - client - server - fake)},
        "fake_bot_api": {"send_messages": fs["sends"], "calls": fs["calls"],
                         "send_p50_ms": _ms_or_none(fs["send_p50"]),
                         "send_p99_ms": _ms_or_none(fs["send_p99"]),
                         "send_max_ms": _ms_or_none(fs["send_max"]),
                         "feed_lag_p50_ms": _ms_of(s.feed_lags, 0.5),
                         "feed_lag_p99_ms": _ms_of(s.feed_lags, 0.99)},
        "counts": {"posted": s.posted_total, "accepted": s.accepted_total,
                   "replied": s.replied_total, "case_numbers": s.complaints_total,
                   "no_case": s.no_case_total, "informational": s.informational_total,
                   "stray": s.stray_total},
        "store": store,
    }


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """service-capacity / form for each goal's figure: value (None when the form bot's is 0),
    goal and whether it is met; None unless both targets ran."""
    capacity, baseline = results.get(CAPACITY), results.get(BASELINE)
    if capacity is None or baseline is None:
        return None
    out: dict[str, Any] = {}
    for key, _, goal in GOALS:
        value = capacity[key] / baseline[key] if baseline[key] else None
        out[key] = {"value": value, "goal": goal,
                    "met": value is not None and value >= goal}
    return out


def bottleneck(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether the load client (per process) or the fake Bot API came near a full core in any
    target, and the targets in which the machine as a whole was saturated."""
    client = max(f["cpu_percent"]["client_per_process"] for f in results.values())
    fake = max(f["cpu_percent"]["fake_bot_api"] for f in results.values())
    saturated = [name for name, f in results.items()
                 if f["cpu_percent"]["machine"] >= MACHINE_BUSY * f["cpu_percent"]["machine_max"]]
    return {"client_max_percent": client, "fake_max_percent": fake,
            "threshold_percent": NEAR_FULL_CORE,
            "client_or_fake_limited": client >= NEAR_FULL_CORE or fake >= NEAR_FULL_CORE,
            "machine_saturated_in": saturated}


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def report(r: Result, f: dict[str, Any]) -> bool:
    """Print one target's figures; False when the store check fails."""
    s, cpu, fb = r.stats, f["cpu_percent"], f["fake_bot_api"]
    print(f"  complaints/s {f['complaints_per_s']:7.2f}   messages/s {f['messages_per_s']:8.1f}"
          f"   p50 {_fmt(f['p50_ms'])} ms   p99 {_fmt(f['p99_ms'])} ms   errors {f['errors']}")
    print(f"  CPU over the window, % of one core: client {cpu['client']:.0f}% "
          f"({r.client_processes} process(es)), bot {cpu['server']:.0f}%, fake Bot API "
          f"{cpu['fake_bot_api']:.0f}%, other {cpu['other']:.0f}%; machine {cpu['machine']:.0f}%"
          f" of {cpu['machine_max']:.0f}%")
    print(f"  fake Bot API: {fb['send_messages']} sendMessage in the window ({fb['calls']} calls)"
          f", its handling time p50 {_fmt(fb['send_p50_ms'])} ms, p99 {_fmt(fb['send_p99_ms'])}"
          f" ms, max {_fmt(fb['send_max_ms'])} ms; push feed to the client p50 "
          f"{_fmt(fb['feed_lag_p50_ms'])} ms, p99 {_fmt(fb['feed_lag_p99_ms'])} ms")
    common.print_notes(s, [(common.NO_CASE, s.no_case_total),
                           ("reply messages that did not end a turn", s.informational_total),
                           ("sends after a dialogue's case number (extra lines)",
                            s.stray_total)])
    store = f["store"]
    if TARGETS[r.name].kind == "service":
        print(f"  database: {store['inbound_messages']} stored inbound messages vs "
              f"{store['updates_accepted']} updates accepted (200; {s.posted_total} posted, "
              f"{s.replied_total} replies seen): {'OK' if store['messages_ok'] else 'MISMATCH'}")
        print(f"  database: {store['cases']} cases vs {store['case_numbers_seen']} case numbers "
              f"seen: {'OK' if store['cases_ok'] else 'MISMATCH'}")
        return bool(store["ok"])
    print(f"  form bot's store: {store['cases']} cases vs {store['case_numbers_seen']} case "
          "numbers seen")
    return True


def summary(results: dict[str, dict[str, Any]], found_ratios: dict[str, Any] | None,
            check: dict[str, Any]) -> None:
    print("\nsummary")
    print(f"  {'target':<18}{'cases/s':>9}{'msgs/s':>9}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'errors':>7}{'client%':>9}{'bot%':>6}{'fake%':>7}{'machine%':>10}")
    for name, f in results.items():
        cpu = f["cpu_percent"]
        print(f"  {name:<18}{f['complaints_per_s']:>9.2f}{f['messages_per_s']:>9.1f}"
              f"{_fmt(f['p50_ms']):>10}{_fmt(f['p99_ms']):>10}{f['errors']:>7}"
              f"{cpu['client']:>9.0f}{cpu['server']:>6.0f}{cpu['fake_bot_api']:>7.0f}"
              f"{cpu['machine']:>10.0f}")
    print("  (CPU: % of one core over the window; machine: all cores, up to "
          f"{next(iter(results.values()))['cpu_percent']['machine_max']:.0f}%)")
    if found_ratios is None:
        print(f"  {CAPACITY} / {BASELINE}: n/a (both targets must have run)")
    else:
        parts = []
        for key, what, _ in GOALS:
            ratio = found_ratios[key]
            value = "n/a (form bot: 0)" if ratio["value"] is None else f"{ratio['value']:.2f}x"
            parts.append(f"{what} {value} (goal >= {ratio['goal']:g}x: "
                         f"{'met' if ratio['met'] else 'NOT met'})")
        print(f"  {CAPACITY} / {BASELINE}: " + ", ".join(parts))
    limit = check["threshold_percent"]
    if check["client_or_fake_limited"]:
        print(f"  bottleneck check: the load client (up to {check['client_max_percent']:.0f}% "
              f"of a core per process) or the fake Bot API (up to "
              f"{check['fake_max_percent']:.0f}%) came within reach of a full core "
              f"(>= {limit:g}%): it may have limited the figures (try --client-processes)")
    else:
        print(f"  bottleneck check: the load client (at most {check['client_max_percent']:.0f}%"
              f" of a core per process) and the fake Bot API (at most "
              f"{check['fake_max_percent']:.0f}%) stayed below {limit:g}% of a core in every "
              "target: neither was the bottleneck")
    if check["machine_saturated_in"]:
        print(f"  the machine's cores were (nearly) all busy in "
              f"{', '.join(check['machine_saturated_in'])}: the bot shared them with the "
              "client, the fake and any other work (the 'other' CPU above)")


def run(args: argparse.Namespace, targets: list[str],
        dialogues: list[common.Dialogue]) -> tuple[dict[str, dict[str, Any]], list[str], bool]:
    """Run each target in turn, printing its figures: (figures by target, the targets that
    failed to run, whether all ran and passed their store checks)."""
    nproc = common.client_count(args.client_processes, args.customers)
    print(f"Telegram webhook: {args.customers} closed-loop customers in {nproc} client "
          f"process(es), {args.warmup:g} s warm-up + {args.seconds:g} s measured, "
          f"{len(dialogues)} dialogues from {args.dialogues.name}, one fake Bot API process")
    print(f"machine: {os.cpu_count()} CPU cores shared by the client, the bot and the fake")
    token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"
    found: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="intake-telegram-") as tmp:
        workdir = Path(tmp)
        port_file = workdir / "fake.port"
        fake = common.Server("fake Bot API",
                             [sys.executable, "-m", "bench.fake_bot_api", "--token", token,
                              "--port-file", str(port_file)],
                             common.child_env(), workdir / "fake.log")

        def fake_ready() -> str | None:
            if not port_file.exists():
                return "no port yet"
            return common.healthz(int(port_file.read_text()))()

        try:
            fake.start(fake_ready, args.start_timeout)
            fake_port = int(port_file.read_text())
            fake_url = f"http://127.0.0.1:{fake_port}"
            for no, name in enumerate(targets):
                print(f"\n{name}: {TARGETS[name].label}")
                result = common.try_target(run_target, name, no, args, dialogues, workdir,
                                           fake, fake_url, fake_port, token)
                if result is None:
                    failed.append(name)
                    ok = False
                    continue
                found[name] = figures(result)
                ok &= report(result, found[name])
        except common.ServerError as exc:  # the fake itself did not start
            print(f"  FAILED: {exc}")
            failed.extend(name for name in targets if name not in found)
            ok = False
        finally:
            fake.stop()
    return found, failed, ok


def main() -> None:
    parser = common.load_parser(__doc__, customers=50, seconds=20.0)
    parser.add_argument("--targets", default=DEFAULT_TARGETS,
                        help=f"comma-separated: {', '.join(TARGETS)} (default {DEFAULT_TARGETS})")
    common.add_client_arguments(parser, client_processes=1)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="per turn (post + reply), seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout, the human report on stderr")
    args = parser.parse_args()
    targets = common.names_option(parser, "--targets", args.targets, TARGETS)
    dialogues = common.checked_dialogues(parser, args)
    human = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with human:
        found, failed_targets, ok = run(args, targets, dialogues)
        found_ratios = ratios(found)
        check = bottleneck(found) if found else None
        if check is not None:
            summary(found, found_ratios, check)
    if args.json:
        nproc = common.client_count(args.client_processes, args.customers)
        print(json.dumps({
            "benchmark": "telegram",
            "settings": {"customers": args.customers, "client_processes": nproc,
                         "warmup_s": args.warmup, "seconds": args.seconds,
                         "dialogues": args.dialogues.name, "dialogue_count": len(dialogues),
                         "cores": os.cpu_count() or 1, "targets": targets},
            "targets": found,
            "failed_targets": failed_targets,
            "ratios": {f"{CAPACITY}/{BASELINE}": found_ratios},
            "bottleneck": check,
            "ok": ok,
        }, ensure_ascii=False))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
