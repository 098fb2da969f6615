"""Satisfaction after a resolution: the customer hears the outcome on their channel, is asked
to rate it 1-5 (buttons where the channel has them), the rating is kept on the case, and a
rating of 1-2 offers a review (复核) that reopens the case with the review flag."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.store.models import Case, CaseEvent
from tests.cases.test_cases_work_cli import filed, intake, shown
from tests.console.test_channel_takeover import telegram as telegram  # the fake APIs
from tests.console.test_channel_takeover import wechat as wechat
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL
from tests.service.test_telegram_service import CHAT, NUMBER, OPENING, hook
from tests.service.test_telegram_service import Service as TelegramService
from tests.service.test_telegram_service import settings_for as telegram_settings
from tests.service.test_wechat_service import USER, WeChat, file_a_complaint, wait_until
from tests.service.test_wechat_service import Service as WeChatService
from tests.service.test_wechat_service import settings_for as wechat_settings

OUTCOME = "经核实，多收的20元手续费已于今日退回您的账户，并已对当班柜员进行批评教育。"


def resolve(url: str, number: str, outcome: str = OUTCOME) -> None:
    for args in (("in_progress",), ("resolved", "--outcome", outcome)):
        moved = intake(url, "move", number, *args)
        assert moved.returncode == 0, moved.stderr


def test_a_low_rating_in_the_web_chat_offers_a_review_that_reopens_the_case(live) -> None:
    url = live.settings.database_url
    customer, number = filed(live)
    resolve(url, number)

    told = customer.history()[-2:]
    assert OUTCOME in told[0]["text"] and number in told[0]["text"]
    question = told[1]
    assert "1" in question["text"] and "5" in question["text"]
    assert [q["payload"] for q in question["quick_replies"]] == ["5", "4", "3", "2", "1"]

    answer = customer.say("2 处理太慢了")
    offer = answer["replies"][-1]
    assert "复核" in offer["text"]
    assert [q["label"] for q in offer["quick_replies"]] == ["申请复核", "不用了"]
    case = shown(url, number)
    assert (case["rating"], case["rating_comment"]) == (2, "处理太慢了")
    assert case["status"] == "resolved" and case["review_requested"] is False

    answer = customer.say("申请复核")
    opened = answer["replies"][-1]["text"]
    case = shown(url, number)
    assert case["status"] == "review_requested" and case["review_requested"] is True
    # The review is decided within 30 days of the request (BRIEF.md).
    due = date.fromisoformat(case["due_date"])
    assert timedelta(days=29) <= due - date.today() <= timedelta(days=31)
    assert case["due_date"] in opened and number in opened
    changes = [(e["actor"], e["action"]) for e in case["events"]]
    assert ("customer", "rated") in changes and ("customer", "status_changed") in changes
    reopened = [e for e in case["events"] if e["action"] == "status_changed"][-1]
    assert reopened["after"]["status"] == "review_requested"
    assert "2" in reopened["after"]["note"] and "处理太慢了" in reopened["after"]["note"]

    # Their next message is an ordinary one again: a status lookup answers as usual.
    answer = customer.say(f"查询进度 {number}")
    assert any("复核" in r["text"] for r in answer["replies"])


def test_a_good_rating_with_a_comment_is_kept_and_nothing_is_reopened(live) -> None:
    url = live.settings.database_url
    customer, number = filed(live)
    resolve(url, number)
    answer = customer.say("非常满意")
    invite = answer["replies"][-1]
    assert "感谢" in invite["text"] and [q["label"] for q in invite["quick_replies"]] == ["不用了"]
    customer.say("柜台的王经理处理得很快，卡号6222021234567890128的流水也核对了")
    case = shown(url, number)
    assert case["rating"] == 5 and case["status"] == "resolved"
    assert case["review_requested"] is False
    assert "王经理" in case["rating_comment"]
    assert "6222021234567890128" not in case["rating_comment"]  # masked like every text


def test_an_answer_that_is_no_rating_is_asked_once_more_then_read_as_usual(live) -> None:
    url = live.settings.database_url
    customer, number = filed(live)
    resolve(url, number)
    again = customer.say("嗯嗯")["replies"][-1]
    assert "1 到 5" in again["text"] and len(again["quick_replies"]) == 5
    customer.say("好的")
    assert shown(url, number)["rating"] is None


# ---- Telegram and WeChat: the outcome and the question reach the real APIs ---------------


def test_telegram_asks_with_an_inline_keyboard_and_keeps_the_tapped_rating(
        telegram, tmp_path) -> None:
    tg = telegram
    settings = telegram_settings(tg, tmp_path / "db.sqlite", webhook=True)
    with TelegramService(settings) as live:
        url = settings.database_url
        hook(live, tg.text_update(CHAT, OPENING, push=False))
        summary = tg.wait_for_sent(1, timeout=10)[-1]
        hook(live, tg.callback_update(CHAT, "确认", summary["message_id"], push=False))
        filed_text = tg.wait_for_sent(2, timeout=10)[-1]["text"]
        number = NUMBER.search(filed_text).group(0)
        before = len(tg.sent)

        resolve(url, number, "ATM差错款2000元已于今日退回您的银行卡。")
        sent = tg.wait_for_sent(before + 3, timeout=15)[before:]
        assert "ATM差错款2000元已于今日退回" in sent[1]["text"]
        question = sent[2]
        assert question["chat_id"] == CHAT
        keyboard = question["reply_markup"]["inline_keyboard"]
        assert sorted(b["callback_data"] for row in keyboard for b in row) == \
            ["1", "2", "3", "4", "5"]

        hook(live, tg.callback_update(CHAT, "1", question["message_id"], push=False))
        offer = tg.wait_for_sent(before + 4, timeout=10)[-1]
        assert "复核" in offer["text"]
        buttons = [b["callback_data"] for row in offer["reply_markup"]["inline_keyboard"]
                   for b in row]
        assert "申请复核" in buttons
        case = shown(url, number)
        assert case["rating"] == 1
        hook(live, tg.callback_update(CHAT, "申请复核", offer["message_id"], push=False))
        tg.wait_for_sent(before + 5, timeout=10)
        case = shown(url, number)
        assert case["status"] == "review_requested" and case["review_requested"] is True


def test_wechat_sends_the_outcome_and_reads_the_rating_typed_back(wechat, tmp_path) -> None:
    settings = wechat_settings(wechat, f"sqlite:///{tmp_path / 'db.sqlite'}")
    with WeChatService(settings) as live:
        chat = WeChat(live)
        number = file_a_complaint(chat)
        resolve(settings.database_url, number, "差错款2000元已退回，请查收。")
        # Three sends: taken up (in_progress), the outcome, then the rating question.
        sent = wechat.wait_for_sent(3, timeout=15)
        texts = [m.content for m in sent if m.openid == USER]
        assert any("差错款2000元已退回" in t for t in texts)
        question = texts[-1]
        # WeChat has no buttons in a customer-service text: each score is a link the
        # customer taps (it sends the number back), and typing the number works as well.
        assert "weixin://bizmsgmenu?msgmenucontent=5" in question
        reply = chat.say("4")
        assert reply is not None and "感谢" in reply
        wait_until(lambda: shown(settings.database_url, number)["rating"] == 4)


def test_a_review_is_no_longer_offered_online_30_days_after_the_decision(live) -> None:
    url = live.settings.database_url
    customer, number = filed(live)
    resolve(url, number)
    # The decision was told 31 days ago (the store's clock, moved back for the test).
    with live.service.sessions.begin() as session:
        decided = session.scalars(select(CaseEvent).join(Case).where(
            Case.number == number, CaseEvent.action == "status_changed")).all()[-1]
        decided.at = decided.at - timedelta(days=31)
    customer.say("1")
    refused = customer.say("申请复核")["replies"][-1]["text"]
    assert "无法在线申请复核" in refused
    case = shown(url, number)
    assert case["status"] == "resolved" and case["review_requested"] is False
    assert case["rating"] == 1
