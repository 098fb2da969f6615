"""Logging set-up: one format, and no secret ever written to a log."""

from __future__ import annotations

import logging
import re
from typing import Any

from .settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Credentials that travel in URLs (WeChat's access_token and secret): not known in advance.
_URL_CREDENTIAL = re.compile(r"\b(access_token|secret)=[^&\s\"']+")
# Loggers that write request URLs (Telegram's carry the bot token) at INFO.
_QUIET = ("httpx", "httpcore", "urllib3")
# Alembic says at INFO how it migrates (plugins, "Context impl SQLiteImpl.", each upgrade) on
# every start-up and CLI command that touches the store: noise for an operator, so shown only
# at DEBUG. Its warnings and errors still come through.
_DEBUG_ONLY = ("alembic",)


def _debug_only_level(level: str) -> str:
    """The level for the _DEBUG_ONLY loggers: NOTSET (follow the root) at DEBUG, else WARNING."""
    return "NOTSET" if level == "DEBUG" else "WARNING"


class RedactSecrets(logging.Filter):
    """Replace the configured secrets (bot tokens, webhook secrets, keys) and URL credentials
    wherever they appear, tracebacks included."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        text = _URL_CREDENTIAL.sub(r"\1=[redacted]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set: the redacted traceback, then.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def secrets_of(settings: Settings) -> list[str]:
    return [s.get_secret_value() for s in (
        settings.telegram_token, settings.telegram_webhook_secret, settings.wechat_token,
        settings.wechat_secret, settings.wechat_aes_key, settings.hotline_api_key) if s]


def redact_filter() -> RedactSecrets:
    """The filter for the current environment's settings (logging.config's factory)."""
    return RedactSecrets(secrets_of(Settings()))


def configure_logging(settings: Settings) -> None:
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format=FORMAT)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _DEBUG_ONLY:
        logging.getLogger(name).setLevel(_debug_only_level(level))
    redact = RedactSecrets(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(redact)


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging for every worker process: the same format, level and redaction
    (workers are fresh processes; they do not inherit the parent's handlers)."""
    level = settings.log_level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "bot.logs.redact_filter"}},
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.error": {"level": level},
            **{name: {"level": "WARNING"} for name in _QUIET},
            **{name: {"level": _debug_only_level(level)} for name in _DEBUG_ONLY},
        },
    }
