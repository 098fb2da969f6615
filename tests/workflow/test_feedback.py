"""The satisfaction dialogue, engine only: how answers are read and what each leads to."""

from __future__ import annotations

from datetime import datetime

import pytest

from workflow import feedback
from workflow.engine import Engine
from workflow.model import RatingComment, RatingGiven, ReviewOpened, ReviewRequested

NOW = datetime(2026, 12, 4, 10, 0)
NUMBER = "TS20261201-0001"


@pytest.mark.parametrize(("text", "score", "comment"), [
    ("5", 5, None), ("1", 1, None), ("3分", 3, None), ("4 星", 4, None), ("五", 5, None),
    ("两分", 2, None), ("★★★★", 4, None), ("3/5", 3, None),
    ("4分 服务很好", 4, "服务很好"), ("2，处理太慢了", 2, "处理太慢了"),
    ("非常满意", 5, None), ("满意", 4, None), ("不满意", 2, None), ("非常不满意，太慢", 1, "太慢"),
    ("还行吧", 3, None), ("一般般", 3, None), ("一分", 1, None), ("三，一般", 3, "一般"),
    ("Very satisfied", 5, None), ("not satisfied, too slow", 2, "too slow"), ("ok", 3, None),
])
def test_ratings_are_read_in_the_ways_customers_write_them(text, score, comment) -> None:
    assert feedback.parse_rating(text) == (score, comment)


@pytest.mark.parametrize("text", ["15", "0", "6", "13800138000", "good job", "okay then?",
                                  "我还有个问题", "", "satisfaction", "5000元"])
def test_what_is_no_rating(text) -> None:
    assert feedback.parse_rating(text) is None


def asked(lang: str = "zh"):
    engine = Engine()
    state = engine.new_state(lang)
    state.stage, state.case_number = "filed", NUMBER
    return engine, engine.ask_rating(state, NUMBER, NOW)


def test_the_question_has_five_buttons_best_first_and_names_the_case() -> None:
    _, step = asked()
    [question] = step.replies
    assert NUMBER in question.text
    assert [q.payload for q in question.quick_replies] == ["5", "4", "3", "2", "1"]
    _, step = asked("en")
    assert "satisfied" in step.replies[0].text and step.replies[0].quick_replies[0].label \
        == "5 Very satisfied"


def test_a_low_rating_offers_a_review_and_yes_asks_the_shell_to_open_it() -> None:
    engine, step = asked()
    step = engine.step(step.state, "1 完全没解决", NOW)
    assert step.events == (RatingGiven(NUMBER, 1, "完全没解决"),)
    assert "复核" in step.replies[-1].text
    step = engine.step(step.state, "申请复核", NOW)
    assert step.events == (ReviewRequested(NUMBER, 1),) and step.replies == ()
    step = engine.resume(step.state, ReviewOpened(NUMBER, True, "2027-01-03"), NOW)
    assert "2027-01-03" in step.replies[0].text and step.state.feedback is None
    refused = engine.resume(step.state, ReviewOpened(NUMBER, False), NOW)
    assert "工作人员" in refused.replies[0].text


def test_declining_the_review_or_explaining_first() -> None:
    engine, step = asked()
    step = engine.step(step.state, "2", NOW)
    step = engine.step(step.state, "我觉得退款太慢了", NOW)  # an explanation, not a yes/no
    assert step.events == (RatingComment(NUMBER, "我觉得退款太慢了"),)
    assert "复核" in step.replies[-1].text and step.state.feedback is not None
    step = engine.step(step.state, "不用了", NOW)
    assert step.events == () and step.state.feedback is None
    assert "30 天" in step.replies[-1].text


def test_a_good_rating_invites_a_comment_once() -> None:
    engine, step = asked()
    step = engine.step(step.state, "4", NOW)
    assert step.events == (RatingGiven(NUMBER, 4, None),)
    step = engine.step(step.state, "柜员很耐心", NOW)
    assert step.events == (RatingComment(NUMBER, "柜员很耐心"),)
    assert step.state.feedback is None


def test_a_new_complaint_instead_of_a_rating_is_read_as_one() -> None:
    engine, step = asked()
    step = engine.step(step.state, "我昨天在南山支行ATM取款500元，钱没出来但是扣款了", NOW)
    assert not any(isinstance(e, RatingGiven) for e in step.events)
    assert step.state.feedback is None and step.state.stage == "collecting"


def test_a_command_still_works_while_the_question_is_pending() -> None:
    engine, step = asked()
    step = engine.step(step.state, f"查询进度 {NUMBER}", NOW)
    assert [e.kind for e in step.events] == ["lookup_status"]
    assert step.state.feedback is not None  # the rating may still come
