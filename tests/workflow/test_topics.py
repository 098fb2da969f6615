"""Key terms of complaint texts (workflow/topics.py): the same problem in different words
shares its terms; names, numbers and filler never become topics; the result is stable."""

from __future__ import annotations

import pytest

from workflow.topics import KeyTerms, default_key_terms


@pytest.fixture(scope="module")
def terms() -> KeyTerms:
    return default_key_terms()


@pytest.mark.parametrize("text", [
    "建设路支行门口的ATM机吞了我的卡，至今没有退还",
    "在建设路支行取款机取钱，卡被吞了，打客服也没人管",
    "建设路支行那台自动取款机把我的银行卡吞了",
    "The ATM outside the branch swallowed my card",
    "the cash machine retained my card and nobody helped",
])
def test_one_problem_in_other_words_shares_its_terms(terms: KeyTerms, text: str) -> None:
    found = terms.of(text)
    assert found[:2] == ["atm", "吞卡"] or set(found[:2]) == {"atm", "吞卡"}, found


def test_wealth_returns_below_expectations_are_one_topic(terms: KeyTerms) -> None:
    a = terms.of("购买的稳盈理财产品收益不达预期，理财经理说保本")
    b = terms.of("理财收益率比预期低很多，和宣传的不一样")
    assert {"理财收益", "不达预期"} <= set(a) and {"理财收益", "不达预期"} <= set(b)


def test_names_numbers_masked_digits_and_filler_are_not_topics(terms: KeyTerms) -> None:
    found = terms.of("我叫张伟，我们今天投诉，卡号6222****0123被盗刷了3000元，电话13912345678",
                     exclude=("张伟",))
    assert "盗刷" in found
    assert not any(ch.isdigit() for t in found for ch in t)
    assert "张伟" not in found and "我们" not in found and "投诉" not in found
    assert all(len(t) >= 2 for t in found)


def test_english_terms_are_words_without_stopwords_or_plurals(terms: KeyTerms) -> None:
    found = terms.of("I was charged annual fees twice on my credit cards and the bank ignored me")
    assert "年费" in found  # "annual fee" is the same topic as 年费
    assert "card" in found and "cards" not in found
    assert not {"the", "and", "bank", "was"} & set(found)


def test_terms_are_stable_and_bounded(terms: KeyTerms) -> None:
    text = "信用卡年费没有提前告知就扣了，分期手续费也比宣传的高，客服解释不清楚，要求退还"
    assert terms.of(text) == terms.of(text)
    assert len(terms.of(text)) == 5
    assert len(terms.of(text, limit=2)) == 2
    assert terms.of("") == [] and terms.of("   ") == [] and terms.of("好的") == []


@pytest.mark.parametrize(("text", "name"), [
    ("我叫欧阳娜娜，建设路支行的ATM吞了我的卡", "欧阳娜娜"),
    ("My name is Jonathan Whitfield and the ATM swallowed my card", "Jonathan Whitfield"),
])
def test_no_part_of_the_customers_name_is_a_topic(terms: KeyTerms, text: str,
                                                  name: str) -> None:
    found = terms.of(text, exclude=(name,))
    assert {"atm", "吞卡"} <= set(found)
    assert not any(t in name.lower() for t in found), found
    assert "name" not in found
