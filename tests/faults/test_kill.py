"""Faults: kill -9 of the service under load, on SQLite and on PostgreSQL.

The real service (`python -m bot.cli serve`, web chat and the Telegram webhook on, a fake Bot
API on 127.0.0.1) runs as a child process. Closed-loop customers play whole complaints on
both channels at once: web chat visitors over HTTP, answering what the bot asks, and Telegram
chats posting updates to the webhook, each waiting (a bounded while) for the bot's reply to
arrive at the fake Bot API before the next message. Meanwhile the server process is SIGKILLed
three times and restarted on the same database and port; the first kill is aimed at a moment
when the fake Bot API holds a sendMessage open (Telegram takes the message, the killed process
never learns it went out), the others fall wherever the load is.

A message counts once acknowledged (HTTP 200); until then the client sends the same message
again (same client_message_id, same update), as the widget and Telegram do. Afterwards the
store must hold every acknowledged message exactly once, in order, one conversation and one
case per dialogue told a case number, and day counters equal to the cases of each day; web
chat answers must be the stored replies; every Telegram reply must be delivered and received
by the fake Bot API. Replies received twice are counted and bounded: at most kills x chats
(each chat has one reply in flight), and per chat at most the replies a killed process had
claimed (only those can go out twice, and only once more).

Both channels share one run per backend: replies claimed by a killed process wait out the
outbox lease (`bot.store.outbox.LEASE`, 60 s) before anyone sends them again, so every run
that kills during Telegram traffic lasts at least that long after its last kill.

    INTAKE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m pytest tests/faults/test_kill.py -s

Each run prints one line per channel starting with "FAULTS kill-9".
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bot.store.outbox import LEASE
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.killload import (
    TG_TOKEN,
    Persona,
    Played,
    SentWatcher,
    ServiceProcess,
    StoreFigures,
    case_numbers_sent,
    check_store,
    check_webchat_replies,
    http_client,
    new_visitor,
    reply_duplicates,
    stranded_leases,
    telegram_dialogue,
    telegram_env,
    wait_outbox_settled,
    webchat_dialogue,
)

WEB_CUSTOMERS = 8
TG_CUSTOMERS = 8
KILL_AFTER = (2.0, 2.5, 3.0)  # seconds of load before each kill (counted from readiness)
TAIL = 1.5  # seconds of load after the last restart before customers stop starting dialogues
MAX_DIALOGUES = 200  # per customer (time ends the load first)
DRAIN = 45.0  # the customers' current dialogues must end within this after load stops
REPLY_WAIT = 4.0  # a Telegram customer goes on after this without a reply
HOLD = 2.5  # the fake Bot API holds the sendMessage the first kill is aimed at this long


def _backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


async def _load_with_kills(service: ServiceProcess, customers: list[asyncio.Task[None]],
                           stop_new: asyncio.Event,
                           aim: Callable[[int], Awaitable[None]]) -> None:
    """SIGKILL and restart the service after each pause of KILL_AFTER (and `aim(kill
    index)`); stop new dialogues TAIL seconds after the last restart; let the current ones
    finish. Any customer's failure fails the run."""

    def raise_early_failures() -> None:
        for task in customers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                task.result()

    try:
        for index, pause in enumerate(KILL_AFTER):
            await asyncio.sleep(pause)
            await aim(index)
            raise_early_failures()
            service.kill9()
            await service.start()
        await asyncio.sleep(TAIL)
        stop_new.set()
        done, pending = await asyncio.wait(customers, timeout=DRAIN)
        assert not pending, f"{len(pending)} customers did not finish within {DRAIN:.0f} s"
        for task in done:
            task.result()
    finally:
        for task in customers:
            task.cancel()
        await asyncio.gather(*customers, return_exceptions=True)


def _summary(channel: str, backend: str, service: ServiceProcess, played: list[Played],
             figures: StoreFigures, customers: int, extra: str) -> None:
    mine = [p for p in played if p.channel == channel]
    acknowledged = sum(len(p.keys) for p in mine)
    resends = sum(p.sends for p in mine) - acknowledged
    ready = "/".join(f"{s:.2f}" for s in service.ready_seconds[1:])
    print(f"FAULTS kill-9 {channel}/{backend}: customers {customers}, dialogues {len(mine)}, "
          f"messages acknowledged {acknowledged}, stored {figures.stored[channel]}, "
          f"duplicates stored {figures.duplicates[channel]}, resends {resends}, cases "
          f"{figures.cases[channel]}, kills {service.kills}, ready after restart {ready} s "
          f"(first start {service.ready_seconds[0]:.2f} s){extra}", flush=True)


def test_kill9_under_load(database_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    played: list[Played] = []
    after_last_kill: list[float] = []  # seconds until the outbox had nothing pending
    # Replies leased by a killed process, per chat, and the rows waiting behind them.
    stranded: list[tuple[Counter[str], int]] = []
    aimed: list[bool] = []  # the first kill struck while a sendMessage was held open

    with FakeTelegram(token=TG_TOKEN) as tg:
        service = ServiceProcess(database_url, tmp_path, telegram_env(tg))
        watcher = SentWatcher(tg, interval=0.15)

        async def web_customer(index: int, stop_new: asyncio.Event,
                               client: httpx.AsyncClient) -> None:
            rng = random.Random(f"webchat-{index}")
            for _ in range(MAX_DIALOGUES):
                if stop_new.is_set():
                    return
                record = Played("webchat", new_visitor())
                played.append(record)
                await webchat_dialogue(client, service.url, Persona.draw(rng), record)

        async def tg_customer(index: int, stop_new: asyncio.Event,
                              client: httpx.AsyncClient) -> None:
            rng = random.Random(f"telegram-{index}")
            for n in range(MAX_DIALOGUES):
                if stop_new.is_set():
                    return
                record = Played("telegram", str(700_000_000 + index * 1000 + n))
                played.append(record)
                await telegram_dialogue(client, service.url, tg, watcher,
                                        Persona.draw(rng, style=0), record,
                                        reply_wait=REPLY_WAIT)

        async def aim(index: int) -> None:
            """The first kill strikes while a sendMessage is held open by the fake Bot API:
            Telegram takes the message, the killed process never learns it was sent."""
            if index != 0:
                return

            def open_calls() -> int:  # sendMessage calls in flight (none fail in this test)
                return len(tg.calls_to("sendMessage")) - len(tg.sent)

            tg.delay_next("sendMessage", HOLD)
            deadline = time.monotonic() + 10
            while True:
                assert time.monotonic() < deadline, "no sendMessage held open within 10 s"
                if open_calls() > 0:
                    await asyncio.sleep(0.2)  # a call still open now is the held one
                    if open_calls() > 0:
                        break
                await asyncio.sleep(0.05)
            aimed.append(True)

        async def run() -> None:
            await service.start()
            poller = asyncio.create_task(watcher.run())
            stop_new = asyncio.Event()
            try:
                async with http_client((WEB_CUSTOMERS + TG_CUSTOMERS) * 2) as client:
                    customers = (
                        [asyncio.create_task(web_customer(i, stop_new, client))
                         for i in range(WEB_CUSTOMERS)]
                        + [asyncio.create_task(tg_customer(i, stop_new, client))
                           for i in range(TG_CUSTOMERS)])
                    await _load_with_kills(service, customers, stop_new, aim)
                # Replies a killed process had claimed wait out their lease, and later
                # replies to the same chats wait behind them (bot.store.outbox).
                stranded.append(await asyncio.to_thread(
                    stranded_leases, database_url, "telegram", service.kill_clock[-1]))
                last_kill = service.kill_times[-1]
                bound = max(20.0, last_kill + LEASE.total_seconds() + 20.0 - time.monotonic())
                status = await wait_outbox_settled(database_url, "telegram", bound)
                after_last_kill.append(time.monotonic() - last_kill)
                assert set(status) == {"delivered"}, (
                    f"Telegram outbox not all delivered {after_last_kill[0]:.0f} s after the "
                    f"last kill: {dict(status)}")
            finally:
                poller.cancel()

        try:
            asyncio.run(run())
            telegram = [p for p in played if p.channel == "telegram"]
            case_numbers_sent(watcher, telegram)
            duplicates_sent, reply_problems = reply_duplicates(database_url, watcher,
                                                               [p.user for p in telegram])
        finally:
            service.stop()

    figures = check_store(database_url, played)
    backend = _backend(database_url)
    wall = time.monotonic() - started
    replays = sum(p.replays for p in played)
    _summary("webchat", backend, service, played, figures, WEB_CUSTOMERS,
             f", answered as redeliveries (stored before a kill) {replays}, reply duplicates "
             f"n/a (replies come in the response), wall {wall:.1f} s")
    bound = service.kills * TG_CUSTOMERS
    timeouts = sum(p.reply_timeouts for p in telegram)
    leased, behind = stranded[0]
    _summary("telegram", backend, service, played, figures, TG_CUSTOMERS,
             f", reply duplicates {duplicates_sent.total()} (bound {bound}; most to one chat "
             f"{max(duplicates_sent.values(), default=0)}), turns without a reply "
             f"within {REPLY_WAIT:g} s {timeouts}, first kill during a held sendMessage "
             f"{'yes' if all(aimed) else 'no'}, replies left in a killed process's lease "
             f"{leased.total()} (holding back {behind} more), outbox drained "
             f"{after_last_kill[0]:.1f} s after the last kill, wall {wall:.1f} s")

    figures.assert_sound()
    check_webchat_replies(database_url, played, figures)
    assert not reply_problems, "\n".join(reply_problems[:20])
    assert service.kills == len(KILL_AFTER) and aimed == [True]
    assert all(p.complete for p in played)
    unfiled = [(p.channel, p.user) for p in played if p.case_number is None]
    assert not unfiled, f"dialogues never told their case number: {unfiled}"
    assert figures.stored == figures.acknowledged
    assert sum(figures.duplicates.values()) == 0
    # A reply is sent twice only when a killed process had claimed it, and once more at most.
    assert duplicates_sent.total() <= bound
    over = {chat: (n, leased[chat]) for chat, n in duplicates_sent.items() if n > leased[chat]}
    assert not over, f"chats sent more duplicates than replies left in leases: {over}"
