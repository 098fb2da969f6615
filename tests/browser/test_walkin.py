"""A walk-in complaint filed at a branch counter in a real Chromium: the customer's words
pasted, the form prefilled by the engine, completed by staff, filed, the number shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from bot.store.models import Case
from tests.browser.test_console import SHOTS, console
from tests.console.agents import AGENT, add_agent
from tests.service.conftest import LiveServer

# No branch named: the staff member adds their own.
WORDS = "我是张伟，手机13812345678，昨天在自助机上取款2000元被吞卡了，要求尽快退还银行卡"


def test_branch_staff_file_a_walk_in_complaint(browser: Browser, site: LiveServer) -> None:
    add_agent(site, AGENT)
    page = console(browser, site, AGENT)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # (the refused filing below answers 422, which Chromium reports as a failed load)
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "status of 422" not in m.text else None)
    page.get_by_role("link", name="网点登记").click()
    expect(page).to_have_url(site.url + "/console/walk-in")

    page.locator("#walkin-description").fill(WORDS)
    page.locator("#walkin-prefill").click()
    expect(page.locator("#walkin-prefilled")).to_be_visible()
    yesterday = (datetime.now(UTC).astimezone(site.settings.zone).date()
                 - timedelta(days=1)).isoformat()
    expect(page.locator("#walkin-name")).to_have_value("张伟")
    expect(page.locator("#walkin-phone")).to_have_value("+8613812345678")
    expect(page.locator("#walkin-business")).to_have_value("debit_card")
    expect(page.locator("#walkin-incident-time")).to_have_value(yesterday)
    expect(page.locator("#walkin-amount")).to_have_value("2000")
    expect(page.locator("#walkin-currency")).to_have_value("CNY")
    expect(page.locator("#walkin-branch")).to_have_value("")
    expect(page.locator("#walkin-priority")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "walkin-form.png"), full_page=True)

    # Filing without the branch is refused, with the form kept as it was.
    page.locator("#walkin-file").click()
    expect(page.locator('[data-testid="problem-branch"]')).to_be_visible()
    expect(page.locator("#walkin-name")).to_have_value("张伟")

    page.locator("#walkin-branch").fill("南山支行")
    page.locator("#walkin-file").click()
    expect(page.locator("#walkin-filed")).to_be_visible()
    shown = page.locator("#walkin-number").inner_text()
    number = re.search(r"TS\d{8}-\d{4}", shown)
    assert number, shown
    expect(page.locator("#walkin-filed")).to_contain_text(number.group(0))
    page.screenshot(path=str(SHOTS / "walkin-receipt.png"), full_page=True)

    with site.service.sessions() as s:
        case = s.scalar(select(Case).where(Case.number == number.group(0)))
        assert case is not None
        assert (case.channel, case.branch, case.name) == ("branch", "南山支行", "张伟")
        assert case.description == WORDS
    assert errors == []
    page.close()
