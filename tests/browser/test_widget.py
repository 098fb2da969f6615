"""A customer complains through the widget on the demo page, in a real browser."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page, WebSocket, expect
from sqlalchemy import select

from bot.store import cases
from bot.store.models import ChannelIdentity, Conversation, Message
from tests.service.conftest import conversations_locked, set_idle

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


def customer_messages(page: Page):
    return page.locator('[data-testid="chat-message"][data-direction="in"]')


def stored_visitor_id(page: Page) -> str | None:
    return page.evaluate("localStorage.getItem('complaintChat:visitor_id')")


def inbound_texts(site, visitor_id: str) -> list[str]:
    with site.service.sessions() as s:
        return list(s.scalars(
            select(Message.text)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(ChannelIdentity, Conversation.identity_id == ChannelIdentity.id)
            .where(ChannelIdentity.external_id == visitor_id, Message.direction == "in")
            .order_by(Message.id)))


class SocketLog:
    """The frames of every WebSocket the page opens, as text."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.sent: list[str] = []
        self.received: list[str] = []
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        self.urls.append(ws.url)
        ws.on("framesent", lambda payload: self.sent.append(str(payload)))
        ws.on("framereceived", lambda payload: self.received.append(str(payload)))

    def wait_for(self, page: Page, what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not any(what in frame for frame in self.received):
            assert time.monotonic() < deadline, f"no frame with {what!r}: {self.received}"
            page.wait_for_timeout(50)


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


def test_an_expired_visitor_id_is_replaced_and_the_chat_goes_on(browser, site):
    page = browser.new_page()
    open_chat(page, site.url)
    say(page, "我要投诉！柜员态度很差")
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    old = stored_visitor_id(page)
    assert old and len(old) == 32
    set_idle(site, old, days=31)

    # Back a month later: the stored id has expired, the widget starts afresh.
    page.reload()
    page.get_by_test_id("chat-launcher").click()
    say(page, "我要投诉！")
    expect(bot_messages(page).first).to_contain_text("请简要描述", timeout=15000)
    expect(customer_messages(page)).to_have_count(1)
    expect(customer_messages(page).first).to_have_text("我要投诉！")
    expect(page.get_by_test_id("chat-retry")).to_have_count(0)
    new = stored_visitor_id(page)
    assert new and new != old and re.fullmatch(r"[0-9a-f]{32}", new)
    assert inbound_texts(site, new) == ["我要投诉！"]
    assert inbound_texts(site, old) == ["我要投诉！柜员态度很差"]   # nothing added to it
    assert page.evaluate("localStorage.getItem('complaintChat:pending:' + "
                         f"{json.dumps(old)})") is None

    # And the new one is what a later visit resumes.
    page.reload()
    page.get_by_test_id("chat-launcher").click()
    expect(customer_messages(page)).to_have_count(1)
    expect(bot_messages(page).first).to_contain_text("请简要描述", timeout=15000)
    page.close()


def chatting_over_a_socket(browser, site) -> tuple[Page, SocketLog]:
    """A page whose widget has sent one message and holds a ready socket."""
    page = browser.new_page()
    sockets = SocketLog(page)
    open_chat(page, site.url)
    say(page, "我要投诉！")
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    sockets.wait_for(page, '"ready"')
    return page, sockets


def test_an_id_expiring_while_the_page_is_open_resends_under_a_new_one(browser, site):
    page, _ = chatting_over_a_socket(browser, site)
    old = stored_visitor_id(page)
    set_idle(site, old, days=31)

    # The socket is closed with 4401 on this message; the widget sends it again, new id.
    say(page, "ATM吞卡了")
    expect(customer_messages(page)).to_have_count(1, timeout=15000)   # the old one is gone
    expect(customer_messages(page).first).to_have_text("ATM吞卡了")
    expect(bot_messages(page)).not_to_have_count(0, timeout=15000)
    # Acknowledged: either marked sent, or already shown back from the new conversation's
    # history (when the new socket's catch-up wins the race), never failed.
    expect(customer_messages(page).first).not_to_have_attribute("data-state", "failed")
    expect(customer_messages(page).first).not_to_have_attribute("data-state", "sending",
                                                                 timeout=15000)
    new = stored_visitor_id(page)
    assert new != old
    assert inbound_texts(site, new) == ["ATM吞卡了"]
    assert inbound_texts(site, old) == ["我要投诉！"]
    page.close()


def test_an_expired_id_over_http_only(browser, site):
    """Without WebSocket (a proxy that drops it) the POST path renews the id too."""
    page = browser.new_page()
    page.add_init_script("delete window.WebSocket;")
    open_chat(page, site.url)
    say(page, "我要投诉！")
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    old = stored_visitor_id(page)
    set_idle(site, old, days=31)
    say(page, "ATM吞卡了")
    expect(customer_messages(page)).to_have_count(1, timeout=15000)
    expect(customer_messages(page).first).to_have_attribute("data-state", "sent",
                                                             timeout=15000)
    new = stored_visitor_id(page)
    assert new != old and inbound_texts(site, new) == ["ATM吞卡了"]
    page.close()


def test_the_visitor_id_is_never_in_a_url(browser, site):
    page = browser.new_page()
    urls: list[str] = []
    history_headers: list[dict[str, str]] = []

    def seen(request) -> None:
        urls.append(request.url)
        if "/channels/webchat/history" in request.url:
            history_headers.append(request.headers)

    page.on("request", seen)
    sockets = SocketLog(page)
    open_chat(page, site.url)
    say(page, OPENING)
    expect(page.get_by_test_id("quick-reply").first).to_have_text("确认", timeout=15000)
    page.get_by_test_id("quick-reply").first.click()
    expect(bot_messages(page).last).to_contain_text("案件编号", timeout=15000)
    page.reload()
    page.get_by_test_id("chat-launcher").click()
    expect(bot_messages(page).last).to_contain_text("案件编号", timeout=15000)
    sockets.wait_for(page, '"ready"')
    visitor_id = stored_visitor_id(page)
    page.close()

    assert any("/channels/webchat/history" in u for u in urls)
    assert sockets.urls and all(u.endswith("/channels/webchat/ws") for u in sockets.urls)
    for u in urls + sockets.urls:
        assert visitor_id not in u, u
        assert "visitor_id" not in u, u
    # It goes in a header and in the socket's first frame instead.
    assert history_headers and all(h.get("x-visitor-id") == visitor_id
                                   for h in history_headers)
    assert json.loads(sockets.sent[0]) == {"type": "hello", "visitor_id": visitor_id}


def test_a_store_outage_is_sent_again_later(browser, slow_site):
    site = slow_site
    page, sockets = chatting_over_a_socket(browser, site)

    # Another connection holds the write lock 1.5 s past the answer: "retry".
    with conversations_locked(site.settings.database_url, linger=1.5):
        say(page, "柜员态度很差")
        sockets.wait_for(page, '"retry":true')
    expect(customer_messages(page).last).to_have_attribute("data-state", "sent", timeout=20000)
    expect(page.get_by_test_id("chat-retry")).to_have_count(0)
    expect(bot_messages(page)).to_have_count(2, timeout=15000)
    assert inbound_texts(site, stored_visitor_id(page)) == ["我要投诉！", "柜员态度很差"]
    page.close()
