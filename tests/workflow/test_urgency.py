"""Urgency said without the trigger words (workflow/urgency.py): each rule family in both
languages, and the questions, negations and turned-up cards that must not fire."""

from __future__ import annotations

import pytest

from workflow import classify, urgency

FIRES = {
    "negated_agency": [
        "there's a withdrawal on my statement I didn't make",
        "My statement shows a payment I don't recognise",
        "money was taken out without my permission",
        "The app says I made a withdrawal but I didn't.",
        "i didnt do this charge",
        "这笔扣款我根本不知道",
        "这笔消费不是我本人操作的",
        "我没有操作过这笔转账",
    ],
    "possession_lost": [
        "I can't find my phone and my banking app is on it",
        "I was mugged and they took my phone",
        "I left my phone at the hotel and someone could open the app",
        "我的手机丢了，手机银行还登着",
        "钱包被偷了，里面有两张信用卡",
    ],
    "someone_else": [
        "someone I don't know has used my card",
        "What should I do if I think someone is using my card?",
        "有人用我的卡在外地刷了钱",
    ],
    "freeze_request": [
        "please freeze my card, I'm worried about payments on it",
        "请马上帮我冻结这张卡",
    ],
}

QUIET = [
    # Hypotheticals: questions about what has not happened.
    "如果QQ号被盗了怎么办",
    "如果卡丢了要怎么挂失？",
    "is my money safe if my phone is stolen?",
    "What happens if I lose my card abroad?",
    # Negated: nothing was lost.
    "卡没丢，就是想问问年费怎么收",
    "I have not lost my card, I just want to know about the fee",
    # The card turned up, or is only late in the post.
    "I found my lost card, can I reactivate it?",
    "My card hasn't arrived yet, is it lost in the post?",
    "我找到之前丢的卡了，还能用吗",
    # Routine questions that share the words.
    "I don't want to use my credit card for this purchase",
    "I can't find my card PIN",
    "how do I unfreeze my card?",
    "我不知道怎么转账",
    "I haven't received the money my friend transferred yet",
]


@pytest.mark.parametrize(("family", "text"), [(f, t) for f, ts in FIRES.items() for t in ts])
def test_each_family_fires_in_both_languages(family: str, text: str) -> None:
    assert family in {t.family for t in urgency.triggers(text)}
    label = classify.prioritise(text)
    assert label.value == "urgent"
    # The reason an agent sees is the customer's own words, readable.
    assert label.reasons and all(len(r) <= 80 for r in label.reasons)


def test_every_family_has_a_rule_of_its_own_in_each_language() -> None:
    fired = {(t.family, "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en")
             for ts in FIRES.values() for text in ts for t in urgency.triggers(text)}
    for family in FIRES:
        assert (family, "en") in fired and (family, "zh") in fired, family


@pytest.mark.parametrize("text", QUIET)
def test_questions_negations_and_found_cards_are_not_urgent(text: str) -> None:
    assert urgency.triggers(text) == ()
    assert classify.prioritise(text).value != "urgent"
    assert not classify.is_urgent(text)


def test_a_hypothetical_said_as_ones_own_belief_is_urgent() -> None:
    # "if" with "I think": the customer reports what they believe happened.
    assert classify.is_urgent("What do I do if I think someone has used my card?")
    assert not classify.is_urgent("What happens if someone uses my card abroad?")
