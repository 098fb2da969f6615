"""Corrections typed at any question: the field changes, the bot says so, and the sentence is
never taken as the answer to the question asked, which is asked again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workflow import catalog
from workflow.engine import Engine
from workflow.model import ASK_ORDER, WAIT_CONFIRM, State

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))

OPENING = {
    "zh": "我是张伟，手机13912345678。昨天在南山支行ATM取款被多扣了540元，请把钱退给我",
    "en": "I'm Emma Clarke, my number is 13912345678. Yesterday the ATM at the Nanshan "
          "branch charged me 540 yuan twice, please refund it.",
}
# field -> (what the customer types, the value the field must end with, as shown to them)
CORRECTIONS = {
    "zh": {
        "name": ("不对，我叫李娜", "李娜", "李娜"),
        "phone": ("电话写错了，应该是13812345679", "+8613812345679", "138 1234 5679"),
        "amount": ("不好意思，金额是450不是540", "450", "450 元"),
        "incident_time": ("日期说错了，应该是11月20日", "2026-11-20", "2026-11-20"),
        "business": ("业务类型不对，应该是信用卡", "credit_card", "信用卡"),
        "branch": ("网点说错了，是福田支行", "福田支行", "福田支行"),
        "resolution": ("诉求改一下，改为赔偿损失", "赔偿损失", "赔偿损失"),
    },
    "en": {
        "name": ("no, my name is John Smyth", "John Smyth", "John Smyth"),
        "phone": ("sorry, wrong phone number, it is 13812345679", "+8613812345679",
                  "+86 138 1234 5679"),
        "amount": ("sorry, the amount was 450 not 540", "450", "450 CNY"),
        "incident_time": ("sorry, wrong date, it was 20 November", "2026-11-20", "2026-11-20"),
        "business": ("sorry, wrong service, it should be credit card", "credit_card",
                     "Credit card"),
        "branch": ("sorry, wrong branch, it was the Futian branch", "Futian branch",
                   "Futian branch"),
        "resolution": ("correction: my request is compensation for my loss",
                       "compensation for my loss", "compensation for my loss"),
    },
}
QUESTIONS = (*ASK_ORDER, WAIT_CONFIRM)


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine()
    e.warm_up()
    return e


@pytest.fixture(scope="module")
def complete(engine: Engine) -> dict[str, State]:
    """A conversation in each language with every field given, at the summary."""
    states = {}
    for lang, opening in OPENING.items():
        step = engine.step(None, opening, NOW)
        assert step.state.waiting_for == WAIT_CONFIRM, step.replies[-1].text
        states[lang] = step.state
    return states


def asked(state: State, question: str) -> State:
    """The same conversation, but with the bot waiting for `question`'s answer."""
    st = state.copy()
    if question == WAIT_CONFIRM:
        return st
    st.slots.pop(question, None)
    if question == "description":
        st.description = []
    st.stage, st.waiting_for = "collecting", question
    st.asked = {question: 1}
    return st


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("question", "field"), [
    (q, f) for q in QUESTIONS for f in CORRECTIONS["zh"] if f != q])  # f == q is an answer
def test_a_correction_at_any_question_changes_the_field_and_asks_again(
        engine, complete, lang, question, field) -> None:
    typed, value, shown = CORRECTIONS[lang][field]
    st = asked(complete[lang], question)
    step = engine.step(st, typed, NOW)
    after = step.state

    assert after.value(field) == value
    said = [r.text for r in step.replies]
    ack = catalog.text(lang, "corrected", field=catalog.label(lang, "field", field),
                       value=shown)
    assert said[0] == ack, said
    # Never the answer to the question asked, nor a part of the customer's account.
    assert after.waiting_for == question
    if question != WAIT_CONFIRM:
        assert question not in after.slots or after.slots[question].value != typed.strip()
        assert said[-1] == catalog.text(lang, f"ask.{question}")
    else:
        assert shown in said[-1]
    if field != "resolution":
        assert typed not in (after.value("resolution") or "")
    assert typed not in after.description


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_phone_question_after_a_name_correction_reports_no_invalid_phone(
        engine, lang) -> None:
    first = {"zh": ("昨天在南山支行ATM取款被多扣了540元", "张伟", "不对，名字是张薇", "张薇"),
             "en": ("Yesterday your ATM at the Nanshan branch charged me 540 yuan twice",
                    "My name is John Smith", "no, my name is John Smyth", "John Smyth")}
    opening, name, fix, fixed = first[lang]
    st = None
    for text in (opening, name):
        st = engine.step(st, text, NOW).state
    assert st.waiting_for == "phone"
    step = engine.step(st, fix, NOW)
    assert step.state.value("name") == fixed
    said = " ".join(r.text for r in step.replies)
    assert fixed in said
    assert catalog.text(lang, "reprompt.phone", text=fix) not in said
    assert step.replies[-1].text == catalog.text(lang, "ask.phone")
    # The phone question keeps its count: the correction was not a failed answer.
    assert step.state.asked["phone"] == st.asked["phone"]


def test_a_cue_without_a_field_is_no_correction(engine) -> None:
    # "不是我操作的" negates an action, not a value: the account goes on as usual.
    st = engine.step(None, "我是张伟，手机13912345678。昨天信用卡被扣了540元", NOW).state
    step = engine.step(st, "不是我本人操作的，后来又被扣了300元", NOW)
    assert step.state.value("amount") == "540"
    assert not any(r.text.startswith("已将") for r in step.replies)
