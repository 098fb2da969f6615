"""A customer complains through the widget on the demo page, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from bot.store import cases

NUMBER = re.compile(r"TS\d{8}-\d{4}")
OPENING = ("我是张伟，手机13912345678。昨天下午在你们南山支行的ATM取款2000元，"
           "钱没吐出来但是卡里扣了，请尽快把钱退给我！")


def open_chat(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_test_id("chat-launcher").click()
    expect(page.get_by_test_id("chat-panel")).to_be_visible()


def say(page: Page, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")


def bot_messages(page: Page):
    return page.locator('[data-testid="chat-message"][data-direction="out"]')


def test_a_complaint_typed_into_the_widget_is_filed(browser, site):
    page = browser.new_page()
    open_chat(page, site.url)
    say(page, OPENING)
    expect(page.get_by_test_id("quick-reply").first).to_have_text("确认", timeout=15000)
    page.get_by_test_id("quick-reply").first.click()
    expect(bot_messages(page).last).to_contain_text("案件编号", timeout=15000)
    shown = NUMBER.search(" ".join(bot_messages(page).all_inner_texts())).group(0)
    with site.service.sessions() as session:
        case = cases.by_number(session, shown)
        assert case is not None
        assert case.name == "张伟" and case.phone == "+8613912345678"
        assert case.channel == "webchat"

    # A returning visitor (same browser storage) finds the conversation where it was.
    page.reload()
    page.get_by_test_id("chat-launcher").click()
    expect(bot_messages(page).last).to_contain_text(shown, timeout=15000)
    page.close()


def test_markup_is_shown_as_text_never_run(browser, site):
    page = browser.new_page()
    open_chat(page, site.url)
    say(page, '<img src=x onerror="window.__pwned=1"><b>柜员态度很差</b>')
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    customer = page.locator('[data-testid="chat-message"][data-direction="in"]').first
    expect(customer).to_contain_text("<b>柜员态度很差</b>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator('[data-testid="chat-panel"] img, [data-testid="chat-panel"] b').count() == 0
    page.close()
