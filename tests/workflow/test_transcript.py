"""Reading a hotline call: transcripts in, cases out, no dialogue (workflow.transcript)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.engine import Engine, build_case
from workflow.extract.dates import extract_date
from workflow.extract.names import parse_name_answer
from workflow.extract.sensitive import find_sensitive, redact
from workflow.model import State
from workflow.numerals import read_out_numbers
from workflow.transcript import CallReading, masked_turns, read_call

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=CST)  # a Saturday
A, C = "agent", "customer"


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    Engine().warm_up()


def check(reading: CallReading, **expected: Any) -> None:
    """Compare the case's fields; `amount` as a number, `confirmed` as the tuple."""
    case = reading.case
    for key, want in expected.items():
        if key == "confirmed":
            assert reading.confirmed == want, (key, reading.confirmed)
        elif key == "amount":
            got = case["amount"]
            assert (None if got is None else Decimal(got)) == (
                None if want is None else Decimal(str(want))
            ), (key, got)
        else:
            assert case[key] == want, (key, case[key])


# ---- Chinese calls ------------------------------------------------------------------------


def test_spoken_phone_confirmed_on_read_back_and_an_urgent_fraud() -> None:
    call = [
        (A, "您好，这里是安和银行客服中心，请问有什么可以帮您？"),
        (C, "喂，你好，我的信用卡昨天晚上被人盗刷了两笔，一共一万二，都不是我本人操作的"),
        (A, "非常抱歉。请问您怎么称呼？"),
        (C, "我叫张伟"),
        (A, "张先生您好，请问您的手机号是多少？"),
        (C, "幺三八零零幺三八零零零"),
        (A, "您的手机号是138 0013 8000对吗？"),
        (C, "对"),
        (A, "请问您希望我们怎么处理？"),
        (C, "赶紧把卡冻结，把钱追回来"),
        (A, "好的，已为您登记。"),
        (C, "好的谢谢"),
    ]
    r = read_call(call, NOW, caller="13700007777")
    check(
        r,
        name="张伟",
        phone="+8613800138000",
        business="credit_card",
        incident_time="2026-11-27",
        amount=12000,
        currency="CNY",
        category="product",
        priority="urgent",
        missing=[],
        confirmed=("phone",),
    )
    assert r.urgent and r.lang == "zh"
    assert r.case["channel"] == "hotline" and r.case["language"] == "zh"
    # The description is the customer's account: no greeting, no "对", no agent words.
    assert r.case["description"].startswith("我的信用卡昨天晚上被人盗刷了两笔")
    assert "好的谢谢" not in r.case["description"]
    assert "安和银行" not in r.case["description"]
    assert r.case["resolution"] == "赶紧把卡冻结，把钱追回来"


def test_name_from_a_confirmed_read_back_and_answers_to_the_agents_questions() -> None:
    call = [
        (A, "您好，请问是张伟先生吗？"),
        (C, "是的"),
        (A, "请问有什么可以帮您？"),
        (C, "我在南山支行的ATM取钱，钱没出来，卡里却扣了"),
        (A, "什么时候发生的？"),
        (C, "上周五"),
        (A, "涉及金额是多少钱？"),
        (C, "两千五百块"),
        (A, "您希望怎么处理？"),
        (C, "把钱退给我"),
    ]
    r = read_call(call, NOW, caller="+86 139 1234 5678")
    check(
        r,
        name="张伟",
        phone="+8613912345678",  # the calling number: none was said
        business="debit_card",
        incident_time="2026-11-20",
        amount=2500,
        currency="CNY",
        category="product",
        priority="normal",
        missing=[],
        confirmed=("name",),
    )
    assert r.case["branch"] == "南山支行"
    assert r.case["resolution"] == "把钱退给我"
    assert "上周五" not in r.case["description"]  # a bare answer is not the account


def test_a_correction_of_a_read_back_wins_over_it() -> None:
    call = [
        (A, "请问有什么可以帮您？"),
        (C, "我上个礼拜五跨行转账被收了二十五块手续费，网上明明写的免费，我要你们退回来"),
        (A, "请问您怎么称呼？"),
        (C, "免贵姓黄，黄磊"),
        (A, "黄先生，您的手机号是138 0013 8000，对吗？"),
        (C, "不对，是139 8765 4321"),
    ]
    r = read_call(call, NOW, caller="13800138000")
    check(
        r,
        name="黄磊",
        phone="+8613987654321",
        business="payment",
        incident_time="2026-11-20",
        amount=25,
        currency="CNY",
        category="product",
        priority="normal",
        missing=[],
        confirmed=(),  # 黄先生 was not read back as a name to confirm; the number was wrong
    )


def test_a_bare_no_makes_the_next_words_the_correction() -> None:
    call = [
        (C, "我要投诉你们信用卡年费乱收，我刷满六次了还是扣了我六百块年费，十月八号扣的"),
        (A, "好的。您的手机号是幺三七零零零零七七七七吗？"),
        (C, "不对"),
        (C, "幺三七零零零零七七七八"),
        (A, "请问您的姓名？"),
        (C, "刘洋 文刀刘 海洋的洋"),
        (A, "刘先生，请问您希望怎么处理？"),
        (C, "把六百块退给我"),
    ]
    r = read_call(call, NOW)
    check(
        r,
        name="刘洋",
        phone="+8613700007778",
        business="credit_card",
        incident_time="2026-10-08",
        amount=600,
        currency="CNY",
        category="product",
        priority="normal",
        missing=[],
        confirmed=(),
    )


def test_a_read_back_stands_until_the_customer_answers_it() -> None:
    call = [
        (C, "我的信用卡被盗刷了"),
        (A, "请问是王建国先生本人吗？"),
        (C, "呃……"),
        (C, "对的"),
        (A, "手机号138 0013 8000对吧？那请问是什么时候发生的？"),
        (C, "嗯对，今天早上"),
    ]
    r = read_call(call, NOW)
    check(r, name="王建国", phone="+8613800138000", incident_time="2026-11-28",
          confirmed=("name", "phone"))


def test_an_account_given_instead_of_the_answer_asked_is_kept() -> None:
    call = [
        (A, "您好，请问您的手机号是多少？"),
        (C, "卡被吞了还扣了钱"),
        (A, "Please hold while I check your number."),
        (C, "OK"),
        (C, "我昨天在ATM取钱"),
    ]
    r = read_call(call, NOW)
    assert r.case["description"] == "卡被吞了还扣了钱\n我昨天在ATM取钱"
    check(r, phone=None, business="debit_card", incident_time="2026-11-27")


def test_a_confirmed_read_back_later_corrected_is_no_longer_confirmed() -> None:
    call = [
        (C, "你们柜员态度太差了，我昨天在营业厅排了两个小时队还被她翻白眼"),
        (A, "请问您的联系电话是13912345678对吗？"),
        (C, "对的"),
        (C, "哦不对，电话说错了，应该是13912345679"),
    ]
    r = read_call(call, NOW)
    check(r, phone="+8613912345679", category="service", confirmed=())


def test_the_caller_number_confirmed_on_a_read_back() -> None:
    call = [
        (A, "您好，安和银行信用卡中心，请问有什么可以帮您？"),
        (C, "你们的规定是一年刷满六次就免年费，我今年刷了十几次，"
            "二零二六年十月八号还是扣了我六百块年费"),
        (A, "请问您的姓名？"),
        (C, "刘洋"),
        (A, "刘先生，我们就用您来电的这个号码联系您，可以吗？"),
        (C, "可以"),
        (A, "您希望怎么处理？"),
        (C, "把六百块退给我"),
    ]
    r = read_call(call, NOW, caller="13700007777")
    check(
        r,
        name="刘洋",  # "刘先生" confirms 刘洋, it does not replace him
        phone="+8613700007777",
        business="credit_card",
        incident_time="2026-10-08",
        amount=600,
        missing=[],
        confirmed=("phone",),  # "刘先生，……" addresses him, it does not read his name back
    )


def test_what_the_call_did_not_establish_is_missing_for_the_call_back() -> None:
    call = [
        (A, "您好，安和保险，请问有什么可以帮您？"),
        (C, "你们退保的手续太麻烦了，柜台说必须投保人本人来，还要带原件，"
            "我在外地工作来回一趟要两天"),
        (A, "请问是什么时候去办的？"),
        (C, "不记得了"),
        (A, "方便留一个联系电话吗？"),
        (C, "电话就不留了，有结果我自己打过来问"),
    ]
    r = read_call(call, NOW)  # the number was withheld
    check(
        r,
        name=None,
        phone=None,
        business="insurance",
        incident_time=None,
        amount=None,
        currency=None,
        missing=["name", "phone", "incident_time"],
        confirmed=(),
    )
    assert not r.urgent


def test_the_agents_words_never_become_the_complaint() -> None:
    call = [
        (A, "您好，请问有什么可以帮您？如有盗刷请拨打95588挂失。"),
        (C, "我上周三在你们网点办业务，等了三个小时都没人理，柜员还一直玩手机"),
        (A, "是不是有人冒充我行盗刷了您的卡，金额五万元，对吗？"),
        (C, "不是不是，我说的是服务态度"),
        (A, "您的意思是信用卡被境外盗刷，对吗？"),
        (C, "你根本没听我说话"),
        (A, "我行客服电话4008-123-456，我叫王小明。"),
        (C, "我叫周杰，要你们道歉"),
    ]
    r = read_call(call, NOW, caller="15899990000")
    check(
        r,
        name="周杰",
        phone="+8615899990000",
        incident_time="2026-11-18",
        amount=None,
        category="service",
        priority="normal",
        confirmed=(),
    )
    for agent_word in ("盗刷", "95588", "冒充", "五万", "王小明", "境外"):
        assert agent_word not in r.case["description"]
    assert not r.urgent


def test_sensitive_numbers_spoken_are_masked_as_the_engine_masks_them() -> None:
    said = (
        "我的卡号是六二二二 零二一二 三四五六 七八九零 一二三，"
        "刚才有人冒充你们客服让我报验证码三五七九二一，我报了，卡里的钱就被转走了"
    )
    call = [(A, "请问有什么可以帮您？"), (C, said)]
    r = read_call(call, NOW)
    digits = read_out_numbers(said)
    assert "6222 0212 3456 7890 123" in digits and "验证码357921" in digits
    masked = redact(digits, find_sensitive(digits))
    assert r.case["description"] == masked
    assert "357921" not in r.case["description"]
    assert "3456 7890" not in r.case["description"]
    assert r.case["priority"] == "urgent"


def test_a_confirmed_restatement_counts_as_the_customers_account() -> None:
    call = [
        (C, "喂"),
        (C, "我那个卡，就是，出事了"),
        (A, "您是说您的信用卡昨天在境外被人刷了三笔，一共五千二，对吗？"),
        (C, "对对对"),
        (A, "请问您的姓名和联系方式？"),
        (C, "李娜 电话一三八零零一三八零零零"),
    ]
    r = read_call(call, NOW)
    check(
        r,
        name="李娜",
        phone="+8613800138000",
        business="credit_card",
        incident_time="2026-11-27",
        amount=5200,
        priority="urgent",
        missing=["resolution"],
        confirmed=("business", "incident_time", "amount", "description"),
    )
    assert "境外被人刷了三笔" in r.case["description"]


def test_a_vague_date_gives_way_to_a_date_said_later_and_escalation_is_high() -> None:
    now = datetime(2026, 4, 8, 10, 20, tzinfo=CST)
    call = [
        (A, "您好，安和银行，请问有什么可以帮您？"),
        (C, "我要投诉你们的理财 去年在你们网点买的那个 客户经理跟我说年化四点五 保本的"),
        (C, "结果三月五号到期的 收益才一点二 比说好的少了两万"),
        (A, "好的，请问您怎么称呼？"),
        (C, "陈静 耳东陈 安静的静"),
        (A, "陈女士，联系电话是幺三八幺幺幺幺二二二二吗？"),
        (C, "对"),
        (A, "您希望我们怎么处理？"),
        (C, "把少的那两万补给我 要不然我就打12378 去金融监管总局投诉你们"),
    ]
    r = read_call(call, now)
    check(
        r,
        name="陈静",
        phone="+8613811112222",
        business="wealth",
        incident_time="2026-03-05",
        amount=20000,
        currency="CNY",
        category="product",
        priority="high",
        missing=[],
        confirmed=("phone",),
    )


def test_words_that_are_commands_in_a_chat_are_talk_on_the_phone() -> None:
    call = [
        (C, "我要投诉，我昨天在你们ATM存了三千块，机器吞钞了，一直没到账"),
        (A, "请问您怎么称呼？"),
        (C, "算了"),
        (C, "人工"),
        (C, "王芳"),
        (A, "请问您希望怎么处理？"),
        (C, "尽快把三千块给我存进去"),
    ]
    r = read_call(call, NOW, caller="15011113333")
    check(
        r,
        name="王芳",
        phone="+8615011113333",
        business="debit_card",
        incident_time="2026-11-27",
        amount=3000,
        missing=[],
    )


def test_a_suggestion_without_loss_is_low_priority() -> None:
    call = [
        (A, "您好，安和银行，请问有什么可以帮您？"),
        (C, "也不是投诉啦 就是提个建议 你们手机银行那个转账页面能不能做简单一点"),
        (C, "我妈今天用的时候找了半天都找不到转账按钮"),
        (A, "请问怎么称呼您？"),
        (C, "周杰 周末的周 杰出的杰"),
        (A, "您的手机号是幺五八九九九九零零零零，对吗？"),
        (C, "对"),
    ]
    r = read_call(call, NOW)
    check(
        r,
        name="周杰",
        phone="+8615899990000",
        business="payment",
        incident_time="2026-11-28",
        priority="low",
        missing=[],
        confirmed=("phone",),
    )


# ---- English calls ------------------------------------------------------------------------


def test_english_call_with_spelling_spoken_digits_and_number_words() -> None:
    call = [
        (A, "Thank you for calling Anhe Bank, how can I help you?"),
        (C, "Hi. My credit card was charged twice for the same purchase last Friday, "
            "two thousand five hundred yuan each time."),
        (A, "I'm sorry about that. May I have your name, please?"),
        (C, "Michael Chen. C-H-E-N."),
        (A, "And the best number to reach you?"),
        (C, "One three nine, one two three four, five six seven eight."),
        (A, "So that's 139 1234 5678, is that right?"),
        (C, "Yes, that's right."),
        (A, "What would you like us to do?"),
        (C, "Refund the duplicate charge, please."),
    ]
    r = read_call(call, NOW, caller="+8613700001111")
    check(
        r,
        name="Michael Chen",
        phone="+8613912345678",
        business="credit_card",
        incident_time="2026-11-20",
        amount=2500,
        currency="CNY",
        category="product",
        priority="normal",
        missing=[],
        confirmed=("phone",),
    )
    assert r.lang == "en" and r.case["language"] == "en"
    assert "Refund" in r.case["resolution"]


def test_english_correction_then_an_echoed_read_back() -> None:
    now = datetime(2026, 11, 25, 20, 15, tzinfo=CST)
    call = [
        (A, "Anhe Bank, good evening, how can I help you?"),
        (C, "Hi, I made a transfer in your mobile app yesterday and you charged me a 50 yuan "
            "fee. The app says transfers to other banks are free."),
        (A, "I'm sorry about that. May I have your name?"),
        (C, "Sara Li. S-A-R-A, Li."),
        (A, "Thank you. Your number is 139 2222 3333, is that right?"),
        (C, "No, that's my office phone. My mobile is 139 2222 3338."),
        (A, "139 2222 3338?"),
        (C, "Yes, that's it."),
        (A, "And what would you like us to do?"),
        (C, "Refund the 50 yuan and fix the app, please."),
    ]
    r = read_call(call, now, caller="+8613922223333")
    check(
        r,
        name="Sara Li",
        phone="+8613922223338",
        business="payment",
        incident_time="2026-11-24",
        amount=50,
        currency="CNY",
        category="product",
        priority="normal",
        missing=[],
        confirmed=("phone",),
    )


def test_english_name_confirmed_on_read_back_and_a_large_loss_is_high() -> None:
    now = datetime(2026, 10, 15, 15, 45, tzinfo=CST)
    call = [
        (A, "Anhe Bank wealth management hotline. Am I speaking with Robert Zhang?"),
        (C, "Yes, speaking."),
        (A, "How can I help you today?"),
        (C, "I'm calling about a fund your relationship manager sold me. It matured on "
            "October 9th and I lost 80,000 yuan."),
        (C, "I told her I can't take risks, and she put me into a high-risk equity fund."),
        (A, "And your contact number?"),
        (C, "The one I'm calling from."),
        (A, "What outcome are you looking for?"),
        (C, "I want my 80,000 back. You sold me the wrong product."),
    ]
    r = read_call(call, now, caller="+86 135 2222 4444")
    check(
        r,
        name="Robert Zhang",
        phone="+8613522224444",
        business="wealth",
        incident_time="2026-10-09",
        amount=80000,
        currency="CNY",
        category="product",
        priority="high",
        missing=[],
        confirmed=("name",),
    )


def test_english_foreign_currency_and_a_foreign_caller_number() -> None:
    now = datetime(2026, 11, 5, 14, 0, tzinfo=CST)
    call = [
        (A, "Good afternoon, Anhe Bank, how may I help you?"),
        (C, "I sent a remittance to Hong Kong on Monday and you charged me a fee of 200 Hong "
            "Kong dollars. Your website says cross-border remittances are free."),
        (A, "May I have your name, please?"),
        (C, "Grace Ho. H-O."),
        (A, "What would you like us to do?"),
        (C, "Refund the fee, please."),
    ]
    r = read_call(call, now, caller="+852 6123 4567")
    check(
        r,
        name="Grace Ho",
        phone="+85261234567",
        business="payment",
        incident_time="2026-11-02",
        amount=200,
        currency="HKD",
        category="product",
        priority="normal",
        missing=[],
        confirmed=(),
    )


def test_english_lost_card_is_urgent_and_a_filler_keeps_the_question_open() -> None:
    call = [
        (A, "Anhe Bank, how can I help?"),
        (C, "My debit card was stolen on the subway and I can't reach anyone to block it."),
        (A, "When did this happen?"),
        (C, "Um..."),
        (C, "The 27th of November, in the evening."),
        (A, "Could I have your name?"),
        (C, "My name is Emma Clarke."),
    ]
    r = read_call(call, NOW)
    check(
        r,
        name="Emma Clarke",
        phone=None,
        business="debit_card",
        incident_time="2026-11-27",
        amount=None,
        priority="urgent",
        missing=["phone"],  # "to block it" is what the customer wants
        confirmed=(),
    )
    assert r.urgent


def test_english_elderly_customer_is_high_priority() -> None:
    now = datetime(2026, 11, 28, 10, 40, tzinfo=CST)
    call = [
        ("Operator", "Anhe Bank, how may I help you?"),
        ("Customer", "Hello, dear. I'm 81 years old and I went to your branch on Nanjing Road "
                     "last Tuesday to take out my own money from my savings account."),
        ("Customer", "They refused because I didn't have my son with me."),
        ("Operator", "May I have your name?"),
        ("Customer", "Margaret Liu."),
        ("Operator", "And a phone number where we can reach you?"),
        ("Customer", "My mobile is 138 1234 0000."),
        ("Operator", "138 1234 0000?"),
        ("Customer", "Yes, dear."),
        ("Operator", "What would you like us to do?"),
        ("Customer", "Let me take out my money. And an apology would be nice."),
    ]
    r = read_call(call, now, caller="021-64001234")
    check(
        r,
        name="Margaret Liu",
        phone="+8613812340000",
        business="deposit",
        incident_time="2026-11-17",
        priority="high",
        missing=[],
        confirmed=("phone",),
    )


# ---- the reading itself -------------------------------------------------------------------


def test_the_case_has_the_same_keys_as_a_chat_case() -> None:
    r = read_call([(C, "我的信用卡被盗刷了")], NOW)
    assert set(r.case) == set(build_case(State()))


def test_language_is_detected_from_the_customer_or_given() -> None:
    en = [(A, "您好"), (C, "Hi, my card was swallowed by your ATM yesterday")]
    assert read_call(en, NOW).lang == "en"
    assert read_call(en, NOW, lang="zh").lang == "zh"
    assert read_call([], NOW).lang == "zh"


def test_odd_input_is_ignored_not_fatal() -> None:
    turns: list[Any] = [
        ("agent", None),
        ("robot", "我的卡被盗刷了"),  # not a speaker of the call
        ("customer", ""),
        "customer",
        ("customer",),
        ("customer", "\x00我叫张伟"),
    ]
    r = read_call(turns, NOW, caller="not a number")
    check(r, name="张伟", phone=None, priority="normal")


def test_reading_is_deterministic() -> None:
    call = [
        (A, "请问有什么可以帮您？"),
        (C, "我上周五在ATM取了两千块没出钞，卡号六二二二零二一二三四五六七八九零一二三"),
        (A, "您的手机号是138 0013 8000对吗？"),
        (C, "对"),
    ]
    assert read_call(call, NOW) == read_call(list(call), NOW)



_talk = st.text(
    alphabet="我的卡被盗刷了一万二幺三八零零对吗是不对吧？?，。 ,.aXY0189先生张伟请问手机号多少"
    "什么时候上周五yesnoIsthatright-叉洞两千五百块",
    max_size=60,
)
_turns = st.lists(st.tuples(st.sampled_from(["agent", "customer", "客服", "robot"]), _talk),
                  max_size=12)


@settings(max_examples=150, deadline=None)
@given(_turns, st.sampled_from([None, "13800138000", "", "abc"]))
def test_any_transcript_is_read_without_error(turns: list[tuple[str, str]], caller: Any) -> None:
    r = read_call(turns, NOW, caller=caller)
    assert r.lang in ("zh", "en")
    assert r.urgent == (r.case["priority"] == "urgent")
    assert set(r.confirmed) <= {"name", "phone", "business", "incident_time", "amount",
                                "branch", "resolution", "description"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="幺一二两三四五六七八九零〇洞拐勾叉十百千万年号码是，、 -0123456789",
               max_size=40))
def test_read_out_numbers_keeps_the_length_of_text_without_latin_letters(text: str) -> None:
    assert len(read_out_numbers(text)) == len(text)


# ---- spoken forms the extractors now read ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幺三八零零幺三八零零零", "13800138000"),
        ("手机号是幺三八，零零幺三，八零零零", "手机号是138 0013 8000"),
        ("138，0013，8000", "138 0013 8000"),
        ("尾号八八六六", "尾号8866"),
        ("密码是一二三四五六", "密码是123456"),
        ("二零二六年十月八号", "2026年十月八号"),
        ("身份证四四零三零五一九九零零一零一一二三叉", "身份证44030519900101123X"),
        ("两千零五", "两千零五"),  # a place-value numeral: the amount reader's
        ("一万二", "一万二"),
        ("三四个人", "三四个人"),
        ("七七八八", "七七八八"),
        ("1,200,000元", "1,200,000元"),
        ("one three nine, one two three four, five six seven eight", "139 1234 5678"),
        ("zero one zero, double eight triple six", "010 88666"),
        ("two thousand five hundred yuan", "2500 yuan"),
        ("twenty five hundred dollars", "2500 dollars"),
        ("I lost twelve thousand yuan", "I lost 12000 yuan"),
        ("a hundred and fifty", "150"),
        ("I have one card", "I have one card"),
        ("one, two", "one, two"),
        ("1 3 9 1 2 3 4 5 6 7 8", "13912345678"),
    ],
)
def test_read_out_numbers(text: str, expected: str) -> None:
    assert read_out_numbers(text) == expected


def test_read_out_numbers_keeps_the_length_of_chinese_text() -> None:
    text = "我的手机号是幺三八，零零幺三，八零零零，卡号六二二二零二一二三四五六七八九零一二三"
    assert len(read_out_numbers(text)) == len(text)


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("张伟先生", "张伟"),
        ("王建国先生", "王建国"),
        ("李娜女士", "李娜"),
        ("张女士", "张女士"),
        ("Sara Li. S-A-R-A, Li.", "Sara Li"),
        ("Michael Chen. C-H-E-N.", "Michael Chen"),
        ("免贵姓张", None),
        ("姓张", None),
    ],
)
def test_name_answers_as_said_on_the_phone(answer: str, name: str | None) -> None:
    m = parse_name_answer(answer)
    assert (m.name if m else None) == name


def test_a_weekday_followed_by_to_is_not_a_range() -> None:
    now = datetime(2026, 11, 28, 10, 0, tzinfo=CST)
    m = extract_date("last Tuesday to take out my money", now)
    assert m is not None and m.date is not None and m.date.isoformat() == "2026-11-17"
    assert extract_date("open Monday to Friday", now) is None


# ---- held-out weaknesses, in other words --------------------------------------------------


def test_read_out_numbers_keeps_an_ordinal_whole() -> None:
    assert read_out_numbers("on the twenty-first of May") == "on the twenty-first of May"
    assert read_out_numbers("twenty five dollars first") == "25 dollars first"


def test_an_english_name_spelled_out_stays_out_of_the_account() -> None:
    call = [
        (A, "Anhe Bank, how can I help you?"),
        (C, "My credit card was charged an annual fee of 300 yuan yesterday, although the "
            "card is supposed to be free for life."),
        (A, "Can I take your name please?"),
        (C, "Peter Schmitt. Schmitt with a double T at the end."),
        (A, "And your number?"),
        (C, "One three nine, one two three four, five six seven eight."),
        (A, "What would you like us to do?"),
        (C, "Refund the 300 yuan, please."),
    ]
    r = read_call(call, NOW)
    check(r, name="Peter Schmitt", phone="+8613912345678", amount=300, missing=[])
    assert "double T" not in r.case["description"]
    assert "Schmitt" not in r.case["description"]


def test_the_answer_to_the_date_question_wins_over_a_relative_phrase() -> None:
    call = [
        (A, "Anhe Bank, how can I help?"),
        (C, "I paid my card bill three days before it was due and you still charged me a "
            "penalty of 80 yuan."),
        (A, "When was the penalty charged?"),
        (C, "On October the ninth. I saw it on my statement."),
        (C, "The payment itself went out a week ago, again on time."),
        (A, "May I have your name?"),
        (C, "Lena Kraft, K-R-A-F-T."),
        (A, "What would you like us to do?"),
        (C, "Refund the 80 yuan."),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, name="Lena Kraft", incident_time="2026-10-09", amount=80, category="product")


def test_a_relative_date_said_first_gives_way_to_the_answer() -> None:
    call = [
        (A, "Anhe Bank, how can I help?"),
        (C, "Two weeks ago your ATM kept my debit card and I still have not got it back."),
        (A, "When exactly did this happen?"),
        (C, "On the twelfth."),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, incident_time="2026-11-12")


def test_a_copied_card_with_withdrawals_is_urgent_and_the_total_is_the_amount() -> None:
    call = [
        (A, "Anhe Bank, how can I help you?"),
        (C, "Somebody must have cloned my bank card. Last night there were four withdrawals of "
            "one thousand five hundred yuan each in Harbin."),
        (C, "My card is still in my wallet, I never left Shanghai. Six thousand yuan gone."),
        (A, "May I have your name?"),
        (C, "Omar Haddad."),
        (A, "What would you like us to do?"),
        (C, "Freeze the card and I want the six thousand back."),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(
        r,
        name="Omar Haddad",
        business="debit_card",
        incident_time="2026-11-27",
        amount=6000,
        category="product",
        priority="urgent",
    )


def test_a_card_kept_in_hand_with_withdrawals_is_unauthorised_use() -> None:
    call = [
        (A, "Anhe Bank, how can I help you?"),
        (C, "This morning I got messages about two ATM withdrawals in another city."),
        (C, "But I have my card right here with me, so how is that possible?"),
        (A, "What would you like us to do?"),
        (C, "Block the card and investigate."),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, category="product", priority="urgent")


def test_a_line_mentioned_in_a_read_back_does_not_decide_the_call() -> None:
    # The agent's read-back of the amount mentions interest (a deposit word); the customer's
    # account names a car loan: the call is about the loan, as the account alone is.
    call = [
        (A, "Anhe Bank, how can I help you?"),
        (C, "My car loan statement shows a rate of five percent, but the contract says four."),
        (A, "How much extra have you paid?"),
        (C, "About one thousand two hundred yuan."),
        (A, "So 1200 yuan of extra interest, is that right?"),
        (C, "Yes."),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, business="loan", amount=1200)


def test_a_named_line_outweighs_repeated_feature_words_in_a_call() -> None:
    call = [
        (A, "您好，安和银行，请问有什么可以帮您？"),
        (C, "我在你们这租了一个保管箱 结果被收了滞纳金"),
        (C, "滞纳金是两百块 我明明按时交了租金 账单上还是写着滞纳金"),
        (A, "请问您希望怎么处理？"),
        (C, "把滞纳金退给我"),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, business="other", category="product", amount=200)


def test_a_suggestion_announced_first_is_low_and_the_proposal_is_the_request() -> None:
    call = [
        (A, "您好，安和银行，请问有什么可以帮您？"),
        (C, "你好 我不是来投诉的 就是想提一点建议"),
        (A, "好的，您请讲。"),
        (C, "我的房贷每个月扣款之前 你们的提醒短信来得太晚了"),
        (C, "最好能提前一周提醒 我也没有什么损失 就是觉得可以优化一下"),
        (A, "请问怎么称呼您？"),
        (C, "王丽"),
    ]
    r = read_call(call, NOW, caller="13912345678")
    check(r, name="王丽", business="loan", priority="low")
    assert "提前一周" in r.case["resolution"]
    assert "提一点建议" not in r.case["resolution"]


# ---- short urgent accounts ----------------------------------------------------------------------

_GREETING_ZH = (A, "您好，请问有什么可以帮您？")
_GREETING_EN = (A, "Hello, this is Anhe Bank, how can I help you?")


@pytest.mark.parametrize(
    "call",
    [
        [_GREETING_ZH, (C, "卡被盗刷了")],
        [(C, "卡被盗刷了")],
        [(C, "卡被盗刷了"), (A, "请问您怎么称呼？"), (C, "张伟")],
        [(C, "被人盗刷了五千元")],
        [_GREETING_ZH, (C, "喂"), (C, "被人盗刷了五千元")],
        [_GREETING_EN, (C, "my card was skimmed")],
        [(C, "my card was skimmed")],
        [(C, "someone stole 5000 from my account")],
        [_GREETING_EN, (C, "Someone stole 5000 from my account.")],
    ],
    ids=["zh-greeted", "zh-first", "zh-then-name", "zh-amount-first", "zh-after-hello",
         "en-greeted", "en-first", "en-stole-first", "en-stole-greeted"],
)
def test_a_short_urgent_account_is_urgent_and_is_the_description(
    call: list[tuple[str, str]],
) -> None:
    # Fewer words than an account usually takes, but unauthorised use is the whole story.
    r = read_call(call, NOW)
    said = next(text for who, text in call if who == C and text != "喂")
    assert r.urgent and r.case["priority"] == "urgent"
    assert r.case["description"] == said
    assert r.case["category"] == "product"
    assert "description" not in r.case["missing"]


def test_a_short_urgent_account_keeps_its_amount() -> None:
    r = read_call([(C, "被人盗刷了五千元")], NOW)
    check(r, amount=5000, priority="urgent", description="被人盗刷了五千元")


def test_a_short_turn_that_names_nothing_urgent_is_still_no_account() -> None:
    r = read_call([_GREETING_ZH, (C, "卡没被盗刷")], NOW)
    check(r, priority="normal", description="")


@pytest.mark.parametrize(
    ("question", "said"),
    [("请问您怎么称呼？", "卡被盗刷了"), ("May I have your name please?", "my card was skimmed"),
     ("May I have your name please?", "it was skimmed")],
)
def test_an_account_for_a_name_leaves_the_name_for_the_call_back(question: str, said: str) -> None:
    # Said instead of the name: the account, urgent; no word of it is taken for the name.
    r = read_call([(A, question), (C, said)], NOW)
    assert r.case["name"] is None and r.case["priority"] == "urgent"
    assert "name" in r.case["missing"]


_CLAUSES = (
    "我上周五在南山支行的ATM取了两千块", "钱没吐出来但是卡里扣了", "打了三次客服电话都没人接",
    "柜员态度特别差", "我的信用卡昨天晚上被人盗刷了两笔", "一共一万二", "都不是我本人操作的",
    "你们的理财经理说保本", "结果亏了三万多", "年费我明明申请过减免", "账单上还是扣了六百",
    "手机银行转账一直显示处理中", "我要求把钱退回来", "希望你们尽快给我一个说法",
    "我等了快两个月了",
)
_PROMPTS = ("嗯，您继续说。", "请问是什么时候发生的？", "还有别的情况吗？")


def _long_call(turns: int) -> list[tuple[str, str]]:
    rng = random.Random(turns)
    call = [(A, "您好，请问有什么可以帮您？")]
    for i in range(turns):
        if i % 4 == 3:
            call.append((A, rng.choice(_PROMPTS)))
        call.append((C, "，".join(rng.sample(_CLAUSES, rng.randint(1, 3))) + "。"))
    return call


def test_a_question_asking_for_the_name_is_no_read_back_of_one() -> None:
    asked = [(A, "Hello, how can I help?"),
             (C, "Your app charged me a 35 yuan fee yesterday for a free transfer."),
             (A, "Could I take your name?")]
    assert read_call([*asked, (C, "Yes, Tom Baker.")], NOW).case["name"] == "Tom Baker"
    unnamed = read_call([*asked, (C, "Yes that is right")], NOW)
    assert unnamed.case["name"] is None and "name" not in unnamed.confirmed
    assert "name" in unnamed.case["missing"]


def test_a_card_number_read_out_across_two_turns_is_masked_in_both() -> None:
    call = [(A, "请问您的卡号是多少？"), (C, "6222 0212 3456"), (C, "7890 123"), (A, "好的"),
            (C, "我的卡昨天被盗刷了5000元")]
    kept = masked_turns(call)
    assert kept[1] == "**** **** ****" and kept[2] == "***0 123"
    # Only the last four digits stay.
    assert "".join(c for c in "".join(kept[1:3]) if c.isdigit()) == "0123"
    assert kept[4] == "我的卡昨天被盗刷了5000元"
    # Two amounts in a row are no card.
    assert masked_turns([(A, "金额多少"), (C, "2000"), (C, "3000块")]) == ["金额多少", "2000",
                                                                          "3000块"]
