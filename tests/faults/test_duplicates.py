"""Faults: duplicate storms, on SQLite and on PostgreSQL.

Against the real service (`python -m bot.cli serve` as a child process), every message of
several concurrent dialogues is sent three times at once: web chat POSTs with the same
client_message_id, Telegram webhook calls with the same update. Each copy must be answered
200 at its first try; the store must hold one inbound message per message, one set of
replies per message, one case per dialogue; the three web chat responses carry the same
replies (exactly one of them is not marked a duplicate); no reply reaches the fake Bot API
twice.

    INTAKE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m pytest tests/faults/test_duplicates.py -s

Each run prints one line starting with "FAULTS storm".
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.telegram_api import FakeTelegram
from tests.faults.killload import (
    CASE_NUMBER,
    MAX_TURNS,
    TG_TOKEN,
    WEBCHAT_PATH,
    Persona,
    Played,
    SentWatcher,
    ServiceProcess,
    case_numbers_sent,
    check_store,
    check_webchat_replies,
    http_client,
    new_cmid,
    new_visitor,
    post_until_ack,
    replies_stored,
    reply_duplicates,
    telegram_dialogue,
    telegram_env,
    wait_outbox_settled,
)

DIALOGUES = 6
COPIES = 3


def _backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


async def _storm_webchat_dialogue(client: httpx.AsyncClient, url: str, persona: Persona,
                                  played: Played) -> None:
    """One web chat dialogue, each message POSTed COPIES times at once. Every copy must be
    answered 200 at once, all with the same replies, exactly one not marked a duplicate."""
    prefix = "fk" + secrets.token_hex(6)
    text = persona.opening()
    for turn in range(MAX_TURNS):
        cmid = new_cmid(prefix, turn)
        body = {"visitor_id": played.user, "text": text, "client_message_id": cmid}
        answers = await asyncio.gather(*(post_until_ack(client, url + WEBCHAT_PATH, body,
                                                        timeout=20) for _ in range(COPIES)))
        assert [sends for _, sends in answers] == [1] * COPIES, f"a copy of {body} failed"
        datas: list[dict[str, Any]] = [response.json() for response, _ in answers]
        played.sends += COPIES
        played.keys.append(cmid)
        played.texts.append(text)
        played.replies.append(datas[0]["replies"])
        assert all(d["replies"] == datas[0]["replies"] for d in datas), (
            f"{COPIES} copies of {text!r} got different replies: {datas}")
        assert all(d["waiting_for"] == datas[0]["waiting_for"] for d in datas), datas
        fresh = [d for d in datas if not d["duplicate"]]
        assert len(fresh) == 1, f"{len(fresh)} of {COPIES} copies were not duplicates: {datas}"
        found = CASE_NUMBER.search(" ".join(r["text"] for r in datas[0]["replies"]))
        if found:
            played.case_number = found.group(0)
            played.complete = True
            return
        text = persona.answer(datas[0]["waiting_for"])
    raise AssertionError(f"no case number after {MAX_TURNS} turns: {played.texts}")


def test_duplicate_storm_webchat(database_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    service = ServiceProcess(database_url, tmp_path)
    played = [Played("webchat", new_visitor()) for _ in range(DIALOGUES)]

    async def run() -> None:
        await service.start()
        rng = random.Random("storm-webchat")
        async with http_client(DIALOGUES * COPIES * 2) as client:
            await asyncio.wait_for(asyncio.gather(*(
                _storm_webchat_dialogue(client, service.url, Persona.draw(rng, style=i % 3), p)
                for i, p in enumerate(played))), 60)

    try:
        asyncio.run(run())
    finally:
        service.stop()
    figures = check_store(database_url, played)
    figures.assert_sound()
    replies = check_webchat_replies(database_url, played, figures)
    print(f"FAULTS storm webchat/{_backend(database_url)}: dialogues {len(played)}, copies "
          f"{COPIES}, requests {sum(p.sends for p in played)}, messages stored "
          f"{figures.stored['webchat']} of {figures.acknowledged['webchat']}, duplicates "
          f"stored {figures.duplicates['webchat']}, replies stored {replies}, cases "
          f"{figures.cases['webchat']}, wall {time.monotonic() - started:.1f} s", flush=True)
    assert figures.cases["webchat"] == DIALOGUES and figures.duplicates["webchat"] == 0


def test_duplicate_storm_telegram(database_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    played = [Played("telegram", str(710_000_000 + i)) for i in range(DIALOGUES)]
    with FakeTelegram(token=TG_TOKEN) as tg:
        service = ServiceProcess(database_url, tmp_path, telegram_env(tg))
        watcher = SentWatcher(tg, interval=0.05)

        async def run() -> None:
            await service.start()
            poller = asyncio.create_task(watcher.run())
            rng = random.Random("storm-telegram")
            try:
                async with http_client(DIALOGUES * COPIES * 2) as client:
                    await asyncio.wait_for(asyncio.gather(*(
                        telegram_dialogue(client, service.url, tg, watcher,
                                          Persona.draw(rng, style=0), p, copies=COPIES,
                                          reply_wait=15.0)
                        for p in played)), 60)
                status = await wait_outbox_settled(database_url, "telegram", 20.0)
                assert set(status) == {"delivered"}, dict(status)
                await asyncio.sleep(1.0)  # a second send of anything would show by now
            finally:
                poller.cancel()

        try:
            asyncio.run(run())
            case_numbers_sent(watcher, played)
            duplicates_sent, reply_problems = reply_duplicates(database_url, watcher,
                                                               [p.user for p in played])
            send_calls = len(tg.calls_to("sendMessage"))
        finally:
            service.stop()
    figures = check_store(database_url, played)
    stored = replies_stored(database_url, list(figures.inbound_ids.values()))
    replies = sum(len(r) for r in stored.values())
    unanswered = [key for key, i in figures.inbound_ids.items() if not stored.get(i)]
    print(f"FAULTS storm telegram/{_backend(database_url)}: dialogues {len(played)}, copies "
          f"{COPIES}, updates posted {sum(p.sends for p in played)}, messages stored "
          f"{figures.stored['telegram']} of {figures.acknowledged['telegram']}, duplicates "
          f"stored {figures.duplicates['telegram']}, replies queued {replies}, sendMessage "
          f"calls {send_calls}, replies received twice {duplicates_sent.total()}, cases "
          f"{figures.cases['telegram']}, wall {time.monotonic() - started:.1f} s", flush=True)
    figures.assert_sound()
    assert not reply_problems, "\n".join(reply_problems[:20])
    assert not unanswered, f"messages without a reply: {unanswered}"
    assert all(p.sends == COPIES * len(p.keys) for p in played), "an update was not answered 200"
    assert all(p.reply_timeouts == 0 for p in played)
    assert [p.user for p in played if p.case_number is None] == []
    assert figures.cases["telegram"] == DIALOGUES and figures.duplicates["telegram"] == 0
    assert not duplicates_sent and send_calls == replies
