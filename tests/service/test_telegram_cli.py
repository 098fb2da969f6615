"""`intake telegram set-webhook | delete-webhook | poll` against the fake Bot API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="654321:CLI-token") as fake:
        yield fake


def env_for(tg: FakeTelegram, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
               INTAKE_TELEGRAM_TOKEN=tg.token, INTAKE_TELEGRAM_API_BASE=tg.base_url, **extra)
    return env


def intake(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "telegram", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_set_and_delete_the_webhook(tg, tmp_path):
    env = env_for(tg, tmp_path, INTAKE_TELEGRAM_WEBHOOK_SECRET="s3cret_token")
    done = intake(env, "set-webhook", "https://complaints.example-bank.cn/channels/telegram/webhook")
    assert done.returncode == 0, done.stderr
    assert tg.webhook["url"].endswith("/channels/telegram/webhook")
    assert tg.webhook["secret_token"] == "s3cret_token"
    assert tg.token not in done.stdout + done.stderr
    assert intake(env, "delete-webhook").returncode == 0
    assert not tg.webhook.get("url")


def test_set_webhook_needs_a_secret_and_https(tg, tmp_path):
    no_secret = intake(env_for(tg, tmp_path), "set-webhook", "https://x.example/hook")
    assert no_secret.returncode == 2 and "INTAKE_TELEGRAM_WEBHOOK_SECRET" in no_secret.stderr
    plain = intake(env_for(tg, tmp_path, INTAKE_TELEGRAM_WEBHOOK_SECRET="abc"), "set-webhook",
                   "http://x.example/hook")
    assert plain.returncode == 2 and "https" in plain.stderr


def test_poll_answers_updates_until_stopped(tg, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "telegram", "poll"],
                               env=env_for(tg, tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        tg.text_update(900001, "我要投诉！")
        (reply,) = tg.wait_for_sent(1, timeout=30)
        assert reply["chat_id"] == 900001 and reply["text"] == "请简要描述发生了什么事情。"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert tg.token not in out + err
