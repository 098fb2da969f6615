"""A case worked to closure in real Chromium: a lead assigns a web chat customer's case, the
agent resolves it with an outcome on the case page, the widget shows the outcome and the
rating question, the customer taps 2 and asks for the review the low rating offers, and the
case page shows the rating and the case reopened for review."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_console import SHOTS, console
from tests.browser.test_widget import NUMBER, OPENING, bot_messages, open_chat, say
from tests.console.agents import AGENT, LEAD, add_agent
from tests.service.conftest import LiveServer

OUTCOME = "经核实，ATM差错款2000元已于今日退回您尾号0128的银行卡，请查收。"


def file_in_the_widget(customer: Page) -> str:
    say(customer, OPENING)
    expect(customer.get_by_test_id("quick-reply").first).to_have_text("确认", timeout=15000)
    customer.get_by_test_id("quick-reply").first.click()
    expect(bot_messages(customer).last).to_contain_text("案件编号", timeout=15000)
    return NUMBER.search(" ".join(bot_messages(customer).all_inner_texts())).group(0)


def test_a_lead_assigns_an_agent_resolves_and_the_customer_rates_it(
        browser: Browser, site: LiveServer) -> None:
    for who in (LEAD, AGENT):
        add_agent(site, who)
    customer = browser.new_page()
    open_chat(customer, site.url)
    number = file_in_the_widget(customer)

    # The lead finds the new case in the queue and assigns it to the agent.
    lead = console(browser, site, LEAD)
    errors: list[str] = []
    lead.on("pageerror", lambda e: errors.append(str(e)))
    lead.get_by_role("link", name=number).click()
    expect(lead).to_have_url(f"{site.url}/console/cases/{number}")
    expect(lead.locator("#case-status")).to_have_text("新受理")
    lead.locator("#case-assign select").select_option(AGENT.login)
    lead.locator("#case-assign button").click()
    expect(lead.locator("#case-assignee")).to_have_text(AGENT.name)

    # The agent has it under "my cases", takes it up and resolves it with an outcome.
    agent = console(browser, site, AGENT)
    agent.on("pageerror", lambda e: errors.append(str(e)))
    agent.get_by_role("link", name="我的案件").click()
    agent.get_by_role("link", name=number).click()
    agent.locator("#case-move select").select_option("in_progress")
    agent.locator("#case-move button").click()
    expect(agent.locator("#case-status")).to_have_text("处理中")
    expect(bot_messages(customer).filter(has_text="已由专人受理")).to_have_count(
        1, timeout=10000)
    agent.locator("#case-move select").select_option("resolved")
    agent.locator('#case-move textarea[name="outcome"]').fill(OUTCOME)
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SHOTS / "case-resolving.png"), full_page=True)
    agent.locator("#case-move button").click()
    expect(agent.locator("#case-status")).to_have_text("已办结")
    expect(agent.locator("#f-outcome")).to_contain_text("2000元已于今日退回")

    # The widget shows the outcome, then the rating question with its five buttons.
    expect(bot_messages(customer).filter(has_text="2000元已于今日退回")).to_have_count(
        1, timeout=10000)
    question = bot_messages(customer).filter(has_text="打分")
    expect(question).to_have_count(1, timeout=10000)
    buttons = question.get_by_test_id("quick-reply")
    expect(buttons).to_have_count(5)
    customer.screenshot(path=str(SHOTS / "widget-rating.png"))
    buttons.filter(has_text="2").click()
    offer = bot_messages(customer).filter(has_text="申请复核")
    expect(offer).to_have_count(1, timeout=10000)
    offer.get_by_test_id("quick-reply").filter(has_text="申请复核").click()
    expect(bot_messages(customer).filter(has_text="已为您申请复核")).to_have_count(
        1, timeout=10000)

    # The agent's open case page reloads itself: the rating, and the case back for review.
    expect(agent.locator("#f-rating")).to_contain_text("2", timeout=10000)
    expect(agent.locator("#case-status")).to_have_text("申请复核")
    expect(agent.locator("#f-review")).to_have_text("是")
    history = agent.locator("#history")
    expect(history).to_contain_text("申请复核")
    agent.screenshot(path=str(SHOTS / "case-page.png"), full_page=True)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(agent.context.cookies())
    phone.goto(agent.url)
    expect(phone.locator("#case-status")).to_have_text("申请复核")
    phone.screenshot(path=str(SHOTS / "case-page-phone.png"), full_page=True)
    assert errors == []
    for page in (customer, lead, agent, phone):
        page.close()
