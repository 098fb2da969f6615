"""The console's rules on their own: who may see and do what, the wait a customer is told,
which channel can still be reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console import rules
from bot.console.rules import Actor, Refused, Situation

AGENT = Actor(1, "wang", "王芳", "agent")
OTHER = Actor(2, "zhou", "周杰", "agent")
LEAD = Actor(3, "lina", "李娜", "lead")
WAITING = Situation(status="bot", waiting=True)
BOT = Situation(status="bot", waiting=False)
HELD = Situation(status="handoff", waiting=False, holder_id=1, holder_name="王芳")
CLOSED = Situation(status="closed", waiting=False)
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def refused(call, *args) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value


def test_an_agent_sees_the_queue_and_their_own_and_a_lead_everything() -> None:
    rules.may_view(AGENT, WAITING)
    rules.may_view(AGENT, HELD)
    rules.may_view(LEAD, HELD)
    rules.may_view(LEAD, BOT)
    no = refused(rules.may_view, OTHER, HELD)
    assert no.status == 403 and "王芳" in no.message and "王芳" in no.in_language("zh")
    assert refused(rules.may_view, OTHER, BOT).status == 403
    assigned = Situation(status="bot", waiting=False, case_agent_id=2)
    rules.may_view(OTHER, assigned)
    assert refused(rules.may_view, AGENT, assigned).code == "case_elsewhere"


def test_two_agents_cannot_take_the_same_conversation() -> None:
    rules.may_take(AGENT, WAITING)
    second = refused(rules.may_take, OTHER, HELD)
    assert second.status == 409 and second.values == {"name": "王芳"}
    assert refused(rules.may_take, AGENT, HELD).code == "yours_already"
    assert refused(rules.may_take, AGENT, CLOSED).code == "closed"
    # Only a lead steps into a conversation nobody asked a person for.
    assert refused(rules.may_take, AGENT, BOT).code == "not_waiting"
    rules.may_take(LEAD, BOT)


def test_only_the_holder_replies_and_the_holder_or_a_lead_hands_back_or_closes() -> None:
    rules.may_reply(AGENT, HELD)
    assert refused(rules.may_reply, OTHER, HELD).code == "take_first"
    assert refused(rules.may_reply, LEAD, HELD).code == "take_first"
    rules.may_release(AGENT, HELD)
    rules.may_release(LEAD, HELD)
    assert refused(rules.may_release, OTHER, HELD).status == 403
    assert refused(rules.may_release, AGENT, WAITING).code == "not_held"
    rules.may_close(AGENT, HELD)
    rules.may_close(LEAD, WAITING)
    assert refused(rules.may_close, AGENT, WAITING).code == "take_first"
    assert refused(rules.may_close, LEAD, CLOSED).code == "closed"


def test_only_a_lead_reassigns_and_only_to_an_active_other_agent() -> None:
    rules.may_reassign(LEAD, HELD, 2, True)
    rules.may_reassign(LEAD, WAITING, 2, True)
    assert refused(rules.may_reassign, AGENT, HELD, 2, True).code == "lead_only"
    assert refused(rules.may_reassign, LEAD, HELD, 2, False).code == "agent_disabled"
    assert refused(rules.may_reassign, LEAD, HELD, 1, True).code == "same_agent"
    assert refused(rules.may_edit_canned, AGENT).code == "lead_only"
    rules.may_edit_canned(LEAD)


def test_the_wait_grows_with_the_queue_and_shrinks_with_agents() -> None:
    assert rules.estimate_wait(0, 0) is None
    first = rules.estimate_wait(0, 1)
    assert first is not None and first >= 1
    assert rules.estimate_wait(5, 1) > rules.estimate_wait(1, 1)  # type: ignore[operator]
    assert rules.estimate_wait(5, 4) < rules.estimate_wait(5, 1)  # type: ignore[operator]


def test_wechat_is_out_of_reach_48_hours_after_the_customers_last_message() -> None:
    assert rules.out_of_reach("wechat", NOW - timedelta(hours=47), NOW) is None
    assert rules.out_of_reach("wechat", NOW - timedelta(hours=48), NOW) == "window_closed"
    assert rules.out_of_reach("wechat", None, NOW) == "window_closed"
    assert rules.out_of_reach("telegram", NOW - timedelta(days=30), NOW) is None
    assert rules.out_of_reach("webchat", None, NOW) is None
    assert rules.out_of_reach("hotline", NOW, NOW) == "hotline"


def test_placeholders_are_filled_and_unknown_ones_left_for_the_agent() -> None:
    text = "您好{customer_name}，案件 {case_number} 将于 {due_date} 前答复。"
    filled = rules.fill_placeholders(text, {"customer_name": "张伟", "case_number": None,
                                            "due_date": "2026-12-18"})
    assert filled == "您好张伟，案件 {case_number} 将于 2026-12-18 前答复。"


def test_every_refusal_reads_in_both_languages() -> None:
    for code in rules.catalog("en")["refused"]:
        assert code in rules.catalog("zh")["refused"]
    assert set(rules.catalog("en")) == set(rules.catalog("zh"))
    for group in ("reason_label", "callback_label", "channel_label"):
        assert set(rules.catalog("en")[group]) == set(rules.catalog("zh")[group])
