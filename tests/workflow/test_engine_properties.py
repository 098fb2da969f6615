"""Whatever a customer sends, in whatever state, the engine answers and keeps a valid state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.engine import Engine
from workflow.model import (
    QUESTIONS,
    WAIT_CONFIRM,
    CaseFiled,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    LookupStatus,
    State,
    StatusResult,
)

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))
ENGINE = Engine()

# States reached by real conversations, so random text lands in every stage.
PREFIXES = [
    [],
    ["我要投诉！"],
    ["我要投诉！", "柜员态度很差"],
    ["我是张伟，手机13912345678。昨天在南山支行ATM取款约两千元没出钞，请退钱"],
    ["我是张伟，手机13912345678。昨天在南山支行ATM取款2000元没出钞，请退钱", "确认"],
    ["I want to complain about your hotline", "nobody answers"],
    ["转人工"],
]
TEXT = st.one_of(
    st.text(max_size=4000),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(
        [
            "确认",
            "取消",
            "不知道",
            "yes",
            "转人工",
            "查询进度 TS20261128-0042",
            "",
            "电话写错了，是139",
            "no, the amount was 500",
            "１３９１１１１２２２２",
        ]
    ),
)


def _state_after(prefix: list[str]) -> State | None:
    state = None
    for message in prefix:
        step = ENGINE.step(state, message, NOW)
        state = _settle(step)[0]
    return state


def _settle(step):
    """Carry out what the shell would, returning the state and all replies."""
    replies = list(step.replies)
    state = step.state
    for event in step.events:
        if isinstance(event, FileCase):
            done = ENGINE.resume(state, CaseFiled("TS20261128-0001", "2026-12-13"), NOW)
            state, replies = done.state, replies + list(done.replies)
        elif isinstance(event, LookupStatus):
            done = ENGINE.resume(state, StatusResult(event.case_number, False), NOW)
            state, replies = done.state, replies + list(done.replies)
        elif isinstance(event, HandoffRequested):
            done = ENGINE.resume(state, HandoffQueued(event.reason, 0, None), NOW)
            state, replies = done.state, replies + list(done.replies)
    return state, replies


STATES = [_state_after(p) for p in PREFIXES]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(STATES) - 1), messages=st.lists(TEXT, min_size=1, max_size=3))
def test_any_input_in_any_state_gets_a_reply_and_a_valid_state(index, messages):
    state = STATES[index]
    for message in messages:
        step = ENGINE.step(state, message, NOW)
        state, replies = _settle(step)
        assert replies, (message, state)
        assert all(isinstance(r.text, str) and r.text for r in replies)
        assert state.waiting_for in (*QUESTIONS, WAIT_CONFIRM, None)
        data = json.loads(json.dumps(state.to_dict()))
        assert State.from_dict(data) == state
