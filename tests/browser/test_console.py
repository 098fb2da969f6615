"""An agent at the console and a customer in the widget, two real Chromium pages at once."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_widget import bot_messages, open_chat, say
from tests.console.agents import AGENT, LEAD, OTHER, Someone, add_agent
from tests.service.conftest import LiveServer

# Where the run leaves its screenshots (the README's come from here).
SHOTS = Path(os.environ.get("INTAKE_SCREENSHOTS", Path(__file__).parents[2] / "build"
                            / "screenshots"))


def console(browser: Browser, site: LiveServer, who: Someone) -> Page:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(site.url + "/console")
    expect(page).to_have_url(f"{site.url}/console/login?next=%2Fconsole")
    page.locator('input[name="login"]').fill(who.login)
    page.locator('input[name="password"]').fill(who.password)
    page.locator('button[type="submit"]').click()
    expect(page.locator("#counts")).to_be_visible()
    return page


def dialogs_opened(page: Page) -> list[str]:
    opened: list[str] = []
    page.on("dialog", lambda d: (opened.append(d.message), d.dismiss()))
    return opened


def test_an_agent_takes_over_a_widget_chat_live(browser: Browser, site: LiveServer) -> None:
    for who in (AGENT, OTHER, LEAD):
        add_agent(site, who)
    agent = console(browser, site, AGENT)
    errors: list[str] = []
    agent.on("pageerror", lambda e: errors.append(str(e)))
    agent.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    expect(agent.locator("#waiting")).to_have_count(0)

    customer = browser.new_page()
    open_chat(customer, site.url)
    say(customer, "你们网点的柜员态度很差，办业务等了两个小时")
    expect(bot_messages(customer).first).to_be_visible(timeout=15000)
    say(customer, "转人工")
    # An agent is online: the customer is told a person joins, and roughly when.
    expect(bot_messages(customer).filter(has_text="分钟")).to_have_count(1, timeout=15000)

    # The queue shows it without a reload.
    row = agent.locator("#waiting tbody tr")
    expect(row).to_have_count(1, timeout=10000)
    expect(row.first).to_contain_text("转人工")
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SHOTS / "console-queue.png"), full_page=True)

    row.first.get_by_role("link").click()
    # A second agent has the same conversation open, about to take it too.
    other = console(browser, site, OTHER)
    other.goto(agent.url)
    expect(other.locator("#take")).to_be_visible()
    agent.locator("#take").click()
    expect(agent.locator("#conv-state")).to_contain_text(AGENT.name)
    # Their page says at once who has it, and offers no take any more.
    expect(other.locator("#gone")).to_contain_text(AGENT.name, timeout=10000)
    expect(other.locator("#take")).to_have_count(0)
    expect(bot_messages(customer).filter(has_text=AGENT.name)).to_have_count(1, timeout=10000)

    # A canned reply with its placeholders filled, then a typed one.
    agent.locator("#canned").select_option(label="[zh] 核实中")
    expect(agent.locator("#reply-text")).to_have_value(
        "我们正在核实您反映的情况，核实后会第一时间联系您，请保持电话畅通。")
    agent.get_by_role("button", name="发送").click()
    expect(bot_messages(customer).filter(has_text="我们正在核实")).to_have_count(
        1, timeout=10000)
    agent.locator("#reply-text").fill("请问您是在哪个网点办理的？")
    agent.get_by_role("button", name="发送").click()
    expect(bot_messages(customer).filter(has_text="哪个网点")).to_have_count(1, timeout=10000)
    # Delivered over the widget's socket, and the console says so.
    expect(agent.locator(".msg.agent .delivery.delivered")).to_have_count(2, timeout=10000)

    # The bot is silent while the agent has it; the agent sees the answer live.
    before = bot_messages(customer).count()
    say(customer, "在南山支行")
    expect(agent.locator(".msg.in").last).to_contain_text("在南山支行", timeout=10000)
    customer.wait_for_timeout(500)
    assert bot_messages(customer).count() == before
    agent.screenshot(path=str(SHOTS / "console-conversation.png"), full_page=True)

    # A second agent cannot take it: they are told who has it.
    other.goto(agent.url)
    expect(other.locator(".error")).to_contain_text(AGENT.name)
    conversation_id = agent.url.rsplit("/", 1)[-1]
    response = other.request.post(f"{site.url}/console/conversations/{conversation_id}/take",
                                  form={"csrf": other.locator('meta[name="csrf-token"]')
                                        .get_attribute("content") or ""})
    assert response.status == 409 and AGENT.name in response.text()

    # Handed back: the bot answers the next message again.
    agent.locator("#release").click()
    expect(agent).to_have_url(site.url + "/console")
    expect(bot_messages(customer).filter(has_text="已结束服务")).to_have_count(1, timeout=10000)
    answered = bot_messages(customer).count()
    say(customer, "我叫张伟")
    expect(bot_messages(customer)).to_have_count(answered + 1, timeout=15000)
    assert errors == []
    for page in (agent, other, customer):
        page.close()


def test_markup_in_a_complaint_is_shown_as_text_in_the_console(browser: Browser,
                                                               site: LiveServer) -> None:
    add_agent(site, LEAD)
    lead = console(browser, site, LEAD)
    opened = dialogs_opened(lead)
    customer = browser.new_page()
    open_chat(customer, site.url)
    say(customer, "<img src=x onerror=alert(1)><script>alert(2)</script>转人工")
    expect(bot_messages(customer).first).to_be_visible(timeout=15000)
    say(customer, "转人工")
    row = lead.locator("#waiting tbody tr")
    expect(row).to_have_count(1, timeout=10000)
    row.first.get_by_role("link").click()
    expect(lead.locator(".msg.in").first).to_contain_text("<img src=x onerror=alert(1)>")
    lead.goto(site.url + "/console")
    expect(lead.locator("#waiting tbody tr")).to_have_count(1)
    lead.wait_for_timeout(300)
    assert opened == []
    assert lead.locator("main img, main script").count() == 0
    customer.close()
    lead.close()


def test_an_urgent_complaint_alerts_an_open_queue(browser: Browser, site: LiveServer) -> None:
    add_agent(site, AGENT, lang="en")
    agent = console(browser, site, AGENT)
    expect(agent.get_by_text("Waiting for a person")).to_be_visible()
    customer = browser.new_page()
    open_chat(customer, site.url)
    say(customer, "我的信用卡昨天被盗刷了5000元，不是我本人操作的")
    expect(agent.locator("#waiting tbody tr.urgent")).to_have_count(1, timeout=10000)
    expect(agent).to_have_title("(!) Urgent: a customer is waiting · Complaints console",
                                timeout=5000)
    customer.close()
    agent.close()
