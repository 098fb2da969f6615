"""Handing a conversation to a person, as the customer sees it: when the bot asks for one,
what it says while they wait (with or without agents online) and what agents' actions say."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest

from workflow import catalog
from workflow.engine import Engine
from workflow.model import (
    WAIT_CONFIRM,
    CaseFiled,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    SensitiveFound,
    State,
)

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))
OFFLINE = HandoffQueued("customer_request", agents_online=0, wait_minutes=None)


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine()
    e.warm_up()
    return e


def talk(engine: Engine, *messages: str, state=None):
    """The customer's messages, with every handoff queued as the shell does (nobody online)."""
    step = None
    for m in messages:
        step = engine.step(state, m, NOW)
        for reason in reasons(step):
            step = engine.resume(step.state, HandoffQueued(reason, 0, None), NOW)
        state = step.state
    return step


def reasons(step) -> list[str]:
    return [e.reason for e in step.events if isinstance(e, HandoffRequested)]


def question(lang: str, slot: str) -> str:
    return catalog.text(lang, "ask.name_phone" if slot == "name+phone" else f"ask.{slot}")


# ---- the three triggers --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "lang"), [
    ("转人工", "zh"),
    ("人工客服", "zh"),
    ("I want to talk to a human", "en"),
    ("agent", "en"),
])
def test_asking_for_a_person_requests_one(engine, text, lang):
    state = engine.new_state(lang)
    step = engine.step(state, text, NOW)
    assert reasons(step) == ["customer_request"]
    assert step.state.handoff_requested and step.state.handoff_reason == "customer_request"
    # Nothing is asked yet: the shell first finds out whether anyone is online.
    assert step.replies == ()
    done = engine.resume(step.state, HandoffQueued("customer_request", 0, None), NOW)
    assert done.replies[-1].text == question(lang, "description")
    assert done.waiting_for == "description"


def test_asking_again_requests_again(engine):
    first = talk(engine, "转人工")
    again = engine.step(first.state, "转人工", NOW)
    assert reasons(again) == ["customer_request"]
    queued = HandoffQueued("customer_request", 1, 4, already_queued=True)
    done = engine.resume(again.state, queued, NOW)
    assert "已在等候" in done.replies[0].text and "4分钟" in done.replies[0].text
    assert done.replies[-1].text == question("zh", "description")


@pytest.mark.parametrize(("text", "lang"), [
    ("我的卡被盗刷了5000元", "zh"),
    ("My card was stolen and someone took 5000 yuan from it", "en"),
])
def test_an_urgent_message_requests_a_person(engine, text, lang):
    step = engine.step(None, text, NOW)
    assert reasons(step) == ["urgent"]
    assert step.state.handoff_reason == "urgent"
    pending = step.waiting_for
    assert pending is not None
    # The bot keeps the details it read, and asks nothing before the shell has queued it.
    assert not step.replies
    assert step.state.description == [text]
    done = engine.resume(step.state, HandoffQueued("urgent", 2, 5), NOW)
    lead = done.replies[0].text
    assert ("资金安全" in lead) if lang == "zh" else ("money may be at risk" in lead)
    assert "5" in lead
    assert done.waiting_for == pending
    assert done.replies[-1].text == question(lang, pending)


def test_no_second_urgent_handoff(engine):
    first = talk(engine, "我的卡被盗刷了5000元")
    second = engine.step(first.state, "我的信用卡也被盗刷了", NOW)
    assert reasons(second) == []
    # The bot just goes on asking.
    assert second.replies[-1].text == question("zh", second.state.waiting_for)


def test_a_waiting_customer_who_turns_out_urgent_is_escalated_once(engine):
    asked = talk(engine, "转人工")
    step = engine.step(asked.state, "我的卡被盗刷了5000元", NOW)
    assert reasons(step) == ["urgent"]  # the shell moves them to the front of the queue
    queued = engine.resume(step.state, HandoffQueued("urgent", 1, 3, already_queued=True), NOW)
    assert queued.state.handoff_reason == "urgent"
    assert "资金" in queued.replies[0].text or "优先" in queued.replies[0].text
    again = engine.step(queued.state, "又被刷了一笔2000元", NOW)
    assert reasons(again) == []


def test_urgent_while_confirming_and_after_filing(engine):
    opening = "我是张伟，手机13912345678。昨天在南山支行办理存款，柜员态度很差，希望道歉。"
    summary = talk(engine, opening)
    assert summary.waiting_for == WAIT_CONFIRM and not summary.state.handoff_requested
    step = engine.step(summary.state, "另外我的银行卡也被人盗刷了", NOW)
    assert reasons(step) == ["urgent"]
    assert not step.replies  # the question about the stolen money waits for `resume`
    done = engine.resume(step.state, HandoffQueued("urgent", 0, None), NOW)
    assert done.waiting_for == "amount"
    assert done.replies[-1].text == question("zh", "amount")

    confirmed = engine.step(talk(engine, opening).state, "确认", NOW)
    filed = engine.resume(confirmed.state, CaseFiled("TS20261128-0001", "2026-12-13"), NOW)
    after = engine.step(filed.state, "还有，我的信用卡昨晚被人盗刷了三笔", NOW)
    assert reasons(after) == ["urgent"]


def test_sensitive_warning_is_kept_when_handing_off(engine):
    step = engine.step(None, "我的卡6222021234567890123被盗刷了", NOW)
    assert reasons(step) == ["urgent"]
    assert any(isinstance(e, SensitiveFound) for e in step.events)
    assert [r.text for r in step.replies] == [catalog.text("zh", "sensitive_warning")]


def test_two_answers_not_understood_request_a_person(engine):
    asked = talk(engine, "我是张伟，昨天柜员态度很差，我要投诉，希望道歉")
    assert asked.waiting_for == "phone"
    once = engine.step(asked.state, "啊啊啊", NOW)
    assert reasons(once) == []  # one miss: the bot says what it expected and asks again
    assert "手机号" in once.replies[-1].text and once.state.misunderstood == 1
    twice = engine.step(once.state, "哦哦哦", NOW)
    assert reasons(twice) == ["not_understood"]
    assert twice.state.handoff_reason == "not_understood" and not twice.replies
    done = engine.resume(twice.state, HandoffQueued("not_understood", 1, 3), NOW)
    assert done.replies[0].text.startswith("抱歉，我没能理解") and "3分钟" in done.replies[0].text
    assert done.replies[-1].text == question("zh", done.waiting_for)


def test_not_understood_in_english_and_at_the_summary(engine):
    summary = talk(engine, "I am Emma Clarke, phone +44 7700 900123. Yesterday your credit "
                           "card hotline kept me waiting an hour and hung up. I want an apology.")
    assert summary.waiting_for == WAIT_CONFIRM
    once = engine.step(summary.state, "hmm", NOW)
    assert reasons(once) == [] and once.replies[-1].text == catalog.text("en", "confirm_again")
    twice = engine.step(once.state, "hmm", NOW)
    assert reasons(twice) == ["not_understood"]
    done = engine.resume(twice.state, HandoffQueued("not_understood", 0, None), NOW)
    assert done.replies[0].text.startswith("Sorry, I did not understand")
    assert "call you back" in done.replies[0].text
    assert done.replies[-1].text.startswith(catalog.text("en", "summary_header"))


def test_an_understood_answer_in_between_starts_the_count_again(engine):
    asked = talk(engine, "我是张伟，昨天柜员态度很差，我要投诉，希望道歉")
    step = talk(engine, "啊啊啊", "13912345678", state=asked.state)
    assert step.state.misunderstood == 0
    step = engine.step(step.state, "嗯嗯嗯", NOW)
    assert reasons(step) == []


# ---- while waiting: the shell's answer -----------------------------------------------------


@pytest.mark.parametrize(("lang", "queued", "expect"), [
    ("zh", HandoffQueued("customer_request", 3, 7), "约7分钟"),
    ("en", HandoffQueued("customer_request", 3, 7), "in about 7 minutes"),
    ("zh", HandoffQueued("customer_request", 1, 1), "1分钟内"),
    ("en", HandoffQueued("customer_request", 1, 0), "about a minute"),
    ("zh", HandoffQueued("customer_request", 2, None), "尽快"),
    ("zh", OFFLINE, "回电"),
    ("en", OFFLINE, "call you back"),
])
def test_the_wait_is_told_then_the_question_asked_again(engine, lang, queued, expect):
    asked = talk(engine, "我要投诉" if lang == "zh" else "I want to make a complaint")
    step = engine.step(asked.state, "转人工" if lang == "zh" else "agent", NOW)
    done = engine.resume(step.state, queued, NOW)
    assert len(done.replies) == 2
    assert expect in done.replies[0].text
    if queued.agents_online:
        assert ("继续留言" if lang == "zh" else "keep writing") in done.replies[0].text
    else:
        assert ("暂无人工客服在线" if lang == "zh" else "No agent is available") in \
            done.replies[0].text
    assert done.replies[-1].text == question(lang, "description")
    assert done.waiting_for == "description" and done.state.handoff_requested


def test_a_case_can_be_filed_while_waiting(engine):
    step = talk(engine, "转人工",
                "我是张伟，手机13912345678。昨天在南山支行办理存款，柜员态度很差，希望道歉。")
    assert step.waiting_for == WAIT_CONFIRM
    confirmed = engine.step(step.state, "确认", NOW)
    assert any(isinstance(e, FileCase) for e in confirmed.events) and not reasons(confirmed)
    filed = engine.resume(confirmed.state, CaseFiled("TS20261128-0001", "2026-12-13"), NOW)
    assert "TS20261128-0001" in filed.replies[0].text
    assert filed.state.handoff_requested  # still waiting for the person they asked for


# ---- what agents do ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_agent_joined_and_transferred_name_the_agent(engine, lang):
    waiting = talk(engine, "我要投诉" if lang == "zh" else "I want to make a complaint", "转人工")
    joined = engine.agent_joined(waiting.state, "王芳", NOW)
    assert len(joined.replies) == 1 and "王芳" in joined.replies[0].text
    assert ("已接入" if lang == "zh" else "has joined") in joined.replies[0].text
    moved = engine.agent_transferred(joined.state, "Li Lei", NOW)
    assert len(moved.replies) == 1 and "Li Lei" in moved.replies[0].text
    assert ("转交" if lang == "zh" else "passed to") in moved.replies[0].text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_agent_closed_thanks_and_starts_afresh(engine, lang):
    waiting = talk(engine, "我是张伟，手机13912345678，柜员态度很差" if lang == "zh"
                   else "I am Emma Clarke, +44 7700 900123, your staff were rude", "转人工")
    closed = engine.agent_closed(waiting.state, NOW)
    assert len(closed.replies) == 1
    assert ("感谢" if lang == "zh" else "Thank you") in closed.replies[0].text
    st = closed.state
    assert not st.handoff_requested and st.handoff_reason is None
    assert st.waiting_for is None and set(st.slots) == {"name", "phone"}
    again = engine.step(st, "你好" if lang == "zh" else "hello", NOW)
    assert again.waiting_for == "description"


def test_hand_back_resumes_the_question(engine):
    asked = talk(engine, "我是张伟，昨天柜员态度很差，我要投诉，希望道歉")
    waiting = talk(engine, "啊啊啊", "哦哦哦", state=asked.state)
    assert waiting.state.handoff_reason == "not_understood"
    back = engine.hand_back(waiting.state, NOW)
    assert back.replies[0].text == catalog.text("zh", "handed_back")
    assert back.replies[-1].text == question("zh", waiting.waiting_for)
    st = back.state
    assert not st.handoff_requested and st.handoff_reason is None and st.misunderstood == 0
    # Back with the bot, a new urgent message asks for a person again.
    assert reasons(engine.step(st, "我的卡被盗刷了", NOW)) == ["urgent"]


# ---- state and texts -----------------------------------------------------------------------


def test_a_state_saved_before_handoff_reasons_loads():
    old = State(waiting_for="phone", handoff_requested=True).to_dict()
    del old["handoff_reason"], old["misunderstood"]
    st = State.from_dict(old)
    assert st.handoff_requested and st.handoff_reason is None and st.misunderstood == 0
    assert State.from_dict(st.to_dict()) == st


def _catalog(lang: str) -> dict:
    path = resources.files("workflow").joinpath("data", f"messages.{lang}.toml")
    return tomllib.loads(path.read_text("utf-8"))


def _flatten(node: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_every_text_exists_in_both_languages_with_the_same_placeholders():
    zh, en = _flatten(_catalog("zh")), _flatten(_catalog("en"))
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


@pytest.mark.parametrize(("online", "team", "promise"), [
    (2, True, "一小时内联系您"),          # agents see the urgent case now
    (0, True, "上班后将第一时间电话联系您"),  # a team, but nobody on duty
    (0, False, "冻结"),                   # no agent queue in this deployment at all
])
def test_an_urgent_filing_promises_only_what_will_happen(engine, online, team, promise):
    st = engine.step(None, "我的信用卡昨天被盗刷了5000元，我是张伟，手机13912345678，"
                     "要求全额退回", NOW).state
    confirmed = engine.step(st, "确认", NOW)
    filed = engine.resume(confirmed.state, CaseFiled("TS20261128-0001", "2026-12-13",
                                                     online, team), NOW)
    said = " ".join(r.text for r in filed.replies)
    assert promise in said
    if online == 0:
        assert "一小时内" not in said
