"""Logging set-up: one format, and no secret ever written to a log."""

from __future__ import annotations

import logging
import re

from .settings import Settings

# Credentials that travel in URLs (WeChat's access_token and secret): not known in advance.
_URL_CREDENTIAL = re.compile(r"\b(access_token|secret)=[^&\s\"']+")


class RedactSecrets(logging.Filter):
    """Replace the configured secrets (bot tokens, webhook secrets, keys) and URL credentials
    wherever they appear."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _URL_CREDENTIAL.sub(r"\1=[redacted]", message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    for name in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    secrets = [s.get_secret_value() for s in (
        settings.telegram_token, settings.telegram_webhook_secret, settings.wechat_token,
        settings.wechat_secret, settings.wechat_aes_key, settings.hotline_api_key) if s]
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
