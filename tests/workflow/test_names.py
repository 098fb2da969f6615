"""Customer names from free text and from answers to "what is your name?"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.extract.names import NameMatch, extract_name, parse_name_answer, strip_spelling


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元", "张伟"),
        ("跨行转账手续费收了我25块，我叫黄磊 电话13522223333", "黄磊"),
        ("本人王建国，要投诉", "王建国"),
        ("我姓李，李娜", "李娜"),
        ("我姓李，叫李娜", "李娜"),
        ("我姓王，叫王建国", "王建国"),
        ("姓名：张三", "张三"),
        ("姓名：张三，电话13912345678", "张三"),
        ("名字是王建国", "王建国"),
        ("我的名字叫陈静", "陈静"),
        ("我是马云飞", "马云飞"),
        ("我是张伟昨天在南山支行取钱", "张伟"),
        ("我是王建国想问一下", "王建国"),
        ("我是马云飞来投诉的", "马云飞"),
        ("我是许晴要投诉", "许晴"),
        ("我是欧阳娜娜", "欧阳娜娜"),
        ("我是张先生", "张先生"),
        ("我是李女士，想问一下", "李女士"),
        ("我是ｘ，不对，我是郑爽", "郑爽"),
        ("Hi, I'm Emma Clarke. Someone used my credit card", "Emma Clarke"),
        ("I am David Wong and I want to complain", "David Wong"),
        ("my name is Sara Li", "Sara Li"),
        ("this is Michael Chen from Shenzhen", "Michael Chen"),
        ("Name: David Wong", "David Wong"),
        ("I’m Sean O'Brien", "Sean O'Brien"),
        ("I'm Emma", "Emma"),
    ],
)
def test_extract_name(text: str, name: str) -> None:
    match = extract_name(text)
    assert match is not None
    assert match.name == name
    assert text[match.start : match.end] == name


@pytest.mark.parametrize(
    "text",
    [
        "我是客户",
        "我是你们的老客户",
        "我是来投诉的",
        "我是用户",
        "我姓李",
        "我姓李，",
        "我是马上要去投诉",
        "我是周末来的",
        "我是江苏人",
        "我是华夏银行的客户",
        "我是在网上办的",
        "I'm very angry",
        "I'm not happy",
        "I am writing to complain",
        "This is ridiculous",
        "I'm Chinese",
        "我要投诉！",
        "",
    ],
)
def test_extract_name_rejects(text: str) -> None:
    assert extract_name(text) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我姓李，李娜", "李娜"),
        ("我叫王建国", "王建国"),
        ("张伟", "张伟"),
        ("  张伟。", "张伟"),
        ("嗯，张伟", "张伟"),
        ("王先生", "王先生"),
        ("李娜 13800138000", "李娜"),
        ("仉伟", "仉伟"),  # surname not in the list: the whole answer is still the name
        ("Emma Clarke", "Emma Clarke"),
        ("my name is David Wong", "David Wong"),
        ("it's Sara", "Sara"),
        ("Sara Li.", "Sara Li"),
        ("emma clarke", "emma clarke"),
    ],
)
def test_parse_name_answer(text: str, name: str) -> None:
    match = parse_name_answer(text)
    assert match is not None
    assert match.name == name
    assert text[match.start : match.end] == name


@pytest.mark.parametrize(
    "text",
    [
        "不知道",
        "I don't know",
        "为什么要告诉你",
        "13912345678",
        "１３９１１１１２２２２",
        "我姓李",
        "保密",
        "算了吧",
        "no",
        "I'd rather not say",
        "转人工",
        "快点",
        "房贷",
        "钱包",
        "周一",
        "help",
        "信用卡",
        "好的",
        "这是一段很长的文字，完全没有名字，只是在抱怨你们银行的服务太差了，真的太差了",
        "   ",
        "",
    ],
)
def test_parse_name_answer_rejects(text: str) -> None:
    assert parse_name_answer(text) is None


def test_match_is_frozen() -> None:
    match = NameMatch("张伟", 0, 2)
    with pytest.raises(AttributeError):
        match.name = "李娜"  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4000))
def test_never_raises_and_spans_hold(text: str) -> None:
    for fn in (extract_name, parse_name_answer):
        match = fn(text)
        if match is not None:
            assert text[match.start : match.end] == match.name


_zhish = st.text(alphabet="我是叫姓名字本人张王李欧阳伟娜建国，。 :：先生IamEmaClrk'", max_size=200)


@settings(max_examples=200, deadline=None)
@given(_zhish)
def test_cue_heavy_text(text: str) -> None:
    for fn in (extract_name, parse_name_answer):
        match = fn(text)
        if match is not None:
            assert text[match.start : match.end] == match.name


# --- A name spelled out after it, as said on the phone ---------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Ngozi Adeyemi. A D E Y E M I.", "Ngozi Adeyemi"),  # letters spaced out
        ("Hannah Voss, V-O-S-S", "Hannah Voss"),
        ("Hannah Voss. V.O.S.S.", "Hannah Voss"),
        ("Peter Schmitt. Schmitt with a double T at the end.", "Peter Schmitt"),
        ("Lena Kraft, that's K R A F T.", "Lena Kraft"),
        ("my name is Omar Haddad, H-A-D-D-A-D", "Omar Haddad"),
        ("Anna Moll, M O double L", "Anna Moll"),
    ],
)
def test_a_spelling_after_the_name_is_not_part_of_it(text: str, name: str) -> None:
    match = parse_name_answer(text)
    assert match is not None and match.name == name
    assert text[match.start : match.end] == name


@pytest.mark.parametrize(
    "text",
    [
        "Hannah Voss. X Y Z.",  # letters that do not spell the name
        "Hannah Voss. I want a refund.",
        "Hannah. V O S S.",  # spells a surname not given
    ],
)
def test_what_does_not_spell_the_name_is_not_a_spelling(text: str) -> None:
    match = parse_name_answer(text)
    assert match is None or match.name not in ("Hannah Voss", "Hannah")


def test_strip_spelling() -> None:
    assert strip_spelling("Peter Schmitt. Schmitt with a double T.", "Peter Schmitt") == (
        "Peter Schmitt"
    )
    assert strip_spelling("Lena Kraft, K-R-A-F-T", "Lena Kraft") == "Lena Kraft"
    said = "Lena Kraft. My card was swallowed by the ATM."
    assert strip_spelling(said, "Lena Kraft") == said


@pytest.mark.parametrize(("answer", "name"), [
    ("我叫李俊", "李俊"), ("白雪", "白雪"), ("我是白雪", "白雪"), ("高明", "高明"),
    ("夏天", "夏天")])
def test_asked_for_the_name_a_surname_and_given_name_is_the_name_even_if_a_word(answer, name):
    # Outside an answer "白雪" is snow; as the answer to "您怎么称呼" it is the name.
    match = parse_name_answer(answer)
    assert match is not None and match.name == name


@pytest.mark.parametrize("answer", ["周末", "好的", "不知道", "转人工", "没有", "投诉", "白说了"])
def test_short_replies_that_are_no_name_stay_no_name(answer):
    assert parse_name_answer(answer) is None
