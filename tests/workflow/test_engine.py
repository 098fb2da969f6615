"""The conversation engine as a customer meets it: questions, answers, corrections, commands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from workflow import catalog
from workflow.engine import Engine, build_case
from workflow.fields import is_substantive
from workflow.model import (
    ASK_ORDER,
    QUESTIONS,
    SCHEMA_VERSION,
    WAIT_CONFIRM,
    WAIT_NAME_PHONE,
    Cancelled,
    CaseFiled,
    FileCase,
    HandoffQueued,
    HandoffRequested,
    LookupStatus,
    SensitiveFound,
    State,
    StatusResult,
)

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine()
    e.warm_up()
    return e


def talk(engine: Engine, *messages: str, state=None):
    step = None
    for m in messages:
        step = engine.step(state, m, NOW)
        state = step.state
    return step


def filed_case(step):
    cases = [e.case for e in step.events if isinstance(e, FileCase)]
    return cases[0] if cases else None


def test_full_opening_goes_straight_to_the_summary(engine):
    step = talk(
        engine,
        "我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
        "钱没吐出来但是卡里扣了，请尽快把钱退给我！",
    )
    assert step.waiting_for == WAIT_CONFIRM
    summary = step.replies[-1].text
    # The phone and amount as a Chinese reader writes them.
    assert "张伟" in summary and "电话: 139 1234 5678" in summary and "2026-11-27" in summary
    assert "涉及金额: 2,000 元" in summary
    assert [q.label for q in step.replies[-1].quick_replies] == ["确认", "修改"]
    done = engine.step(step.state, "确认", NOW)
    case = filed_case(done)
    assert case["name"] == "张伟"
    assert case["phone"] == "+8613912345678"
    assert case["business"] == "debit_card"
    assert case["incident_time"] == "2026-11-27"
    assert case["amount"] == "2000"
    assert case["branch"] == "南山支行"
    assert "钱没吐出来" in case["description"]
    assert case["missing"] == []
    after = engine.resume(done.state, CaseFiled("TS20261128-0042", "2026-12-13"), NOW)
    assert "TS20261128-0042" in after.replies[0].text
    assert "2026-12-13" in after.replies[0].text
    assert after.state.stage == "filed" and after.waiting_for is None


def test_asks_only_what_is_missing_one_question_at_a_time(engine):
    step = talk(engine, "我叫黄磊 电话13522223333，跨行转账手续费收了我25块，网上明明写的免费")
    asked = step.waiting_for
    assert asked in ASK_ORDER and asked not in ("name", "phone", "description", "amount")
    assert len([r for r in step.replies if r.text.endswith(("？", "?", "。"))]) >= 1


def test_waiting_for_is_always_known(engine):
    state = None
    for message in [
        "我要投诉！",
        "柜员态度很差，让我等了两个小时",
        "王建国",
        "15011112222",
        "存款",
        "前天上午",
        "要求道歉",
    ]:
        step = engine.step(state, message, NOW)
        assert step.waiting_for in (*QUESTIONS, WAIT_CONFIRM)
        state = step.state
    assert step.waiting_for == WAIT_CONFIRM


def test_answer_to_another_question_is_accepted(engine):
    step = talk(engine, "我要投诉！")
    assert step.waiting_for == "description"
    # Asked what happened, the customer gives name and phone as well.
    step = engine.step(step.state, "我是李娜，电话13800138000，信用卡昨晚被盗刷了五千元", NOW)
    assert step.state.value("name") == "李娜"
    assert step.state.value("phone") == "+8613800138000"
    assert step.state.value("business") == "credit_card"
    assert step.waiting_for not in ("name", "phone", "description", "business")


def test_invalid_phone_is_reprompted_with_the_reason(engine):
    step = talk(engine, "我要投诉！", "柜员态度很差，让我等了两个小时", "王建国")
    assert step.waiting_for == "phone"
    again = engine.step(step.state, "12345", NOW)
    assert again.waiting_for == "phone"
    assert "12345" in again.replies[-1].text
    fixed = engine.step(again.state, "15011112222", NOW)
    assert fixed.state.value("phone") == "+8615011112222"


def test_future_date_is_refused(engine):
    step = talk(
        engine, "我要投诉！", "柜员态度很差，让我等了两个小时", "王建国", "15011112222", "存款"
    )
    assert step.waiting_for == "incident_time"
    again = engine.step(step.state, "2026年12月25日", NOW)
    assert again.waiting_for == "incident_time"
    ok = engine.step(again.state, "前天", NOW)
    assert ok.state.value("incident_time") == "2026-11-26"


def test_correction_at_confirmation(engine):
    step = talk(engine, "我是张伟，手机13912345678。昨天在南山支行ATM取款2000元没出钞，请退钱")
    assert step.waiting_for == WAIT_CONFIRM
    fixed = engine.step(step.state, "电话写错了，是13900001111", NOW)
    assert fixed.waiting_for == WAIT_CONFIRM
    assert fixed.state.value("phone") == "+8613900001111"
    assert fixed.replies[0].text == "已将电话改为 139 0000 1111。"
    assert "139 0000 1111" in fixed.replies[-1].text


def test_correction_in_english(engine):
    step = talk(
        engine,
        "Hi, I'm Emma Clarke, my number is +44 7700 900123. Yesterday your ATM "
        "kept 300 yuan of my cash withdrawal, please refund it.",
    )
    assert step.waiting_for == WAIT_CONFIRM
    fixed = engine.step(step.state, "no, the amount was 500", NOW)
    assert fixed.state.value("amount") == "500"
    assert fixed.replies[-1].text.startswith("Please check")


def test_english_customer_gets_english(engine):
    step = talk(engine, "I want to complain about your hotline")
    assert step.waiting_for == "description"
    assert step.replies[-1].text == "Please tell me briefly what happened."


def test_cancel_forgets_everything(engine):
    step = talk(engine, "我是张伟，手机13912345678", "取消")
    assert any(isinstance(e, Cancelled) for e in step.events)
    assert step.state.slots == {}
    assert "取消" in step.replies[0].text


def test_human_handoff_only_when_asked(engine):
    step = talk(engine, "转人工")
    assert [e.reason for e in step.events if isinstance(e, HandoffRequested)] == [
        "customer_request"]
    assert step.state.handoff_requested
    # The shell says whether a person is online; meanwhile the bot keeps collecting, so the
    # agent starts with details.
    step = engine.resume(step.state, HandoffQueued("customer_request", 0, None), NOW)
    assert "人工" in step.replies[0].text and step.waiting_for == "description"
    rude = talk(engine, "the agent at your branch was rude to me and kept me waiting an hour")
    assert not any(isinstance(e, HandoffRequested) for e in rude.events)
    back = engine.hand_back(step.state, NOW)
    assert not back.state.handoff_requested and back.waiting_for == "description"
    assert back.replies[0].text.startswith("人工客服已结束")


@pytest.mark.parametrize(("answer", "name"), [
    ("叫我老周就行，周建华", "周建华"),
    ("张三丰 弓长张", "张三丰"),
    ("我叫阿依古丽·买买提", "阿依古丽·买买提"),
    ("Nguyen Van An", "Nguyen Van An"),
])
def test_names_as_people_give_them(engine, answer, name):
    step = talk(engine, "我要投诉！", "柜员态度很差，让我等了两个小时", answer)
    assert step.state.value("name") == name
    assert answer not in "".join(step.state.description)


def test_status_query_goes_to_the_store_and_back(engine):
    step = talk(engine, "查询进度 TS20261128-0042")
    assert [e.case_number for e in step.events if isinstance(e, LookupStatus)] == [
        "TS20261128-0042"
    ]
    found = engine.resume(
        step.state,
        StatusResult("TS20261128-0042", True, "in_progress", "2026-12-13", "2026-11-29"),
        NOW,
    )
    assert "处理中" in found.replies[0].text and "2026-12-13" in found.replies[0].text
    missing = engine.resume(step.state, StatusResult("TS20261128-0042", False), NOW)
    assert "没有找到" in missing.replies[0].text


def test_passwords_and_codes_are_warned_about_and_never_kept(engine):
    step = talk(engine, "我的卡被盗刷了，密码是583920，验证码是771234，卡号6222021234567890123")
    assert any(isinstance(e, SensitiveFound) for e in step.events)
    assert "密码" in step.replies[0].text
    kept = json.dumps(step.state.to_dict(), ensure_ascii=False)
    assert "583920" not in kept and "771234" not in kept and "6222021234567890123" not in kept


def test_new_complaint_after_filing_keeps_who_the_customer_is(engine):
    step = talk(
        engine, "我是张伟，手机13912345678。昨天在南山支行ATM取款2000元没出钞，请退钱", "确认"
    )
    after = engine.resume(step.state, CaseFiled("TS20261128-0001", "2026-12-13"), NOW)
    again = engine.step(after.state, "另外你们的客服热线一直打不通，打了一上午", NOW)
    assert again.state.value("name") == "张伟"
    assert again.state.stage == "collecting"
    assert again.waiting_for not in ("name", "phone")


def test_state_round_trips_through_json(engine):
    step = talk(engine, "我是张伟，手机13912345678。昨天在南山支行ATM取款约两千元")
    data = json.loads(json.dumps(step.state.to_dict(), ensure_ascii=False))
    assert data["version"] == SCHEMA_VERSION
    restored = State.from_dict(data)
    assert restored == step.state
    # The engine takes the dict form as well, as the store keeps it.
    assert engine.step(data, "确认", NOW).state.turn == step.state.turn + 1


def test_newer_state_schema_is_refused():
    with pytest.raises(ValueError, match="newer"):
        State.from_dict({"version": SCHEMA_VERSION + 1})


def test_suggestion_needs_no_resolution_question(engine):
    step = talk(
        engine,
        "Just a suggestion: your app should let me download statements as PDF.",
        "Sara Li",
        "15600001111",
    )
    assert step.waiting_for == "incident_time" or step.waiting_for == "business"
    assert step.state.slots["resolution"].extra.get("suggestion")


def test_answering_another_question_is_not_an_error(engine):
    step = talk(engine, "我要投诉！", "柜员态度很差，让我等了两个小时")
    assert step.waiting_for == WAIT_NAME_PHONE  # "请留下您的姓名和手机号码"
    # Asked for both, the customer sends the phone: it is kept, and the name asked alone.
    other = engine.step(step.state, "15011112222", NOW)
    assert other.state.value("phone") == "+8615011112222"
    assert other.waiting_for == "name"
    assert other.replies[-1].text == "请问您怎么称呼？"


def test_a_verified_phone_is_not_asked_for(engine):
    from workflow.model import Hints

    step = engine.step(None, "柜员态度很差，让我等了两个小时，我是王建国", NOW,
                       Hints(channel="wechat", verified_phone="+8615011112222"))
    assert step.state.value("phone") == "+8615011112222"
    assert step.waiting_for not in ("name", "phone", "description")


def test_a_step_never_changes_the_state_it_was_given(engine):
    step = talk(engine, "我是张伟，手机13912345678。昨天在南山支行ATM取款约两千元")
    before = json.dumps(step.state.to_dict(), ensure_ascii=False)
    engine.step(step.state, "金额不对，是2500元", NOW)
    engine.step(step.state, "取消", NOW)
    assert json.dumps(step.state.to_dict(), ensure_ascii=False) == before


def test_photos_are_acknowledged_and_the_question_asked_again(engine):
    from workflow.model import Hints

    step = talk(engine, "我要投诉！")
    photo = engine.step(step.state, "", NOW, Hints(channel="telegram", kind="attachment"))
    assert "证据" in photo.replies[0].text
    assert photo.replies[-1].text == "请简要描述发生了什么事情。"
    captioned = engine.step(step.state, "ATM吞了我的卡，这是凭条", NOW,
                            Hints(channel="telegram", kind="attachment"))
    assert "证据" in captioned.replies[0].text
    assert "ATM吞了我的卡" in captioned.state.description[0]


def test_voice_and_group_chats_get_a_polite_answer(engine):
    from workflow.model import Hints

    voice = engine.step(None, "", NOW, Hints(channel="telegram", kind="unsupported"))
    assert "文字" in voice.replies[0].text
    group = engine.step(None, "我的卡被盗刷了", NOW, Hints(channel="telegram", kind="group"))
    assert "私聊" in group.replies[0].text and group.state.slots == {}


def test_a_command_does_not_switch_the_language(engine):
    from workflow.model import Hints

    start = engine.step(None, "/start", NOW, Hints(channel="telegram", lang="zh"))
    assert "投诉" in start.replies[0].text
    step = talk(engine, "我要投诉！")
    assert "取消" in engine.step(step.state, "cancel", NOW).replies[0].text


def test_a_total_said_later_replaces_a_per_item_sum(engine):
    step = talk(
        engine,
        "Someone used my debit card: four withdrawals of 500 yuan each at an ATM last night.",
        "2000 gone from my account in total.",
    )
    assert step.state.value("amount") == "2000"


def test_the_sum_wanted_back_replaces_one_mentioned_in_passing(engine):
    step = talk(
        engine,
        "我卡里本来有八千块，昨天取款的时候ATM少吐了钞",
        "把少吐的三百块退给我",
    )
    assert step.state.value("amount") == "300"


def test_the_answer_to_how_much_is_not_replaced(engine):
    step = talk(engine, "我的信用卡被多收了年费，我要投诉")
    state = step.state
    state.waiting_for = "amount"
    step = engine.step(state, "两百块", NOW)
    assert step.state.value("amount") == "200"
    step = engine.step(step.state, "我卡里还有一千块，另外把一千块的年费都退给我", NOW)
    assert step.state.value("amount") == "200"


def test_a_suggestion_only_announced_is_not_the_request(engine):
    step = talk(engine, "你好，我不是来投诉的，就是想提个小建议")
    assert "resolution" not in step.state.slots
    step = engine.step(step.state, "还款提醒短信能不能提前三天发，这样可以改进一下", NOW)
    assert "提前三天" in (step.state.value("resolution") or "")


@pytest.mark.parametrize(
    "message",
    ["卡被盗刷了", "被人盗刷了五千元", "my card was skimmed", "someone stole 5000 from my account"],
)
def test_a_short_urgent_first_message_is_the_account(engine, message):
    # Unauthorised use said in a few words is a whole account: not asked for again, and urgent.
    step = talk(engine, message)
    assert step.waiting_for != "description"
    assert step.state.description == [message]
    assert step.state.value("description") == message
    case = build_case(step.state)
    assert case["priority"] == "urgent" and case["description"] == message


@pytest.mark.parametrize("message", ["卡被盗刷了", "my card was skimmed"])
def test_a_short_urgent_answer_to_what_happened_is_urgent(engine, message):
    step = talk(engine, "我要投诉" if message[0] > "~" else "I want to complain", message)
    assert step.waiting_for != "description"
    assert build_case(step.state)["priority"] == "urgent"


@pytest.mark.parametrize(
    ("text", "substantive"),
    [
        ("卡被盗刷了", True),
        ("my card was skimmed", True),
        ("卡没被盗刷", False),  # urgent only when not negated
        ("我要投诉", False),
        ("卡被吞", False),  # short and not urgent: the bot asks what happened
        ("张伟", False),
    ],
)
def test_short_texts_are_an_account_only_when_urgent(text, substantive):
    assert is_substantive(text, []) is substantive


@pytest.mark.parametrize(
    ("opening", "message"),
    [("ATM取款两千元没出钞但是扣款了", "卡被盗刷了"),
     ("The ATM kept my card and did not give me the cash", "my card was skimmed")],
)
def test_a_short_urgent_message_instead_of_the_name_joins_the_account(engine, opening, message):
    # Not a name, but no failed answer either: the urgent news is kept and the name asked again.
    step = talk(engine, opening)
    assert step.waiting_for == WAIT_NAME_PHONE
    step = engine.step(step.state, message, NOW)
    assert step.waiting_for == WAIT_NAME_PHONE
    assert step.state.description[-1] == message
    assert build_case(step.state)["priority"] == "urgent"


def test_a_status_query_not_linked_here_asks_for_the_phone_on_the_case(engine):
    asked = engine.step(None, "查询进度 TS20261128-0042", NOW)
    assert asked.events == (LookupStatus("TS20261128-0042"),)
    told = engine.resume(asked.state, StatusResult("TS20261128-0042", False, needs_phone=True),
                         NOW)
    assert "手机号码" in told.replies[0].text and told.state.lookup == "TS20261128-0042"
    # The next message's phone number goes to the shell with the case number.
    step = engine.step(told.state, "139 1234 5678", NOW)
    assert step.events == (LookupStatus("TS20261128-0042", "+8613912345678"),)
    assert step.state.lookup is None
    answered = engine.resume(step.state, StatusResult(
        "TS20261128-0042", True, "in_progress", "2026-12-13", by_phone=True), NOW)
    assert "2026-12-13" in answered.replies[0].text and "处理中" in answered.replies[0].text
    wrong = engine.resume(step.state, StatusResult("TS20261128-0042", False, by_phone=True), NOW)
    assert "不匹配" in wrong.replies[0].text
    # Anything but a phone number drops the query and is read as usual.
    other = engine.step(told.state, "昨天在南山支行ATM取款，卡被吞了，钱也没出来", NOW)
    assert other.state.lookup is None and not any(
        isinstance(e, LookupStatus) for e in other.events)
    assert "昨天在南山支行ATM取款，卡被吞了，钱也没出来" in other.state.description


@pytest.mark.parametrize(("lang", "opening", "answer", "name", "phone"), [
    ("zh", "昨天在南山支行ATM取款被多扣了540元，请退钱", "张伟，13912345678", "张伟",
     "+8613912345678"),
    ("zh", "昨天在南山支行ATM取款被多扣了540元，请退钱", "我叫李娜 手机139 2222 3333", "李娜",
     "+8613922223333"),
    ("en", "Yesterday your ATM charged me 540 yuan twice, please refund it",
     "David Wong, my mobile is 139 2222 3333", "David Wong", "+8613922223333"),
    ("en", "Yesterday your ATM charged me 540 yuan twice, please refund it",
     "Emma Clarke +44 7700 900123", "Emma Clarke", "+447700900123"),
])
def test_name_and_phone_are_asked_together_and_answered_in_one(engine, lang, opening, answer,
                                                                 name, phone):
    step = talk(engine, opening)
    assert step.waiting_for == WAIT_NAME_PHONE
    assert step.replies[-1].text == catalog.text(lang, "ask.name_phone")
    both = engine.step(step.state, answer, NOW)
    assert (both.state.value("name"), both.state.value("phone")) == (name, phone)
    assert both.waiting_for not in ("name", "phone", WAIT_NAME_PHONE)


def test_half_an_answer_to_the_joint_question_asks_the_other_half(engine):
    step = talk(engine, "昨天在南山支行ATM取款被多扣了540元，请退钱")
    only_name = engine.step(step.state, "张伟", NOW)
    assert only_name.state.value("name") == "张伟" and only_name.waiting_for == "phone"
    only_phone = engine.step(step.state, "13912345678", NOW)
    assert only_phone.state.value("phone") == "+8613912345678"
    assert only_phone.waiting_for == "name"
    unknown = engine.step(step.state, "不知道", NOW)
    assert unknown.waiting_for == "phone" and unknown.state.slots["name"].status == "unknown"
    # Neither a name nor a number: the name is asked on its own, with an example.
    neither = engine.step(step.state, "啊？", NOW)
    assert neither.waiting_for == "name"
    assert neither.replies[-1].text == catalog.text("zh", "reprompt.name")


def test_a_shared_contact_answers_the_phone_half_of_the_joint_question(engine):
    step = talk(engine, "昨天信用卡被多扣了年费三百元，请退还")
    assert step.waiting_for == WAIT_NAME_PHONE
    from workflow.model import Hints

    shared = engine.step(step.state, "", NOW, Hints(verified_phone="+8613912345678"))
    assert shared.state.value("phone") == "+8613912345678"
    assert shared.waiting_for == "name"
    assert [r.text for r in shared.replies] == ["请问您怎么称呼？"]


@pytest.mark.parametrize(("opening", "resolution"), [
    ("我的信用卡账单有一笔不认识的消费，我是张伟，手机13912345678，昨天发现的，请核查",
     "请核查"),
    ("The ATM swallowed my card and the withdrawal still went through. I'm Emma Clarke, "
     "13912345678, yesterday, I want it back", "I want it back"),
])
def test_a_disputed_transaction_asks_the_amount_and_keeps_the_request(engine, opening,
                                                                      resolution):
    # No "元" or "money" said, but a payment is disputed: how much is worth asking.
    step = engine.step(None, opening, NOW)
    assert step.state.value("resolution") == resolution
    assert "amount" in (step.state.waiting_for, *step.state.asked)
