"""Working a case from scripts: `intake cases assign|move|note`, refusing what the console
refuses, auditing as `cli`, and telling the customer on their channel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx

from bot.store import audit
from tests.console.agents import AGENT
from tests.console.conftest import Customer, enrol
from tests.service.conftest import live as live  # the service, on SQLite and PostgreSQL

OPENING = ("我是李娜，手机13800138000，12月1日在南山支行办理存款，柜员多收了我20元手续费，"
           "态度还很差，希望退还手续费并道歉")
NUMBER = re.compile(r"TS\d{8}-\d{4}")


def intake(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTAKE_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "bot.cli", "cases", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def filed(live, opening: str = OPENING) -> tuple[Customer, str]:
    """A web chat customer who complained through the widget, and their case number."""
    customer = Customer(live)
    return customer, complain(customer, opening)


def complain(customer: Customer, opening: str = OPENING) -> str:
    """The customer tells the bot a complaint to the end; its case number."""
    answer = customer.say(opening)
    for _ in range(6):  # answer what the bot still asks, then confirm
        if answer["waiting_for"] == "confirm":
            answer = customer.say("确认")
            break
        answer = customer.say("不知道")
    found = NUMBER.search(" ".join(r["text"] for r in answer["replies"]))
    assert found, answer
    return found.group(0)


def shown(url: str, number: str) -> dict:
    result = intake(url, "show", number, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_case_worked_from_the_command_line(live) -> None:
    url = live.settings.database_url
    customer, number = filed(live)
    enrol(live, AGENT)
    case = shown(url, number)
    assert case["status"] == "new" and case["assignee"] is None
    assert case["rating"] is None and case["review_requested"] is False

    assert intake(url, "assign", number, AGENT.login).returncode == 0
    moved = intake(url, "move", number, "in_progress")
    assert moved.returncode == 0 and "told" in moved.stdout
    assert intake(url, "note", number, "客户卡号 6222021234567890128，已核实流水").returncode == 0
    refused = intake(url, "move", number, "closed")
    assert refused.returncode == 1
    assert "allowed: waiting_customer, resolved" in refused.stderr
    unknown = intake(url, "move", number, "done")
    assert unknown.returncode == 1 and "statuses:" in unknown.stderr
    no_outcome = intake(url, "move", number, "resolved")
    assert no_outcome.returncode == 1 and "--outcome" in no_outcome.stderr
    assert intake(url, "move", number, "resolved", "--outcome",
                  "已退还多收的20元手续费，并对柜员进行了批评教育。").returncode == 0

    case = shown(url, number)
    assert case["status"] == "resolved" and case["assignee"] == AGENT.login
    assert case["outcome"].startswith("已退还")
    actions = [(e["actor"], e["action"]) for e in case["events"]]
    assert ("cli", "assigned") in actions and ("cli", "note") in actions
    assert [e["after"]["status"] for e in case["events"] if e["action"] == "status_changed"
            ] == ["in_progress", "resolved"]
    note = next(e for e in case["events"] if e["action"] == "note")
    assert "6222021234567890128" not in note["after"]["text"]  # masked for whoever reads it

    # The customer was told on their channel, in their language; the note never.
    told = customer.told()
    assert any(number in t and "受理" in t for t in told)
    assert any("已退还多收的20元手续费" in t for t in told)
    assert not any("已核实流水" in t for t in told)
    with live.service.sessions() as session:
        trail = [(e.actor, e.action) for e in audit.latest(session, actor="cli")]
    assert ("cli", "case_move") in trail and ("cli", "case_assign") in trail

    # Asked for the status, the customer hears it with the latest the team told them.
    status = customer.say(f"查询进度 {number}")["replies"]
    assert any("已办结" in r["text"] for r in status)
    assert any("我们最近告知您的是" in r["text"] and "已退还多收的20元手续费" in r["text"]
               for r in status)


def test_unknown_cases_and_agents_are_refused(live) -> None:
    url = live.settings.database_url
    _customer, number = filed(live)
    missing = intake(url, "move", "TS20990101-9999", "in_progress")
    assert missing.returncode == 1 and "no case TS20990101-9999" in missing.stderr
    nobody = intake(url, "assign", number, "nobody")
    assert nobody.returncode == 1 and "no agent nobody" in nobody.stderr
    assert httpx.get(live.url + "/healthz", timeout=5).status_code == 200
