"""Branches as people name them: a street's branch, an ATM at a place, an English branch
named without "at"."""

from __future__ import annotations

import pytest

from workflow.fields import extract_branch


@pytest.mark.parametrize(("text", "branch"), [
    ("我在红旗路支行办的业务", "红旗路支行"),
    ("我在解放大道支行开的户", "解放大道支行"),
    ("万达广场ATM吞了我的卡", "万达广场ATM"),
    ("在建设路营业部排了两个小时", "建设路营业部"),
    ("昨天在你们南山支行取钱", "南山支行"),
    ("I went to the Huaihai Road branch yesterday", "Huaihai Road branch"),
    ("the Huaihai Road branch kept my card", "Huaihai Road branch"),
    ("The Nanshan branch was rude to me", "Nanshan branch"),
])
def test_branches_as_customers_name_them(text: str, branch: str) -> None:
    assert extract_branch(text) == branch


@pytest.mark.parametrize("text", [
    "ATM吞了我的卡", "在ATM取款被吞卡", "我去了三趟网点", "你们支行的人态度很差",
    "the branch was closed", "I called the branch twice",
])
def test_no_place_named_no_branch(text: str) -> None:
    assert extract_branch(text) is None
