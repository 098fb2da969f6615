"""200 web chat customers at once through the real service: the writer commits many
messages per transaction, and still every message is stored once, in order, and every
confirmed complaint is one case. Half the messages are delivered twice (at the same time,
or again after the answer), as a flaky network does."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.store.models import Case, ChannelIdentity, Conversation, Message
from channels import webchat
from tests.service.conftest import LiveServer, serving

CUSTOMERS = 200
DEV = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "dev.jsonl"
CONFIRM = {"zh": "确认", "en": "yes"}
DONT_KNOW = {"zh": "不知道", "en": "I don't know"}


def _dialogues() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]


async def _send(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST one message until it is answered. A 503 or a connection lost is no
    acknowledgement: the widget sends again with the same id, as here."""
    for _ in range(20):
        try:
            response = await client.post("/channels/webchat/messages", json=body)
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return response.json()
        await asyncio.sleep(0.5)
    raise AssertionError("not answered after 20 tries")


async def _customer(client: httpx.AsyncClient, dialogue: dict[str, Any], rng: random.Random,
                    log: dict[str, list[tuple[str, str]]]) -> str:
    """Play one dialogue to its case number; the visitor id."""
    visitor = secrets.token_urlsafe(18)
    lang = dialogue.get("lang", "zh")
    text = dialogue["opening"]
    for turn in range(12):
        body = {"visitor_id": visitor, "text": text, "client_message_id": f"m{turn}",
                "lang": lang}
        how = rng.random()
        if how < 0.25:  # delivered twice at once: one is written, both get its answer
            answers = await asyncio.gather(_send(client, body), _send(client, body))
            assert [a["duplicate"] for a in answers].count(False) <= 1
            assert answers[0]["replies"] == answers[1]["replies"]
            data = answers[0]
        else:
            data = await _send(client, body)
            if how < 0.5:  # delivered again after the answer: the same answer, nothing new
                again = await _send(client, body)
                assert again["duplicate"] is True
                assert again["replies"] == data["replies"]
        log[visitor].append((f"m{turn}", text))
        waiting = data["waiting_for"]
        if waiting is None:
            break
        text = CONFIRM[lang] if waiting == "confirm" else \
            dialogue.get("answers", {}).get(waiting, DONT_KNOW[lang])
    return visitor


async def _crowd(url: str) -> dict[str, list[tuple[str, str]]]:
    dialogues = _dialogues()
    rng = random.Random(15)
    log: dict[str, list[tuple[str, str]]] = defaultdict(list)
    limits = httpx.Limits(max_connections=CUSTOMERS * 2, max_keepalive_connections=CUSTOMERS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(_customer(client, dialogues[i % len(dialogues)],
                                         random.Random(rng.random()), log)
                               for i in range(CUSTOMERS)))
    return log


@pytest.fixture
def patient(database_url: str) -> Iterator[LiveServer]:
    """The service with a store timeout long enough for the whole crowd's queue: this test
    is about what is stored, not how fast (bench/e2e.py measures that)."""
    with serving(Settings(database_url=database_url, db_timeout_seconds=60,
                          _env_file=None)) as server:
        yield server


def test_two_hundred_customers_at_once_are_stored_once_in_order_one_case_each(
        patient: LiveServer) -> None:
    live = patient
    log = asyncio.run(_crowd(live.url))
    assert len(log) == CUSTOMERS
    # The writer did put several messages in one transaction (else this tests nothing new).
    assert live.service.pipeline.writer.batches > 0

    with live.service.sessions() as session:
        rows = session.execute(
            select(ChannelIdentity.external_id, Message)
            .join(Conversation, Conversation.identity_id == ChannelIdentity.id)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(ChannelIdentity.channel == "webchat")
            .order_by(Message.id)).all()
        cases = session.execute(
            select(ChannelIdentity.external_id, Case.number)
            .join(Conversation, Conversation.identity_id == ChannelIdentity.id)
            .join(Case, Case.conversation_id == Conversation.id)).all()

    stored: dict[str, list[Message]] = defaultdict(list)
    for visitor, message in rows:
        stored[visitor].append(message)
    for visitor, sent in log.items():
        messages = stored[visitor]
        inbound = [m for m in messages if m.direction == "in"]
        # Every message once, in the order the customer sent them.
        assert [m.text for m in inbound] == [text for _, text in sent], visitor
        assert [webchat.client_message_id(m.external_id or "") for m in inbound] == \
            [mid for mid, _ in sent], visitor
        # The visitor id is a credential: no stored message keeps it.
        assert not any(visitor in json.dumps(m.raw or {}) for m in messages)
        # Each answer follows the message it answers, before the customer's next one.
        current = None
        for m in messages:
            if m.direction == "in":
                current = m.id
            else:
                assert m.reply_to_id == current, visitor
    numbers = defaultdict(list)
    for visitor, number in cases:
        numbers[visitor].append(number)
    # One case per confirmation: every dialogue here ends confirmed, once.
    assert {v: len(n) for v, n in numbers.items()} == {v: 1 for v in log}
    assert len({n for ns in numbers.values() for n in ns}) == CUSTOMERS
