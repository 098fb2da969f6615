"""Telegram benchmark: the service's webhook against a plain python-telegram-bot form bot.

    python -m bench.telegram [--customers 50] [--seconds 20] [--targets service,form]

One fake Bot API (`bench/fake_bot_api.py`: the tests' `FakeTelegram` in its own process, on
uvloop) receives every target's sends and pushes each recorded sendMessage over a WebSocket to
the load client. Then, for each target, a server is started as its own process on a free port
and stopped at the end:

* service: `intake serve` (`python -m bot.cli serve`) on a fresh SQLite file, in Telegram
  webhook mode (`POST /channels/telegram/webhook` with the secret header);
* form: `bench/form_bot.py`, a PTB `ConversationHandler` form on PTB's own webhook server,
  with PTB's defaults (one update at a time, no send pacing);
* form-paced (not in the default list): the same with PTB's `AIORateLimiter`.

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
bottleneck. At the end the service's database is checked: one stored inbound message per
update it accepted, one case per case number the client saw.
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
    _get_json(f"{fake_url}/bench/reset", "POST")
    port = common.free_port()
    secret = secrets.token_urlsafe(24)
    env = common.child_env()
    api_base = f"{fake_url}/bot"
    if name == "service":
        url = f"sqlite:///{workdir / 'intake.db'}"
        env.update(INTAKE_DATABASE_URL=url, INTAKE_TELEGRAM_TOKEN=token,
                   INTAKE_TELEGRAM_API_BASE=api_base, INTAKE_TELEGRAM_WEBHOOK_SECRET=secret,
                   INTAKE_LOG_LEVEL="WARNING")
        argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port)]
        ready = common.healthz(port)
        kind = "service"
    else:
        data = workdir / name
        argv = [sys.executable, "-m", "bench.form_bot", "--port", str(port), "--token", token,
                "--api-base", api_base, "--secret", secret, "--data", str(data)]
        if name == "form-paced":
            argv.append("--rate-limit")
        ready = _form_ready(port, fake_url)
        kind = "form"
    server = common.Server(name, argv, env, workdir / f"{name}.log")
    try:
        server.start(ready, args.start_timeout)
        result = run_load(name, kind, port, target_no, args, dialogues, server, fake, fake_url,
                          fake_port, token, secret)
    finally:
        server.stop()
    if name == "service":
        result.store_cases, result.db_messages_in = common.count_rows(url)
    else:
        result.store_cases = _form_cases(workdir / name / "cases.db")
    return result


# --------------------------------------------------------------------------- report


def _ms(values: list[float], q: float) -> str:
    return f"{common.percentile(values, q) * 1e3:.2f}" if values else "-"


def report(r: Result) -> bool:
    """Print one target's figures; False when the store check fails."""
    s, secs = r.stats, r.seconds
    print(f"  complaints/s {s.complaints / secs:7.2f}   messages/s {s.messages / secs:8.1f}"
          f"   p50 {_ms(s.latencies, 0.5)} ms   p99 {_ms(s.latencies, 0.99)} ms"
          f"   errors {s.errors}")
    cores = os.cpu_count() or 1
    client = common.core_percent(s.cpu_window, secs)
    server = common.core_percent(r.server_cpu, secs)
    fake = common.core_percent(r.fake_cpu, secs)
    machine = common.machine_percent(r.machine_busy, r.machine_total, cores)
    print(f"  CPU over the window, % of one core: client {client:.0f}% "
          f"({r.client_processes} process(es)), bot {server:.0f}%, fake Bot API {fake:.0f}%; "
          f"machine {machine:.0f}% of {cores * 100}%")
    fs = r.fake_stats

    def ms(v: float | None) -> str:
        return f"{v * 1e3:.2f}" if v is not None else "-"

    print(f"  fake Bot API: {fs['sends']} sendMessage in the window ({fs['calls']} calls), "
          f"its handling time p50 {ms(fs['send_p50'])} ms, p99 {ms(fs['send_p99'])} ms, "
          f"max {ms(fs['send_max'])} ms; push feed to the client p50 {_ms(s.feed_lags, 0.5)} "
          f"ms, p99 {_ms(s.feed_lags, 0.99)} ms")
    common.print_notes(s, [(common.NO_CASE, s.no_case_total),
                           ("reply messages that did not end a turn", s.informational_total),
                           ("sends after a dialogue's case number (extra lines)",
                            s.stray_total)])
    ok = True
    if r.db_messages_in is not None:
        msgs_ok = r.db_messages_in == s.accepted_total and s.replied_total <= s.accepted_total
        cases_ok = r.store_cases == s.complaints_total
        ok = msgs_ok and cases_ok
        print(f"  database: {r.db_messages_in} stored inbound messages vs {s.accepted_total} "
              f"updates accepted (200; {s.posted_total} posted, {s.replied_total} replies "
              f"seen): {'OK' if msgs_ok else 'MISMATCH'}")
        print(f"  database: {r.store_cases} cases vs {s.complaints_total} case numbers seen: "
              f"{'OK' if cases_ok else 'MISMATCH'}")
    elif r.store_cases is not None:
        print(f"  form bot's store: {r.store_cases} cases vs {s.complaints_total} case numbers "
              "seen")
    return ok


def main() -> None:
    parser = common.load_parser(__doc__, customers=50, seconds=20.0)
    parser.add_argument("--targets", default="service,form",
                        help="comma-separated: service, form, form-paced")
    common.add_client_arguments(parser, client_processes=1)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="per turn (post + reply), seconds")
    parser.add_argument("--start-timeout", type=float, default=90.0)
    args = parser.parse_args()
    targets = common.names_option(parser, "--targets", args.targets,
                                  ("service", "form", "form-paced"))
    dialogues = common.checked_dialogues(parser, args)
    nproc = common.client_count(args.client_processes, args.customers)
    print(f"Telegram webhook: {args.customers} closed-loop customers in {nproc} client "
          f"process(es), {args.warmup:g} s warm-up + {args.seconds:g} s measured, "
          f"{len(dialogues)} dialogues from {args.dialogues.name}, one fake Bot API process")
    print(f"machine: {os.cpu_count()} CPU cores shared by the client, the bot and the fake")
    labels = {"service": "service on SQLite (intake serve, 1 process, webhook mode)",
              "form": "form bot (PTB ConversationHandler + PicklePersistence, run_webhook)",
              "form-paced": "form bot with PTB's AIORateLimiter"}
    token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"
    results: dict[str, Result] = {}
    failed = False
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
                print(f"\n{labels[name]}")
                result = common.try_target(run_target, name, no, args, dialogues, workdir,
                                           fake, fake_url, fake_port, token)
                if result is None:
                    failed = True
                    continue
                results[name] = result
                failed |= not report(result)
        finally:
            fake.stop()
    if results:
        print("\nsummary")
        print(f"  {'target':<12}{'cases/s':>10}{'msgs/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
              f"{'errors':>8}")
        for name, r in results.items():
            s = r.stats
            print(f"  {name:<12}{s.complaints / r.seconds:>10.2f}{s.messages / r.seconds:>10.1f}"
                  f"{_ms(s.latencies, 0.5):>10}{_ms(s.latencies, 0.99):>10}{s.errors:>8}")
        service, form = results.get("service"), results.get("form")
        if service and form:
            def ratio(a: float, b: float) -> str:
                return f"{a / b:.2f}x" if b else "n/a"

            print(f"  service / form bot: complaints/s "
                  f"{ratio(service.stats.complaints, form.stats.complaints)} (goal >= 5x), "
                  f"messages/s {ratio(service.stats.messages, form.stats.messages)} "
                  "(goal >= 3x)")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
