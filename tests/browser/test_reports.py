"""The reports dashboard in a real Chromium: a lead opens it on a store of 530 generated
complaints, widens the period through the filter form, recomputes the groups of similar
complaints (the ATM keeping cards shows as a growing group), and downloads the cases as an
XLSX that openpyxl opens, with the card numbers customers pasted masked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from bench import casegen
from tests.browser.test_console import SHOTS
from tests.console.agents import LEAD, add_agent
from tests.service.conftest import LiveServer

CARD = "6222021234567890123"  # what casegen pastes into about 2% of the descriptions


def seeded(site: LiveServer, today: date) -> list[dict]:
    """The ATM scenario written into the live service's SQLite file: 530 cases."""
    others, atm = casegen.atm_scenario(today)
    cases = others + atm
    casegen.insert_at(site.settings.database_url, cases)
    return cases


def values(page: Page, chart: str) -> list[int]:
    """The data-value of every bar of a chart, in the order drawn."""
    bars = page.locator(f'svg.chart[data-chart="{chart}"] g.bar')
    return [int(v) for v in bars.evaluate_all("gs => gs.map(g => g.dataset.value)")]


def test_a_lead_reads_the_dashboard_and_downloads_the_cases(
        browser: Browser, site: LiveServer, tmp_path: Path) -> None:
    today = datetime.now(UTC).astimezone(site.settings.zone).date()
    cases = seeded(site, today)
    assert len(cases) == 530
    assert any(CARD in c["description"] for c in cases), "the export has a number to mask"
    last_30 = sum(1 for c in cases if c["filed_on"] >= today - timedelta(days=29))
    assert 0 < last_30 < len(cases)
    add_agent(site, LEAD)

    context = browser.new_context(accept_downloads=True,
                                  viewport={"width": 1360, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url + "/console")
    page.locator('input[name="login"]').fill(LEAD.login)
    page.locator('input[name="password"]').fill(LEAD.password)
    page.locator('button[type="submit"]').click()
    expect(page.locator("#counts")).to_be_visible()

    # By default the last 30 days: the tile counts them, the charts are drawn from them.
    page.goto(site.url + "/console/reports")
    expect(page.locator("#report-filters")).to_be_visible()
    expect(page.locator('input[name="from"]')).to_have_value(
        (today - timedelta(days=29)).isoformat())
    expect(page.locator('input[name="to"]')).to_have_value(today.isoformat())
    expect(page.locator('b[data-figure="total"]')).to_have_text(str(last_30))
    over_time = values(page, "over_time")
    assert len(over_time) == 30  # one column a day
    assert sum(over_time) == last_30 and sum(v > 0 for v in over_time) > 10
    category = values(page, "category")
    assert sum(category) == last_30 and all(v > 0 for v in category)
    assert sum(values(page, "business")) == last_30
    # The bars are drawn: a longer bar for a larger count.
    widths = page.locator('svg.chart[data-chart="category"] g.bar rect').evaluate_all(
        "rs => rs.map(r => r.getBBox().width)")
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0

    # Widen the period to all 90 days through the form.
    start = (today - timedelta(days=89)).isoformat()
    page.locator('#report-filters input[name="from"]').fill(start)
    with page.expect_navigation():
        page.locator('#report-filters button[type="submit"]').click()
    assert f"from={start}" in page.url
    expect(page.locator('input[name="from"]')).to_have_value(start)
    expect(page.locator('b[data-figure="total"]')).to_have_text(str(len(cases)))
    assert len(values(page, "over_time")) == 90
    assert sum(values(page, "over_time")) == len(cases)
    assert sum(values(page, "category")) == len(cases)

    # The lead recomputes the groups: the ATM keeping cards, 28 customers, growing.
    with page.expect_navigation():
        page.get_by_test_id("refresh-clusters").click()
    assert f"from={start}" in page.url, "back on the same period"
    rows = page.locator('table[data-table="clusters"] tbody tr')
    terms = page.locator("td:first-child")
    atm = rows.filter(has=terms.filter(has_text="atm")).filter(has=terms.filter(has_text="吞卡"))
    expect(atm).to_have_count(1)
    assert {"atm", "吞卡"} <= set(atm.locator("td").first.inner_text().split(" + "))
    expect(atm.locator("td[data-customers]")).to_have_attribute("data-customers", "28")
    expect(atm.get_by_test_id("growing")).to_be_visible()

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "reports-dashboard.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 10_000

    # The period's cases as XLSX: every case a row, card numbers masked, the regulatory sheet.
    with page.expect_download() as waiting:
        page.get_by_test_id("export-cases-xlsx").click()
    download = waiting.value
    assert download.failure() is None
    assert download.suggested_filename == f"cases-{start}-{today.isoformat()}.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["cases", "regulatory"]
    sheet = list(book["cases"].iter_rows(values_only=True))
    head, body = sheet[0], sheet[1:]
    assert len(body) == len(cases)
    assert {r[head.index("number")] for r in body} == {c["number"] for c in cases}
    pasted = [r for r in body if "卡号" in (r[head.index("description")] or "")]
    assert pasted, "the cases with a pasted card number are exported"
    for row in sheet:
        assert not any(CARD in str(cell) for cell in row if cell is not None), row
    reg = list(book["regulatory"].iter_rows(values_only=True))
    assert reg[0][-1] == "count"
    assert sum(r[-1] for r in reg[1:]) == len(cases)
    book.close()

    assert errors == []
    context.close()
