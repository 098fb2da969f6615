"""The widget as a first-time customer meets it: a greeting with starters, their own card
number masked, the length limit said out loud, case numbers kept whole, and a phone."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_console import SHOTS
from tests.browser.test_widget import (
    NUMBER,
    OPENING,
    bot_messages,
    customer_messages,
    inbound_texts,
    open_chat,
    say,
    stored_visitor_id,
)
from tests.service.conftest import LiveServer
from workflow import catalog

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CARD = "6222021234567890123"
STARTERS = {"zh": ["我要投诉", "查询进度", "转人工"],
            "en": ["Make a complaint", "Check status", "Talk to a person"]}


def greeting(page: Page):
    return page.get_by_test_id("chat-greeting")


def starters(page: Page):
    return page.get_by_test_id("chat-starter")


def in_english(page: Page) -> None:
    """The demo page as an English site would have it (<html lang="en">) when the widget
    starts: deferred scripts run after the document turns "interactive". (Serving a changed
    page with page.route would cost it its local origin, and Chromium blocks the socket.)"""
    page.add_init_script("""document.addEventListener("readystatechange", () => {
        if (document.readyState === "interactive") document.documentElement.lang = "en";
    });""")


def new_page(browser: Browser, site: LiveServer, lang: str, viewport=None) -> Page:
    page = browser.new_page(viewport=viewport or DESKTOP)
    if lang == "en":
        in_english(page)
    return page


class Problems:
    """Console errors, uncaught exceptions and failed or refused requests of a page."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.seen.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.seen.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.seen.append(
            f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.seen.append(
            f"{r.status}: {r.url}"))


def test_the_welcome_endpoint_speaks_the_catalogs(site: LiveServer) -> None:
    for lang in ("zh", "en"):
        body = httpx.get(f"{site.url}/channels/webchat/welcome", params={"lang": lang},
                         timeout=30).json()
        assert catalog.text(lang, "greeting") in body["text"]
        assert catalog.text(lang, "privacy") in body["text"]
        assert [q["label"] for q in body["quick_replies"]] == STARTERS[lang]
        assert all(q["payload"] == q["label"] for q in body["quick_replies"])
    for bad in ("fr", "ZH", ""):
        answer = httpx.get(f"{site.url}/channels/webchat/welcome", params={"lang": bad},
                           timeout=30)
        assert answer.status_code == 422, bad
        assert "lang" in answer.json()["detail"]


def test_the_demo_page_loads_cleanly_with_a_favicon(browser: Browser,
                                                    site: LiveServer) -> None:
    page = browser.new_page(viewport=DESKTOP)
    problems = Problems(page)
    page.goto(site.url + "/")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert problems.seen == []    # without an icon: a 404 for /favicon.ico in the console
    icon = httpx.get(f"{site.url}/favicon.ico", timeout=30)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"      # an ICO file
    # Nor once the widget is open (history, greeting, socket).
    page.get_by_test_id("chat-launcher").click()
    expect(greeting(page)).to_be_visible(timeout=10000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert problems.seen == []
    page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_first_visit_is_greeted_with_privacy_and_starters(browser: Browser, site: LiveServer,
                                                            lang: str) -> None:
    page = new_page(browser, site, lang)
    problems = Problems(page)
    open_chat(page, site.url)
    expect(greeting(page)).to_contain_text(catalog.text(lang, "greeting"), timeout=10000)
    expect(greeting(page)).to_contain_text(catalog.text(lang, "privacy"))
    expect(starters(page)).to_have_text(STARTERS[lang])
    expect(bot_messages(page)).to_have_count(0)    # not a message of the conversation
    # The launcher is a drawn icon, not an emoji that may have no font.
    launcher = page.get_by_test_id("chat-launcher")
    expect(launcher.locator("svg")).to_have_count(1)
    assert "💬" not in launcher.inner_text()
    if lang == "zh":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "widget-greeting.png"))

    # A starter is an ordinary message: the engine asks what happened.
    starters(page).first.click()
    expect(customer_messages(page)).to_have_text([STARTERS[lang][0]])
    expect(bot_messages(page).first).to_have_text(catalog.text(lang, "ask.description"),
                                                  timeout=15000)
    expect(starters(page)).to_have_count(0)
    visitor = stored_visitor_id(page)
    assert inbound_texts(site, visitor) == [STARTERS[lang][0]]

    # Back later: the history, not the greeting (which was never stored).
    page.reload()
    page.get_by_test_id("chat-launcher").click()
    expect(bot_messages(page).first).to_have_text(catalog.text(lang, "ask.description"),
                                                  timeout=15000)
    expect(customer_messages(page)).to_have_count(1)
    page.wait_for_timeout(500)     # a late greeting would show by now
    expect(greeting(page)).to_have_count(0)
    assert problems.seen == []
    page.close()


@pytest.mark.parametrize(("lang", "starter", "answer"), [
    ("zh", 1, "status_ask_number"), ("zh", 2, "handoff.customer_request"),
    ("en", 1, "status_ask_number"), ("en", 2, "handoff.customer_request"),
])
def test_each_starter_is_understood(browser: Browser, site: LiveServer, lang: str,
                                    starter: int, answer: str) -> None:
    """Check status asks for the case number; Talk to a person queues for one."""
    page = new_page(browser, site, lang)
    open_chat(page, site.url)
    starters(page).nth(starter).click()
    expect(customer_messages(page)).to_have_text([STARTERS[lang][starter]])
    expect(bot_messages(page).first).to_contain_text(catalog.text(lang, answer),
                                                     timeout=15000)
    page.close()


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_the_customers_own_card_number_is_masked_on_screen(browser: Browser, site: LiveServer,
                                                          transport: str) -> None:
    page = browser.new_page(viewport=DESKTOP)
    if transport == "http":
        page.add_init_script("delete window.WebSocket;")
    open_chat(page, site.url)
    say(page, f"我的卡号{CARD}被盗刷了")
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    expect(customer_messages(page).first).to_have_text(
        re.compile(r"我的卡号\*+0123被盗刷了"))
    panel = page.get_by_test_id("chat-panel")
    assert CARD not in panel.evaluate("node => node.textContent")
    assert CARD not in page.evaluate("document.body.textContent")
    assert CARD not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    if transport == "socket":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "widget-masked.png"))
    page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_message_too_long_is_not_cut_nor_sent(browser: Browser, site: LiveServer,
                                               lang: str) -> None:
    page = new_page(browser, site, lang)
    posted: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posted.append(r.url))
    open_chat(page, site.url)
    expect(greeting(page)).to_be_visible(timeout=10000)
    box, limit, send = (page.get_by_test_id(t) for t in ("chat-input", "chat-limit",
                                                          "chat-send"))
    phrase = "柜员态度很差，让我等了很久。" if lang == "zh" else "The teller was rude. "

    def text(n: int) -> str:        # n characters that the server's strip() leaves whole
        return (phrase * 400)[:n - 1] + "!"

    # Far from the limit nothing is shown; near it, a counter.
    box.fill(text(100))
    expect(limit).to_be_hidden()
    box.fill(text(3600))
    expect(limit).to_be_visible()
    expect(limit).to_contain_text("3600")
    expect(send).to_be_enabled()

    # Over it: the limit is said, in the page's language, and nothing goes.
    box.fill(text(4001))
    expect(limit).to_contain_text("4000")
    expect(limit).to_contain_text("4001")
    expect(limit).to_contain_text("字" if lang == "zh" else "at most")
    expect(send).to_be_disabled()
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    page.wait_for_timeout(300)
    expect(customer_messages(page)).to_have_count(0)
    assert box.input_value() == text(4001)      # kept for the customer to shorten
    assert posted == []

    # Characters are counted as the server counts them: 4000 emoji are not 8000.
    box.fill("😀" * 4000)
    expect(send).to_be_enabled()
    expect(limit).not_to_contain_text("4001")

    # Shortened to the limit: sent whole.
    box.fill(text(4000))
    expect(send).to_be_enabled()
    box.press("Enter")
    expect(customer_messages(page)).to_have_count(1)
    expect(box).to_have_value("")
    expect(limit).to_be_hidden()
    expect(bot_messages(page).first).to_be_visible(timeout=15000)
    assert inbound_texts(site, stored_visitor_id(page)) == [text(4000)]
    page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_placeholder_fits_its_box(browser: Browser, site: LiveServer, lang: str,
                                      viewport: dict[str, int]) -> None:
    page = new_page(browser, site, lang, viewport)
    open_chat(page, site.url)
    room = page.get_by_test_id("chat-input").evaluate("""box => {
        const s = getComputedStyle(box);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
        const inner = box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        return {text: box.placeholder, width: ctx.measureText(box.placeholder).width, inner};
    }""")
    assert room["text"]
    assert room["width"] <= room["inner"], room
    page.close()


def unbroken(page: Page, pattern: re.Pattern[str]) -> list[str]:
    """Every match of `pattern` in the bot's bubbles, asserted to sit whole in one no-wrap
    span laid out on a single line."""
    texts = " ".join(bot_messages(page).all_inner_texts())
    found = sorted(set(pattern.findall(texts)))
    for token in found:
        spans = page.locator(".cw-bubble span", has_text=token)
        assert spans.count() >= 1, token
        for i in range(spans.count()):
            span = spans.nth(i)
            assert span.inner_text() == token
            assert span.evaluate("s => getComputedStyle(s).whiteSpace") == "nowrap"
            assert span.evaluate("s => s.getClientRects().length") == 1, token
    return found


def test_case_numbers_and_dates_stay_whole(browser: Browser, site: LiveServer) -> None:
    page = browser.new_page(viewport=DESKTOP)
    open_chat(page, site.url)
    say(page, OPENING)
    expect(page.get_by_test_id("quick-reply").first).to_have_text("确认", timeout=15000)
    page.get_by_test_id("quick-reply").first.click()
    expect(bot_messages(page).last).to_contain_text("案件编号", timeout=15000)
    # Markup in bot text would be text, never elements: only our spans are in the bubbles.
    assert page.locator(".cw-bubble *:not(span.cw-nowrap)").count() == 0
    assert unbroken(page, NUMBER) and unbroken(page, DATE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    # docs/widget.png (the README's) is a copy of this one, made once by hand.
    page.screenshot(path=str(SHOTS / "widget-conversation.png"), clip=widget_box(page))
    # And on a phone, where the bubbles are narrowest.
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    assert unbroken(page, NUMBER) and unbroken(page, DATE)
    page.close()


def widget_box(page: Page) -> dict[str, float]:
    """The open panel and the launcher, with a margin of the page around them."""
    boxes = [page.get_by_test_id(t).bounding_box() for t in ("chat-panel", "chat-launcher")]
    left = min(b["x"] for b in boxes) - 24
    top = min(b["y"] for b in boxes) - 24
    right = max(b["x"] + b["width"] for b in boxes) + 12
    bottom = max(b["y"] + b["height"] for b in boxes) + 12
    return {"x": max(left, 0), "y": max(top, 0), "width": right - max(left, 0),
            "height": bottom - max(top, 0)}


def tall_enough(page: Page, testid: str) -> None:
    buttons = page.get_by_test_id(testid)
    assert buttons.count() >= 1, testid
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["height"] >= 44, (testid, i, box)


def test_on_a_phone_the_panel_is_full_screen_and_easy_to_touch(browser: Browser,
                                                               site: LiveServer) -> None:
    page = browser.new_page(viewport=PHONE)
    problems = Problems(page)
    page.goto(site.url + "/")
    tall_enough(page, "chat-launcher")
    page.get_by_test_id("chat-launcher").click()
    panel = page.get_by_test_id("chat-panel")
    expect(panel).to_be_visible()
    expect(greeting(page)).to_be_visible(timeout=10000)
    assert panel.bounding_box() == {"x": 0, "y": 0, **PHONE}
    # Nothing of the page (nor the launcher) shows over it.
    assert page.evaluate("""() => [[5, 5], [385, 5], [5, 839], [385, 839], [195, 420]]
        .every(([x, y]) => document.elementFromPoint(x, y)
                           .closest('[data-testid="chat-panel"]') !== null)""")
    for testid in ("chat-close", "chat-send", "chat-starter"):
        tall_enough(page, testid)
    box = page.get_by_test_id("chat-input")
    assert box.evaluate("b => getComputedStyle(b).fontSize") == "16px"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "widget-greeting-phone.png"))

    say(page, OPENING)
    expect(page.get_by_test_id("quick-reply").first).to_have_text("确认", timeout=15000)
    tall_enough(page, "quick-reply")

    # Closing gives the page (and the launcher) back.
    page.get_by_test_id("chat-close").click()
    expect(panel).to_be_hidden()
    expect(page.get_by_test_id("chat-launcher")).to_be_visible()
    assert problems.seen == []
    page.close()
