"""Untrusted JSON at the edge: hostile shapes get a reason, never a crash or a store error."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.store.models import ChannelIdentity, Customer, Message, OutboxItem
from channels.base import MAX_ID_CHARS, MAX_NAME_CHARS, Inbound, InvalidPayload
from channels.wire import MAX_DEPTH, UnsafeJson, load_json

NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    (json.dumps({"a": json.loads("[" * 100 + "]" * 100)}).encode(), "nested too deeply"),
    (b'{"text": ' + b"9" * 5000 + b"}", "digits"),
    (b'{"id": ' + b"1" * 30 + b"}", "digits"),
    (b'{"x": NaN}', "NaN"),
    (b'{"x": -Infinity}', "Infinity"),
    (b'{"x": 1e999}', "out of range"),
    (b'{"text": "\\ud800"}', "surrogate"),
])
def test_hostile_json_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(UnsafeJson) as refused:
        load_json(body)
    assert reason in refused.value.detail


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe{}", b"[1,]", b"{\"a\": 1"])
def test_broken_json_is_invalid_but_not_hostile(body: bytes) -> None:
    with pytest.raises(InvalidPayload) as refused:
        load_json(body)
    assert not isinstance(refused.value, UnsafeJson)


def test_nul_characters_are_removed_everywhere_and_the_rest_kept() -> None:
    body = json.dumps({"te\u0000xt": "卡号\u0000 6222", "n": [1, 2.5, {"k": "\u0000"}],
                       "id": 2**62}).encode()
    assert load_json(body) == {"text": "卡号 6222", "n": [1, 2.5, {"k": ""}], "id": 2**62}


def test_the_deepest_real_payload_passes() -> None:
    deep: object = "leaf"
    for _ in range(MAX_DEPTH - 1):
        deep = {"a": deep}
    assert load_json(json.dumps(deep)) == deep


def test_inbound_ids_fit_the_store_and_hold_no_nul() -> None:
    # The limits are the columns' own: an id that fits the check fits every table.
    for column in (ChannelIdentity.external_id, Message.external_id, OutboxItem.recipient):
        assert column.type.length == MAX_ID_CHARS
    assert Customer.name.type.length == MAX_NAME_CHARS
    ok = {"channel": "telegram", "user_id": "1", "message_id": "m1", "text": "hi",
          "timestamp": NOW}
    for field, value in (("user_id", "u" * 129), ("message_id", "m" * 129),
                         ("user_id", "a\x00b"), ("message_id", "")):
        with pytest.raises(InvalidPayload):
            Inbound(**{**ok, field: value})
    kept = Inbound(**{**ok, "text": "a\x00b", "display_name": "名" * 500})
    assert kept.text == "ab" and len(kept.display_name or "") == MAX_NAME_CHARS
