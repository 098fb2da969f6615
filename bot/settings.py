"""Settings from the environment (INTAKE_*) and an optional .env file; passed in, never global."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflow.institution import Institution, InstitutionError, parse_institution


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///intake.db",
        description="SQLAlchemy URL: a SQLite file (default) or postgresql+psycopg://...",
    )
    timezone: str = Field("Asia/Shanghai", description="the institution's time zone: case "
                          "numbers, due dates and relative dates follow its calendar")
    case_prefix: str = Field("TS", pattern=r"^[A-Z]{2}$", description="case number prefix")
    answer_days: int = Field(15, ge=1, le=60, description="days to answer a complaint")
    status_lookups_per_hour: int = Field(
        3, ge=1, le=100, description="status queries by case number and phone one chat "
        "identity not linked to the case may try per hour")
    max_body_bytes: int = Field(65536, ge=1024, description="largest request body accepted")
    outbox_max_attempts: int = Field(12, ge=1, description="sends tried before giving up")
    outbox_poll_seconds: float = Field(1.0, gt=0, description="outbox dispatcher idle poll")
    log_level: str = Field("INFO", description="logging level")
    db_connect_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="longest wait for a new database connection")
    db_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="longest a request waits for the store (PostgreSQL "
        "statement and lock timeouts, SQLite's busy timeout) before it is answered 503")
    webchat_idle_days: int = Field(
        30, ge=1, le=3650, description="a web chat visitor id unused this long is expired: "
        "the widget starts afresh under a new id")
    docs: bool = Field(True, description="serve /docs, /redoc and /openapi.json (turn off in "
                       "production if the contract should not be public)")

    console_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="a console session unused this long ends")
    console_session_hours: int = Field(
        12, ge=1, le=24 * 7, description="a console session ends this long after log-in, "
        "used or not")
    console_lock_minutes: int = Field(
        15, ge=1, le=24 * 60, description="after 10 wrong passwords for a login (or 50 from "
        "one address) within this many minutes, log-ins are refused for as long")

    console_secure_cookie: bool | None = Field(
        None, description="mark the console's cookie Secure: unset = when the request came "
        "over HTTPS (as the proxy says, see INTAKE_FORWARDED_ALLOW_IPS); true behind a proxy "
        "that terminates TLS")
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="proxies trusted for X-Forwarded-For/-Proto (comma-separated "
        "addresses, or *): the client's address (sign-in limits, audit) and the scheme")

    commit_batch: int = Field(
        64, ge=1, le=1000, description="inbound messages written in one transaction at most "
        "(group commit: a burst costs one commit; 1 commits every message on its own)")
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        "NORMAL", description="SQLite's synchronous setting (WAL): NORMAL, a committed message "
        "survives the service crashing; FULL, it survives the machine losing power too "
        "(an fsync per commit, shared by the messages of a batch)")
    writer_threads: int = Field(
        2, ge=1, le=32, description="threads writing inbound messages on PostgreSQL, each "
        "with its own connection (one customer's messages always share one); SQLite has one")

    telegram_token: SecretStr | None = Field(None, description="the bot's token from BotFather")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="secret_token given to setWebhook; set = webhook mode, unset = polling")
    telegram_api_base: str = Field("https://api.telegram.org/bot",
                                   description="Bot API base URL; the token is appended")
    telegram_max_per_second: float = Field(
        30.0, gt=0, le=1000, description="messages per second to all chats together "
        "(Telegram allows about 30; paid broadcasts up to 1000)")
    telegram_per_chat_per_second: float = Field(
        1.0, gt=0, le=1000, description="messages per second to one chat (Telegram allows "
        "about 1, short bursts of 3 pass); a local Bot API server allows more")

    wechat_token: SecretStr | None = Field(
        None, description="the Official Account's server Token; set = the WeChat channel is on")
    wechat_appid: str | None = Field(None, description="the Official Account's AppID")
    wechat_secret: SecretStr | None = Field(None, description="the Official Account's AppSecret")
    wechat_aes_key: SecretStr | None = Field(
        None, description="EncodingAESKey (43 characters) for the compatible and safe modes")
    wechat_api_base: str = Field("https://api.weixin.qq.com/cgi-bin/",
                                 description="WeChat API base URL (as wechatpy's API_BASE_URL)")
    wechat_reply_seconds: float = Field(
        4.0, gt=0, lt=5, description="how long a WeChat push waits for its passive reply "
        "before answering `success` and replying through the customer-service API")

    hotline_api_key: SecretStr | None = Field(
        None, description="the key the call-centre system sends to POST /channels/hotline/"
        "transcripts; unset = that endpoint is off (imports by CLI still work)")
    hotline_max_bytes: int = Field(2 * 1024 * 1024, ge=1024,
                                   description="largest transcript accepted, file or request")

    vault_key: SecretStr | None = Field(
        None, description="key of the ID-card and card numbers kept encrypted for a lead to "
        "reveal: base64 of 32 bytes (AES-256-GCM); unset = a key file, see vault_key_file")
    products_file: str | None = Field(
        None, description="a TOML file of the institution's product and branch names "
        "(workflow/data/products.example.toml shows the shape); unset = none")
    vault_key_file: str | None = Field(
        None, description="where the generated vault key is kept (mode 0600) when "
        "INTAKE_VAULT_KEY is unset: unset = beside the SQLite database (intake.db -> "
        "intake.vault-key), or ./intake.vault-key with PostgreSQL")
    reports_refresh_seconds: float = Field(
        300.0, ge=5, le=86400, description="how often the reports' hot topics and groups of "
        "similar complaints are recomputed (new cases' key terms, growth alerts)")
    regulatory_file: str | None = Field(
        None, description="the institution's own JR/T 0169 labels and codes (the shape of "
        "bot/reports/data/jrt0169.toml); unset = the file shipped, whose codes are not "
        "verified")

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _synchronous(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("hotline_api_key")
    @classmethod
    def _hotline_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("INTAKE_HOTLINE_API_KEY must be at least 16 characters")
        return value

    @field_validator("vault_key")
    @classmethod
    def _vault_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        try:
            raw = base64.b64decode(value.get_secret_value().strip(), validate=True)
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:  # the message never quotes the value: it is a secret
            raise ValueError("INTAKE_VAULT_KEY must be base64 of 32 bytes "
                             "(e.g. `openssl rand -base64 32`)")
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _wechat_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9+/]{43}", value.get_secret_value()):
            raise ValueError("the WeChat EncodingAESKey must be 43 base64 characters")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}",
                                                  value.get_secret_value()):
            raise ValueError("the Telegram webhook secret must be 1-256 of A-Z a-z 0-9 _ -")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ProductsFileError(ValueError):
    """INTAKE_PRODUCTS_FILE cannot be read or is wrong; the message names the line."""


def load_institution(settings: Settings) -> Institution | None:
    """The institution's vocabulary from INTAKE_PRODUCTS_FILE (None when unset)."""
    path = settings.products_file
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductsFileError(f"INTAKE_PRODUCTS_FILE {path}: cannot be read: {exc}") from None
    try:
        return parse_institution(text)
    except InstitutionError as exc:
        raise ProductsFileError(f"INTAKE_PRODUCTS_FILE {path}: {exc}") from None
