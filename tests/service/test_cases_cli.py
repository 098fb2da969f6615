"""`intake cases list|show` on a store with a case filed through the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx


def intake(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTAKE_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_cases_in_the_terminal(live):
    with httpx.Client(base_url=live.url) as client:
        for text, mid in (("我是李娜，手机13800138000，信用卡昨晚被盗刷了5200元，不是我本人操作的，"
                           "请冻结卡片把钱追回来", "c1"), ("确认", "c2")):
            r = client.post("/channels/webchat/messages", json={
                "visitor_id": "visitor-cli-1-0123456789abcdef", "text": text,
                "client_message_id": mid})
            assert r.status_code == 200
    url = live.settings.database_url
    listed = intake(url, "cases", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (case,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {k: case[k] for k in ("name", "phone", "business", "amount", "priority",
                                 "category", "incident_time", "channel", "status")} == {
        "name": "李娜", "phone": "+8613800138000", "business": "credit_card", "amount": 5200,
        "priority": "urgent", "category": "product", "incident_time": case["incident_time"],
        "channel": "webchat", "status": "new"}
    assert case["number"].startswith("TS") and case["due_date"] > case["filed_at"][:10]

    shown = intake(url, "cases", "show", case["number"], "--json")
    assert shown.returncode == 0
    detail = json.loads(shown.stdout)
    assert detail["number"] == case["number"]
    # Urgent with no agent at a console: filed, and flagged for someone to call back.
    assert [e["action"] for e in detail["events"]] == ["filed", "callback_needed"]
    assert detail["callback_reason"] == "no_agent_online"

    table = intake(url, "cases", "list")
    assert case["number"] in table.stdout and "urgent" in table.stdout

    missing = intake(url, "cases", "show", "TS20990101-9999")
    assert missing.returncode == 1 and "no case TS20990101-9999" in missing.stderr
