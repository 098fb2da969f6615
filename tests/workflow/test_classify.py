"""Tests of workflow.classify: the dev dialogues, new phrasings, and robustness."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.classify import (
    BUSINESS_LINES,
    Category,
    Label,
    announces_suggestion,
    business_labels,
    classify_business,
    classify_category,
    extract_resolution,
    is_suggestion,
    parse_business_answer,
    prioritise,
    regulatory,
)

DEV = Path(__file__).parents[3] / "shared/eval/dev.jsonl"


def _dialogues() -> list[dict]:
    if not DEV.exists():
        return []
    with DEV.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


DIALOGUES = _dialogues()
IDS = [d["id"] for d in DIALOGUES]


def _amount(d: dict) -> Decimal | None:
    amount = d["expect"].get("amount")
    return None if amount is None else Decimal(str(amount))


# --------------------------------------------------------------------------------------------
# dev.jsonl
# --------------------------------------------------------------------------------------------


def test_dev_file_present() -> None:
    assert DIALOGUES, f"missing {DEV}"


@pytest.mark.parametrize("d", DIALOGUES, ids=IDS)
def test_dev_business(d: dict) -> None:
    expected = d["expect"].get("business")
    if expected is None:
        pytest.skip("not scored")
    answers = d["answers"]
    text = " ".join([d["opening"], answers.get("description", ""), answers.get("business", "")])
    found = classify_business(text)
    assert found is not None and found.value == expected, found
    assert found.reasons
    answer = parse_business_answer(answers["business"])
    assert answer is not None and answer.value == expected, answer


@pytest.mark.parametrize("d", DIALOGUES, ids=IDS)
def test_dev_category(d: dict) -> None:
    expected = d["expect"].get("category")
    if expected is None:
        pytest.skip("not scored")
    answers = d["answers"]
    description = d["opening"] + " " + answers.get("description", "")
    category = classify_category(description, answers.get("resolution", ""))
    assert category.primary == expected, category
    assert category.reasons[expected]


@pytest.mark.parametrize("d", DIALOGUES, ids=IDS)
def test_dev_priority(d: dict) -> None:
    expected = d["expect"].get("priority")
    if expected is None:
        pytest.skip("not scored")
    answers = d["answers"]
    text = " ".join([d["opening"], answers.get("description", ""), answers.get("resolution", "")])
    label = prioritise(text, _amount(d))
    assert label.value == expected, label
    if expected in ("urgent", "high", "low"):
        assert label.reasons


# --------------------------------------------------------------------------------------------
# New phrasings: business line
# --------------------------------------------------------------------------------------------

BUSINESS_CASES = [
    ("定期存款到期了，利息比当初说的少", "deposit"),
    ("我想把这个账户注销掉，柜台说不行", "deposit"),
    ("My fixed deposit matured and the interest was wrong", "deposit"),
    ("我的储蓄卡在取款机上被吞了", "debit_card"),
    ("The cash machine kept my debit card", "debit_card"),
    ("信用卡年费没通知就扣了", "credit_card"),
    ("My credit card annual fee was charged twice", "credit_card"),
    ("车贷每个月的月供被多扣了一百", "loan"),
    ("My mortgage rate is much higher than other banks", "loan"),
    ("买的基金半年亏了三成", "wealth"),
    ("The wealth management product paid a lower yield than advertised", "wealth"),
    ("重疾险理赔被拒了，说是既往症", "insurance"),
    ("I want to surrender my life insurance policy", "insurance"),
    ("用手机银行给朋友转账，钱扣了对方没收到", "payment"),
    ("The wire transfer to my sister never arrived", "payment"),
    ("想租个保管箱，网点说没有了", "other"),
]


@pytest.mark.parametrize(("text", "expected"), BUSINESS_CASES)
def test_business_new_phrasings(text: str, expected: str) -> None:
    found = classify_business(text)
    assert found is not None and found.value == expected, found


def test_business_none_when_nothing_indicates_it() -> None:
    assert classify_business("你好，我要投诉") is None
    assert classify_business("hello") is None
    assert classify_business("") is None


def test_business_specific_beats_contained_word() -> None:
    # "卡" inside "信用卡" is not a debit-card cue.
    found = classify_business("我的信用卡被人盗刷了")
    assert found == Label("credit_card", found.reasons)
    assert "信用卡" in found.reasons


ANSWER_CASES = [
    ("银行卡", "debit_card"),
    ("借记卡", "debit_card"),
    ("信用卡", "credit_card"),
    ("存款账户", "deposit"),
    ("销户的事", "deposit"),
    ("开户", "deposit"),
    ("理财", "wealth"),
    ("基金", "wealth"),
    ("房贷", "loan"),
    ("消费贷", "loan"),
    ("car loan", "loan"),
    ("车险", "insurance"),
    ("保险", "insurance"),
    ("转账", "payment"),
    ("手机银行转账", "payment"),
    ("mobile banking app", "payment"),
    ("it's about my savings account", "deposit"),
    ("其他", "other"),
    ("其它的", "other"),
    ("other", "other"),
    ("Other.", "other"),
    ("是信用卡的问题", "credit_card"),
    ("3", "credit_card"),
    ("Credit Card", "credit_card"),
]


@pytest.mark.parametrize(("answer", "expected"), ANSWER_CASES)
def test_parse_business_answer(answer: str, expected: str) -> None:
    found = parse_business_answer(answer)
    assert found is not None and found.value == expected, found


@pytest.mark.parametrize("code", BUSINESS_LINES)
def test_parse_business_answer_accepts_quick_replies(code: str) -> None:
    assert parse_business_answer(code) == Label(code, (code,))
    zh = business_labels("zh")[code]
    found = parse_business_answer(zh)
    assert found is not None and found.value == code


def test_business_labels_cover_every_line_in_order() -> None:
    assert tuple(business_labels("zh")) == BUSINESS_LINES
    assert tuple(business_labels("en")) == BUSINESS_LINES


@pytest.mark.parametrize("answer", ["不知道", "I don't know", "", "   ", "嗯"])
def test_parse_business_answer_unknown(answer: str) -> None:
    assert parse_business_answer(answer) is None


# --------------------------------------------------------------------------------------------
# New phrasings: category
# --------------------------------------------------------------------------------------------

CATEGORY_CASES = [
    ("the agent was rude", "", "service"),
    ("I waited three hours at the branch and the teller was chatting on her phone", "", "service"),
    ("电话银行转人工等了四十分钟都没有人接", "希望给我回个电话", "service"),
    ("理赔材料交上去以后一个月了没人理我", "尽快给个结果", "service"),
    ("说好三个工作日退款，到现在都没到账", "", "service"),
    ("I lost 300 yuan on fees", "refund the fees", "product"),
    ("信用卡分期手续费比宣传的高多了", "退还多收的手续费", "product"),
    ("保险销售跟我说保本，结果现金价值只有一半", "全额退保", "product"),
    ("They charged me an account management fee nobody told me about", "", "product"),
    ("大额存单的利率比别家低", "调高利率", "product"),
    ("网点要求必须本人到场才能改手机号，我在外地回不去", "能不能线上办", "process"),
    ("贷款审批要交十几种材料，还要跑三次网点", "简化手续", "process"),
    (
        "The app asks me to verify my identity five times before every transfer",
        "simplify it",
        "process",
    ),
    ("To close my account they wanted six different documents", "", "process"),
    ("我的卡丢了，需要挂失", "挂失", "process"),
    ("网银转账写的是实时到账，结果三天才到", "要求解释", "service"),
    ("信用卡账单上有一笔我不认识的消费", "查清楚并退款", "product"),
    (
        "My insurance claim was rejected because of a clause nobody explained to me",
        "pay it",
        "product",
    ),
    ("My elderly father was talked into buying an investment-linked policy", "", "product"),
    ("开通手机银行要去网点面签，太不方便了", "希望能线上开通", "process"),
]


@pytest.mark.parametrize(("description", "resolution", "expected"), CATEGORY_CASES)
def test_category_new_phrasings(description: str, resolution: str, expected: str) -> None:
    category = classify_category(description, resolution)
    assert category.primary == expected, category
    assert expected not in category.secondary


def test_category_secondary_and_reasons() -> None:
    category = classify_category("柜员态度很差，而且手续费收得莫名其妙", "退还手续费")
    assert category.primary in ("service", "product")
    assert set(category.secondary) | {category.primary} == {"service", "product"}
    assert "手续费" in category.reasons["product"]
    assert any("态度" in w for w in category.reasons["service"])


def test_category_precedence_when_scores_are_close() -> None:
    # The grievance is both slowness (service) and documents (process): service wins.
    category = classify_category("材料交了三遍，拖了一个多月还没办好")
    assert category.primary == "service"
    assert "process" in category.secondary


def test_category_resolution_weighs_more() -> None:
    # An incidental fee mention, but the remedy asked for is about the rude staff.
    category = classify_category("I asked about the fee and the teller was rude", "an apology")
    assert category.primary == "service"


def test_category_default_is_service() -> None:
    assert classify_category("你好") == Category("service", (), {})
    assert classify_category("") == Category("service", (), {})


# --------------------------------------------------------------------------------------------
# New phrasings: priority
# --------------------------------------------------------------------------------------------

PRIORITY_CASES = [
    # urgent
    ("我的卡昨晚被盗刷了两万", None, "urgent"),
    ("我的信用卡不见了，好像是在地铁上掉的", None, "urgent"),
    ("卡里的钱被人转走了，我根本没操作过", None, "urgent"),
    ("My wallet was stolen with all my cards in it", None, "urgent"),
    ("Someone logged into my account and changed my password", None, "urgent"),
    ("There are two transactions I don't recognise on my statement", None, "urgent"),
    ("我的账户被冻结了，工资都取不出来", None, "urgent"),
    ("My account has been frozen for a week and I can't pay rent", None, "urgent"),
    ("接到一个自称银行客服的电话，让我把钱转到安全账户", None, "urgent"),
    ("I was scammed by someone pretending to be from your bank", None, "urgent"),
    ("I noticed a withdrawal of 5000 yuan I did not make", None, "urgent"),
    ("信用卡账单上有一笔我不认识的消费", None, "urgent"),
    ("存折丢了，里面还有钱", None, "urgent"),
    ("工资卡被冻结了，说是司法冻结", None, "urgent"),
    # high
    ("如果这周还不解决，我会去人民银行投诉", None, "high"),
    ("再不处理我就打12378", None, "high"),
    ("I will post this on Weibo and call the press", None, "high"),
    ("我已经咨询了律师，准备起诉你们", None, "high"),
    ("If this isn't fixed I'll see you in court", None, "high"),
    ("我母亲今年82岁，腿脚不便，你们还让她跑三趟", None, "high"),
    ("I'm a pensioner and your fees keep rising", None, "high"),
    ("My 80-year-old mother was sold a product she doesn't understand", None, "high"),
    ("这是我第三次投诉同一个问题了", None, "high"),
    ("This is the second time I've complained about the same charge", None, "high"),
    ("理财到期没有按时兑付", Decimal("60000"), "high"),
    # low
    ("建议营业厅多放几把椅子", None, "low"),
    ("It would be nice if the app had a dark mode", None, "low"),
    ("Just a remark: the hold music is far too loud", None, "low"),
    # normal, including negatives
    ("I lost 300 yuan on fees", None, "normal"),
    ("the agent was rude", None, "normal"),
    ("我不想起诉，只希望你们给个说法", None, "normal"),
    ("I don't want to go to the regulator, just fix it", None, "normal"),
    ("我没有想投诉到银保监会的意思，就是希望尽快处理", None, "normal"),
    ("不得不说，再不处理我就去起诉", None, "high"),
    ("开通手机银行要去网点面签，太不方便了，希望能线上开通", None, "normal"),
    ("卡没丢，就是想问问年费怎么收", None, "normal"),
    ("没有被盗刷，只是想问一下额度", None, "normal"),
    ("I have not lost my card, I just want to know about the fee", None, "normal"),
    # Issue 14: a customer asking to freeze their card fears payments on it.
    ("请帮我冻结卡片", None, "urgent"),
    ("建议你们把乱扣的钱退给我", None, "normal"),
    ("建议你们改进一下，多扣了我30块", None, "normal"),
    ("理财到期没有按时兑付", Decimal("49999.99"), "normal"),
    ("转账手续费3.15元是怎么算的", None, "normal"),
]


@pytest.mark.parametrize(("text", "amount", "expected"), PRIORITY_CASES)
def test_priority_new_phrasings(text: str, amount: Decimal | None, expected: str) -> None:
    label = prioritise(text, amount)
    assert label.value == expected, label


def test_priority_reasons_are_the_customers_words() -> None:
    assert prioritise("我的卡被盗刷了") == Label("urgent", ("被盗刷",))
    assert prioritise("normal text", Decimal("50000")) == Label("high", ("amount>=50000",))
    label = prioritise("ＣＢＩＲＣ will hear about this")
    assert label.value == "high" and label.reasons == ("ＣＢＩＲＣ",)


def test_priority_first_rule_wins() -> None:
    # urgent beats high, high beats low
    assert prioritise("卡被盗刷了，我要找媒体曝光").value == "urgent"
    assert prioritise("建议你们改进，不然我就找记者").value == "high"
    assert prioritise("just a suggestion", Decimal("80000")).value == "high"


def test_priority_amount_types() -> None:
    assert prioritise("x", 50000).value == "high"  # type: ignore[arg-type]
    assert prioritise("x", Decimal("NaN")).value == "normal"
    assert prioritise("建议改进", Decimal("20")).value == "normal"  # money involved: not low


# --------------------------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("提个意见，网点的叫号屏太小了", True),
        ("Suggestion: let me export statements as PDF", True),
        ("建议你们手机银行的转账页面做得简单一点", True),
        ("建议你们赔偿我的损失", False),
        ("I suggest you refund me", False),
        ("柜员态度太差了，建议好好培训", False),
        ("卡里多扣了50块", False),
        ("", False),
    ],
)
def test_is_suggestion(text: str, expected: bool) -> None:
    assert is_suggestion(text) is expected


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
            "钱没吐出来但是卡里扣了，请尽快把钱退给我！",
            "请尽快把钱退给我",
        ),
        (
            "Hi, I'm Emma Clarke. Someone used my credit card online yesterday, three charges I "
            "never made, about 460 USD in total. Please block the card! My number is +44 7700 "
            "900123.",
            "Please block the card!",
        ),
        ("我的卡被盗刷了。希望银行赔偿我的损失。", "希望银行赔偿我的损失"),
        ("The fee is wrong. I want a refund.", "I want a refund"),
        ("冻结卡片，把钱追回来", "冻结卡片，把钱追回来"),
        ("退钱", "退钱"),
        ("someone should call me back", "someone should call me back"),
        ("柜员态度太差了", None),
        ("上次说好一周内回复，到现在都没人联系我", None),
        ("工资卡被冻结了，说是司法冻结", None),
        ("My claim was rejected because of a clause nobody explained to me", None),
        ("", None),
    ],
)
def test_extract_resolution(text: str, expected: str | None) -> None:
    assert extract_resolution(text) == expected


# --------------------------------------------------------------------------------------------
# Regulatory classification
# --------------------------------------------------------------------------------------------


def test_regulatory_self_service_and_cards() -> None:
    text = "在南山支行的ATM取款，钱没吐出来但是卡里扣了"
    result = regulatory("debit_card", classify_category(text), text, "wechat")
    assert result == {
        "business_type": "bank_cards",
        "reason": "facilities_systems",
        "channel": "self_service",
    }


def test_regulatory_counter_service() -> None:
    text = "在柜台办业务，柜员态度很差"
    result = regulatory("deposit", classify_category(text), text, "telegram")
    assert result == {
        "business_type": "rmb_savings",
        "reason": "service_attitude_quality",
        "channel": "counter",
    }


def test_regulatory_electronic_and_funds_safety() -> None:
    text = "手机银行被人登录，转走了五千，不是本人操作"
    result = regulatory("payment", classify_category(text), text, "webchat")
    assert result["channel"] == "electronic"
    assert result["reason"] == "funds_safety"
    assert result["business_type"] == "payment_settlement"


def test_regulatory_explicit_channel_and_fallbacks() -> None:
    category = Category("process", (), {})
    result = regulatory(None, category, "", "counter")
    assert result == {"business_type": "other", "reason": "rules_procedures", "channel": "counter"}
    result = regulatory(None, category, "想问个事", "hotline")
    assert result["channel"] == "unknown"  # the intake channel is not the business channel


def test_regulatory_misselling_and_agency() -> None:
    text = "网点把分红险当作存款推销给我爸"
    result = regulatory("insurance", classify_category(text), text, None)
    assert result["business_type"] == "agency_business"
    assert result["reason"] == "marketing_practice"
    assert result["channel"] == "counter"


def test_regulatory_third_party() -> None:
    text = "支付宝绑定的银行卡被扣了两次"
    assert regulatory("debit_card", classify_category(text), text, None)["channel"] == (
        "third_party"
    )


# --------------------------------------------------------------------------------------------
# Robustness and speed
# --------------------------------------------------------------------------------------------

_ALPHABET = st.one_of(
    st.characters(),
    st.sampled_from(list("卡被盗刷不是本人操作没有损失建议退钱~*()[]\\.，。！？ lost card sue")),
)


@settings(max_examples=150, deadline=None)
@given(st.text(_ALPHABET, max_size=4000), st.text(max_size=40))
def test_no_public_function_raises(text: str, other: str) -> None:
    business = classify_business(text)
    assert business is None or business.value in BUSINESS_LINES
    answer = parse_business_answer(text)
    assert answer is None or answer.value in BUSINESS_LINES
    category = classify_category(text, other)
    assert category.primary in ("service", "process", "product")
    assert prioritise(text).value in ("urgent", "high", "normal", "low")
    assert isinstance(is_suggestion(text), bool)
    resolution = extract_resolution(text)
    assert resolution is None or (isinstance(resolution, str) and resolution)
    result = regulatory(business.value if business else None, category, text, other or None)
    assert set(result) == {"business_type", "reason", "channel"}



# --------------------------------------------------------------------------------------------
# Security, scams, staff conduct, pending matters, attendance, exclusions, vulnerability
# (new phrasings of the situations behind tests/data/phrasings.jsonl, not copies of it)
# --------------------------------------------------------------------------------------------

SECURITY_CASES = [
    # (description, resolution): unauthorised use -> product and urgent
    (
        "There's a 2,150 yuan purchase on my credit card from an online shop, I didn't buy "
        "anything there",
        "cancel the card and refund",
    ),
    ("My debit card was stolen on the bus and whoever took it withdrew 3,000 yuan", "block it"),
    ("Somebody hacked into my mobile banking app and transferred 20,000 out of my savings", ""),
    ("A stranger logged on to my account and changed my password, then emptied it", ""),
    (
        "My card was used by someone else, I called the hotline to block it and waited 40 minutes",
        "refund the money",
    ),
    ("信用卡上有三笔消费不是我刷的，我人在北京，消费地在深圳", "先把卡冻结，钱退给我"),
    ("我的网银被他人登录，绑定手机号被改了，卡里的钱被划走了八千", "冻结账户，追回资金"),
    ("卡一直在我身上，但是账户里的钱被人取走了，我从来没有在外地取过钱", ""),
    ("卡被盗刷了，打客服电话一直打不通，等了一个小时", "把钱追回来"),
]


@pytest.mark.parametrize(("description", "resolution"), SECURITY_CASES)
def test_unauthorised_use_is_product_and_urgent(description: str, resolution: str) -> None:
    category = classify_category(description, resolution)
    assert category.primary == "product", category
    assert prioritise(f"{description}\n{resolution}").value == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "在交友软件上认识一个男的，说带我炒外汇，我转了五万过去，现在把我拉黑了",
        "有个网友介绍了一个投资平台，充值以后平台一直提不出来钱",
        "收到一条假短信，点了里面的链接，输入了验证码，卡里的钱就没了",
        "I met a guy online who got me into a crypto investment platform and now he's gone",
        "A text claiming to be from the bank had a link; I entered my card details and lost "
        "6,000 yuan",
    ],
)
def test_scams_are_urgent(text: str) -> None:
    assert prioritise(text).value == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "I transferred 5,000 yuan from my account to my sister and it hasn't arrived",
        "I entered my card into the ATM and it kept it",
        "我输入了三次密码卡被锁了",
        "ATM取款输入了密码，钱没吐出来",
        "The hotline transferred me three times and nobody helped",
    ],
)
def test_security_words_do_not_overreach(text: str) -> None:
    assert prioritise(text).value != "urgent"
    assert classify_category(text).primary != "product" or "吐" in text


CONDUCT_AND_PROCESS_CASES = [
    # staff pestering with sales calls -> service (staff behaviour), not product
    ("你们的客户经理天天给我打电话推销保险，我都说了不买", "不要再给我打电话", "service"),
    (
        "Your relationship manager keeps calling me every day to push a fund even though I told "
        "him no",
        "stop calling me",
        "service",
    ),
    # turned away within opening hours -> service (rule 1 beats rule 2)
    ("网点挂的营业时间是到下午五点，我四点四十去的，柜员说已经扎帐了让我明天再来", "", "service"),
    ("The branch says it is open until 5pm but the teller turned me away at 4:20", "", "service"),
    # matured product not paid out, nobody can say why -> service (slowness)
    ("结构性存款到期三天了，本金和收益都没回到账上，客服也说不清楚怎么回事", "尽快兑付", "service"),
    (
        "My wealth product matured last week but hasn't paid out and nobody can explain why",
        "pay me and the lost interest",
        "service",
    ),
    # a release still not done -> service (delay)
    ("房贷结清两个月了，抵押注销到现在还没办好", "尽快办理", "service"),
    ("I paid off my car loan in March and the lien release still hasn't been done", "", "service"),
    # who must attend and sign -> process
    ("公司开户要求法人必须亲自到场，还得来两次签字，白跑一趟", "一次性告知所需材料", "process"),
    (
        "To open our company account the bank needs the legal representative to come in person, "
        "twice",
        "",
        "process",
    ),
    # claim refused under an exclusion never explained -> product
    ("重疾险理赔被拒，说属于免责条款，当初买的时候没人跟我解释过", "按合同赔付", "product"),
    (
        "My travel insurance claim was turned down due to an exclusion for pre-existing "
        "conditions that was never explained",
        "pay out",
        "product",
    ),
]


@pytest.mark.parametrize(("description", "resolution", "expected"), CONDUCT_AND_PROCESS_CASES)
def test_category_situations(description: str, resolution: str, expected: str) -> None:
    category = classify_category(description, resolution)
    assert category.primary == expected, category


def test_decisive_security_keeps_the_rest_secondary() -> None:
    category = classify_category("卡被盗刷了，打客服电话一直打不通，等了一个小时", "")
    assert category.primary == "product"
    assert "service" in category.secondary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a remark about old or disabled people in general is not a vulnerable customer
        ("建议ATM的字体大一点，很多老年人看不清", "low"),
        ("建议网点给残疾人修个坡道", "low"),
        ("Suggestion: the queue screen font is too small for elderly customers", "low"),
        # the customer, or the person they complain for
        ("我妈坐轮椅，你们还非要她本人到柜台", "high"),
        ("我是个老人家，不会用手机银行，柜员还不耐烦", "high"),
        ("家里老人被你们的人推销了保险", "high"),
        ("I'm disabled and your branch has no ramp", "high"),
        ("My father has dementia and your staff let him sign a wealth product", "high"),
        ("As a blind customer I cannot use your new card reader", "high"),
    ],
)
def test_vulnerability_is_about_the_customer(text: str, expected: str) -> None:
    assert prioritise(text).value == expected


# --------------------------------------------------------------------------------------------
# Held-out failures, with new phrasings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # repayment words shared by cards and loans: the card-specific word decides
        ("手机银行老是转圈，还款一直还不上，最后逾期了被收了滞纳金", "credit_card"),
        ("到了还款日系统维护还不了，算我逾期", "credit_card"),
        ("明明还了最低还款额，还是算了全额罚息", "credit_card"),
        ("月供晚扣了一天就算我逾期，还要罚息", "loan"),
        ("房贷提前还款还要收违约金", "loan"),
        ("还款逾期了一天就上征信", "loan"),
        # a frozen card is about the card
        ("网上卖了个二手手机，对方打钱给我之后我的卡就被冻结了", "debit_card"),
        ("朋友转了钱给我，结果卡被锁了用不了", "debit_card"),
        # a scammer's pretext is not the business line
        (
            "一个自称美团客服的人说我开了百万保障每月要扣费，让我操作关闭，结果我卡里的钱全没了",
            "debit_card",
        ),
        ("有人冒充平台客服说我的保险到期要续保，我按他说的操作，卡里的钱被转走了", "debit_card"),
        # structured products are wealth even when a deposit is moved into them
        (
            "They moved my time deposit into a structured product; my principal is at risk",
            "wealth",
        ),
        ("理财经理把我的定期存款转成了结构性产品，现在说不保本", "wealth"),
        # English card-statement words
        (
            "I paid on time but my statement still charged interest on the full balance",
            "credit_card",
        ),
        ("I paid before the due date and still got a late fee", "credit_card"),
        (
            "I always pay the minimum payment and they added interest on the entire balance",
            "credit_card",
        ),
    ],
)
def test_business_held_out_phrasings(text: str, expected: str) -> None:
    label = classify_business(text)
    assert label is not None and label.value == expected, label


@pytest.mark.parametrize(
    ("text", "resolution"),
    [
        (
            "Our train was delayed over three hours and the travel policy underpaid my claim",
            "pay the rest of the claim",
        ),
        ("Our flight got delayed by 7 hours and the insurer only paid half of it", "full payout"),
        ("航班晚点了五个小时，航班延误险只赔了一半", "按条款足额赔付"),
    ],
)
def test_insured_delay_is_not_slow_service(text: str, resolution: str) -> None:
    assert classify_category(text, resolution).primary == "product"


def test_institutions_own_delay_is_still_service() -> None:
    assert classify_category("The refund was delayed for weeks", "").primary == "service"


@pytest.mark.parametrize(
    "text",
    [
        "This is my fourth message about the double charge",
        "Second email about this fee, still nothing",
        "I have complained three times about this charge",
        "I'm writing about this again",
        "这是第四次找你们说这个扣费的事了",
        "我已经第三次来网点反映了",
        "一次又一次地乱扣费",
    ],
)
def test_repeat_complaint_is_high(text: str) -> None:
    assert prioritise(text).value == "high"


@pytest.mark.parametrize(
    "text", ["第二次扣款又失败了", "I called the hotline five times and nobody picked up"]
)
def test_not_a_repeat_complaint(text: str) -> None:
    assert prioritise(text).value == "normal"


@pytest.mark.parametrize(
    "text",
    [
        "我汇错了账户，能帮我追回吗",
        "付错了人，麻烦帮我要回来",
        "打错款了怎么办",
        "I sent it to the wrong account by mistake",
        "Please help me get my money back",
    ],
)
def test_implied_money_is_a_money_cue(text: str) -> None:
    from workflow.cues import mentions_money

    assert mentions_money(text)


# A feared event is not an event; an account frozen is about the account; "never agreed to"
# is fraud only about money.
@pytest.mark.parametrize(("text", "expected"), [
    ("热线一个小时打不进来，万一被人刷了怎么办", "service"),
    ("I couldn't get through for an hour, what if someone used my card", "service"),
    ("信用卡被人刷了两笔，不是我本人操作的", "product"),
])
def test_a_feared_event_is_not_the_grievance(text: str, expected: str) -> None:
    assert classify_category(text).primary == expected


def test_a_feared_theft_alone_is_not_urgent() -> None:
    assert prioritise("我担心被盗刷，想问问怎么设置交易提醒").value == "normal"
    assert prioritise("卡被偷了，担心被盗刷").value == "urgent"  # the theft itself is


@pytest.mark.parametrize("text", [
    "my account has been frozen and the transfer for my rent was rejected",
    "我的账户突然被冻结了，钱取不出来",
])
def test_a_frozen_account_is_about_the_account(text: str) -> None:
    label = classify_business(text)
    assert label is not None and label.value == "deposit"


def test_never_agreed_to_is_fraud_only_about_money() -> None:
    assert prioritise("Your telemarketers call me daily. I never agreed to any of this."
                      ).value == "normal"
    assert prioritise("I never agreed to this insurance policy, yet you charge me monthly"
                      ).value == "urgent"


# ---- copied cards, late fees, named lines, suggestions ----------------------------------------


@pytest.mark.parametrize(
    ("description", "resolution"),
    [
        ("I think someone copied my debit card, there are withdrawals in Shenzhen", ""),
        ("My credit card details were cloned and used in a shop abroad", "Cancel the card"),
        ("The ATM at the station had a skimmer on it and now my account is short", ""),
        ("Two purchases went through last night but the card was in my pocket the whole time",
         "Block the card"),
        ("Three transactions this morning, yet the card never left my wallet", ""),
        ("我的银行卡被人复制了，在外地被取了两笔", ""),
        ("卡一直在我身上，昨天晚上却被取现了三千", "把卡冻结"),
    ],
)
def test_a_copied_card_is_unauthorised_use(description: str, resolution: str) -> None:
    assert prioritise(f"{description}\n{resolution}").value == "urgent"
    assert classify_category(description, resolution).primary == "product"


@pytest.mark.parametrize(
    "text",
    [
        "The card is in my wallet but the app says it is blocked",  # no money taken
        "My card wasn't copied, I just forgot my PIN",
        "I copied my card number into the app and it was rejected",
        "卡在我手上，但是密码忘了",
        "The card is with me and no withdrawals were made, I just want to check",
    ],
)
def test_a_card_in_hand_alone_is_not_unauthorised_use(text: str) -> None:
    assert prioritise(text).value != "urgent"


@pytest.mark.parametrize(
    ("description", "resolution", "expected"),
    [
        ("You charged me a late payment fee although I paid on time", "Waive the fee", "product"),
        ("There is a 200 yuan late fee on my statement that I never expected", "", "product"),
        ("The bank marked my instalment late and added a penalty", "Remove the charge", "product"),
        ("My transfer arrived three days late and nobody told me why", "", "service"),
        ("The refund came late", "", "service"),
    ],
)
def test_late_naming_a_charge_is_no_slowness(description: str, resolution: str,
                                             expected: str) -> None:
    category = classify_category(description, resolution)
    assert category.primary == expected
    if expected == "product":
        assert "service" not in category.reasons, category


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A line named once is not outweighed by feature words of another, however repeated.
        ("I rent a safety deposit box and got a late fee, the late fee is on my statement, a "
         "late payment fee again", "other"),
        ("我租的保管箱被收了滞纳金，账单上写着滞纳金，又是滞纳金", "other"),
        ("My business loan repayments come out of my savings, the deposit I keep with you, and "
         "my savings balance now shows too much interest", "loan"),
        ("存折上的定期到期了，去取款，柜台说取款要签字，取钱又说要证明，取款机也取不了", "deposit"),
        # A channel named is no product named: the card repaid through it decides.
        ("手机银行老是卡，信用卡还款还不上，被收了滞纳金", "credit_card"),
    ],
)
def test_a_named_line_is_not_outweighed(text: str, expected: str) -> None:
    label = classify_business(text)
    assert label is not None and label.value == expected, label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我就是想提个小建议", True),
        ("不是投诉，就是有个建议。", True),
        ("I have a small suggestion.", True),
        ("提个建议，转账页面能不能做得简单一点", False),
        ("Just a suggestion: let me download statements as PDF", False),
        ("能不能提前三天发短信提醒", False),
        ("你们的服务太差了", False),
    ],
)
def test_announces_suggestion(text: str, expected: bool) -> None:
    assert announces_suggestion(text) is expected


def test_no_loss_said_outright_keeps_a_suggestion_low() -> None:
    text = "建议还款提醒短信早点发，现在扣款当天才发，我也没有什么损失，就是可以改进一下"
    assert prioritise(text).value == "low"
    # Without the customer saying so, a deduction is a loss and the message no mere remark.
    assert prioritise("建议还款提醒短信早点发，现在扣款当天才发，多扣了我一笔").value != "low"


def test_the_police_is_an_escalation_only_as_an_act() -> None:
    assert prioritise("My lease is registered with the police station and you still refuse "
                      "it").value == "normal"
    assert prioritise("租房合同在公安局备案过了，你们还是不认").value == "normal"
    assert prioritise("If you do not refund me I will call the police").value == "high"
    assert prioritise("再不退钱我就报警").value == "high"


@pytest.mark.parametrize(("text", "business"), [
    # The product the grievance is about, not a side word: insurance sold with a loan.
    ("My mortgage escrow account was charged for homeowners insurance twice", "loan"),
    ("我房贷捆绑的保险被多扣了保费", "loan"),
    ("my car loan insurance premium went up", "loan"),
    ("I made a payment on my credit card and it was not credited", "credit_card"),
    # A loan said in passing does not take over an insurance complaint.
    ("我有房贷，车险理赔被拒了", "insurance"),
    ("I have a car loan and my car insurance claim was rejected", "insurance"),
])
def test_business_line_from_the_product_not_a_side_word(text, business):
    assert classify_business(text).value == business
