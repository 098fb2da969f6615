"""Misses listed in issue 14 that the engine already gets right, kept right."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from workflow.fields import extract_fields

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def test_an_amount_said_in_chinese_with_jiao() -> None:
    assert extract_fields("八十六块三被多扣了", NOW)["amount"] == 86.3


def test_a_credit_limit_is_not_the_amount() -> None:
    fields = extract_fields("我的信用额度是5万，这个月被多收了年费300元", NOW)
    assert fields["amount"] == 300 and fields["business"] == "credit_card"


def test_the_main_grievance_is_the_category() -> None:
    # A fraud story, then what they complain about: the hotline (service).
    fields = extract_fields("昨天有人冒充客服骗我转了5000元，我要投诉的是你们客服热线一直打不通",
                            NOW)
    assert fields["category"] == "service" and fields["priority"] == "urgent"
