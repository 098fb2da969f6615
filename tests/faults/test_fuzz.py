"""No input gets a 500: every endpoint fuzzed against the real service, on SQLite and PostgreSQL.

One live service per backend (uvicorn on a free port, every optional channel on: Telegram in
webhook mode against the fake Bot API, WeChat in plaintext mode against the fake WeChat API,
the hotline API with its key) takes, in turn:

1. Schemathesis over the service's own ``GET /openapi.json``: every operation, positive and
   negative cases, with the channels' credentials and without them; the only check is that no
   answer is a 5xx (the document is still being completed: conformance checks come later).
2. Hostile bodies posted raw to each channel, past its authentication (the Telegram secret
   header, a valid WeChat signature, the hotline key): deep nesting, numbers of thousands of
   digits, NaN and Infinity, NUL characters, lone surrogates, over-long ids and names, wrong
   types, invalid UTF-8, empty and huge bodies. Each named shape is tried in every field of a
   valid message; Hypothesis then mixes them. Every answer must be below 500.
3. The same against the web chat's WebSocket: the socket opens at ``/channels/webchat/ws``,
   the first frame is ``{"type": "hello", "visitor_id": ...}`` (answered ``{"type": "ready"}``)
   and every frame after it, hostile or not, is answered with a JSON frame or a close frame
   with code 1003, 1007, 1008 or 1009: never a dropped connection, never 1011.

A failure names the backend, the request (method, path, headers, body) and the server's
traceback from its log. Run: ``.venv/bin/python -m pytest tests/faults/test_fuzz.py`` (with
``INTAKE_TEST_DATABASE_URL`` set for the PostgreSQL half); ``INTAKE_FUZZ_SCALE=N`` multiplies
the Hypothesis budgets for a deeper run.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from bot.settings import Settings
from tests.conftest import _postgresql_database
from tests.fakes import wechat_push as wx
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.faults import hostile
from tests.faults.hostile import CARD_TEXT
from tests.service.conftest import LiveServer, start_server, stop_server

TELEGRAM_TOKEN = "123456:ABCdefGhIJKlmnOPQrstUVwxyz0123456789"
TELEGRAM_SECRET = "fuzz-hook_secret-42"
WECHAT_TOKEN = "fuzz-wechat-token"
WECHAT_ACCOUNT = "gh_0123456789ab"
HOTLINE_KEY = "fuzz-hotline-key-0123456789"

WEBCHAT_PATH = "/channels/webchat/messages"
HISTORY_PATH = "/channels/webchat/history"
SOCKET_PATH = "/channels/webchat/ws"
TELEGRAM_PATH = "/channels/telegram/webhook"
WECHAT_PATH = "/channels/wechat"
HOTLINE_PATH = "/channels/hotline/transcripts"

# The close codes a socket may end with on bad input: unsupported data, invalid payload
# (not UTF-8), policy violation, too big. 1011 (internal error) or no close frame is a crash.
ALLOWED_CLOSE_CODES = frozenset({1003, 1007, 1008, 1009})
# Answers that mean the request never got past authentication or routing.
NOT_REACHED = frozenset({401, 403, 404, 405})

# INTAKE_FUZZ_SCALE multiplies every Hypothesis budget below, for a deeper run by hand: the
# default fits CI; the named shapes are tried in full whatever the scale.
SCALE = float(os.environ.get("INTAKE_FUZZ_SCALE", "1"))


def _examples(count: int) -> int:
    return max(1, round(count * SCALE))


SCHEMA_EXAMPLES = {GenerationMode.POSITIVE: _examples(30), GenerationMode.NEGATIVE: _examples(20)}
BODY_EXAMPLES = _examples(40)
SOCKET_EXAMPLES = _examples(40)
HTTP_TIMEOUT = 60.0
SOCKET_TIMEOUT = 30.0
_FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
    "phases": (Phase.explicit, Phase.generate, Phase.shrink),
}

_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


# ---------------------------------------------------------------- the server's log


class ServerLog(logging.Handler):
    """Errors the service logs (uvicorn's 'Exception in ASGI application' with its traceback,
    and the app's own), so a 5xx can be shown with its cause."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._guard:
            self._lines.append(text)

    def mark(self) -> int:
        with self._guard:
            return len(self._lines)

    def since(self, mark: int, wait: float = 0.0) -> list[str]:
        """Records after `mark`; waits up to `wait` seconds for one to arrive (uvicorn logs
        the exception only after the 500 has been sent)."""
        deadline = time.monotonic() + wait
        while True:
            with self._guard:
                lines = self._lines[mark:]
            if lines or time.monotonic() >= deadline:
                return lines
            time.sleep(0.02)

    def attach(self) -> None:
        # uvicorn's own loggers do not propagate to the root; each server start re-applies
        # uvicorn's logging config, which drops their handlers: attach after every start.
        for name in ("uvicorn", ""):
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)

    def detach(self) -> None:
        for name in ("uvicorn", ""):
            logging.getLogger(name).removeHandler(self)


def _tail(lines: list[str], limit: int = 40) -> str:
    """The log lines, tracebacks without the frames of installed libraries."""
    if not lines:
        return "    (nothing in the server log)"
    kept: list[str] = []
    skipping = False
    for line in "\n".join(lines).splitlines():
        stripped = line.strip()
        if stripped.startswith('File "'):
            skipping = "site-packages" in stripped or "/lib/python3" in stripped
        elif not line.startswith(" "):
            skipping = False
        if not skipping:
            kept.append(line)
    if len(kept) > limit:
        kept = ["...", *kept[-limit:]]
    return "\n".join("    " + line for line in kept)


def _show(body: bytes | str | None, limit: int = 300) -> str:
    if body is None or body == b"":
        return "(empty)"
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    shown = repr(data[:limit]) + (f" ... ({len(data)} bytes)" if len(data) > limit else "")
    return shown


# ---------------------------------------------------------------- the service under test


@dataclass
class Target:
    backend: str
    live: LiveServer
    log: ServerLog
    client: httpx.Client
    telegram: FakeTelegram
    wechat: FakeWeChat
    # What the fuzzers got back, for the suite's closing figures: status -> count; None for
    # a request that got no answer at all.
    answered: Counter[int | None] = field(default_factory=Counter)

    # -------------------------------------------------------- requests

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                what: str = "") -> tuple[int | None, str | None]:
        """(status, failure): the failure describes a 5xx or a dropped connection."""
        mark = self.log.mark()
        try:
            response = self.client.request(method, path, content=body, headers=headers,
                                           params=params)
        except httpx.HTTPError as exc:
            self.answered[None] += 1
            self.reconnect()
            return None, self.describe(method, path, headers, params, body, what,
                                       f"no answer: {type(exc).__name__}: {exc}",
                                       self.log.since(mark, wait=1.0))
        self.answered[response.status_code] += 1
        if response.status_code >= 500:
            self.reconnect()
            return response.status_code, self.describe(
                method, path, headers, params, body, what,
                f"{response.status_code} {response.text[:300]!r}", self.log.since(mark, 1.0))
        return response.status_code, None

    def describe(self, method: str, path: str, headers: dict[str, str] | None,
                 params: dict[str, str] | None, body: bytes | str | None, what: str,
                 outcome: str, log: list[str]) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        shown_headers = {k: v for k, v in (headers or {}).items()}
        return (f"[{self.backend}] {what}\n  request: {method} {path}{query}\n"
                f"  headers: {shown_headers}\n  body: {_show(body)}\n  answer: {outcome}\n"
                f"  server log:\n{_tail(log)}")

    def reconnect(self) -> None:
        """A fresh connection pool: the service closes a connection after a 500, and the next
        request must not be blamed for that."""
        self.client.close()
        self.client = httpx.Client(base_url=self.live.url, timeout=HTTP_TIMEOUT)

    def healthy(self) -> None:
        response = self.client.get("/healthz")
        assert response.status_code == 200, f"[{self.backend}] /healthz: {response.text}"

    # -------------------------------------------------------- channels, with credentials

    def webchat(self, body: bytes, what: str) -> tuple[int | None, str | None]:
        return self.request("POST", WEBCHAT_PATH, body=body, what=what,
                            headers={"Content-Type": "application/json"})

    def telegram_hook(self, body: bytes, what: str) -> tuple[int | None, str | None]:
        return self.request("POST", TELEGRAM_PATH, body=body, what=what, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})

    def wechat_push(self, body: bytes, what: str,
                    openid: str = "oFuzzUser") -> tuple[int | None, str | None]:
        return self.request("POST", WECHAT_PATH, body=body, what=what,
                            params=wx.query(WECHAT_TOKEN, openid=openid),
                            headers={"Content-Type": "text/xml"})

    def hotline(self, body: bytes, what: str) -> tuple[int | None, str | None]:
        return self.request("POST", HOTLINE_PATH, body=body, what=what,
                            params={"name": "fuzz.json"},
                            headers={"Authorization": f"Bearer {HOTLINE_KEY}"})

    @property
    def ws_url(self) -> str:
        return f"{self.live.ws_url}{SOCKET_PATH}"


def _settings(database_url: str, tg: FakeTelegram, wc: FakeWeChat) -> Settings:
    return Settings(database_url=database_url, outbox_poll_seconds=0.2,
                    telegram_token=TELEGRAM_TOKEN, telegram_webhook_secret=TELEGRAM_SECRET,
                    telegram_api_base=tg.base_url,
                    wechat_token=WECHAT_TOKEN, wechat_appid=wc.appid, wechat_secret=wc.secret,
                    wechat_api_base=wc.base_url,
                    hotline_api_key=HOTLINE_KEY, _env_file=None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The real service with every channel on, one per backend for the whole module."""
    database: Iterator[str] | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'intake.db'}"
    else:
        database = _postgresql_database()
        url = next(database)
    log = ServerLog()
    try:
        with FakeTelegram(token=TELEGRAM_TOKEN) as tg, FakeWeChat() as wc:
            live, server, thread = start_server(_settings(url, tg, wc))
            log.attach()
            target = Target(request.param, live, log,
                            httpx.Client(base_url=live.url, timeout=HTTP_TIMEOUT), tg, wc)
            try:
                yield target
            finally:
                got = target.answered
                print(f"\nFAULTS fuzz {request.param}: HTTP requests {sum(got.values())}, "
                      f"5xx {sum(n for s, n in got.items() if s is not None and s >= 500)}, "
                      f"no answer {got[None]}, by status "
                      f"{dict(sorted((s, n) for s, n in got.items() if s is not None))}")
                target.client.close()
                stop_server(server, thread)
                log.detach()
    finally:
        if database is not None:
            database.close()


def _assert_none(failures: list[str], what: str) -> None:
    if failures:
        raise AssertionError(f"{len(failures)} {what}:\n\n" + "\n\n".join(failures))


# ================================================================ 1. Schemathesis


def _schemathesis_call(target: Target, case: schemathesis.Case, credentials: bool,
                       statuses: set[int]) -> None:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if credentials:
        # The channels' credentials (and the web chat's visitor id, its only credential)
        # replace whatever was generated for them, so the cases get past authentication.
        if case.operation.path == TELEGRAM_PATH:
            headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
        if case.operation.path == HOTLINE_PATH:
            headers["Authorization"] = f"Bearer {HOTLINE_KEY}"
            headers["X-API-Key"] = HOTLINE_KEY
        if case.operation.path == HISTORY_PATH:
            headers["X-Visitor-Id"] = secrets.token_urlsafe(16)
        if case.operation.path == WECHAT_PATH:
            params = wx.query(WECHAT_TOKEN, openid="oFuzzSchema")
        if case.headers is None:
            case.headers = {}
        for name, value in headers.items():
            for generated in [h for h in case.headers if h.lower() == name.lower()]:
                del case.headers[generated]
            case.headers[name] = value
        if params:
            case.query = {**(case.query or {}), **params}
    mark = target.log.mark()
    try:
        response = case.call(timeout=HTTP_TIMEOUT)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
            UnicodeError) as exc:
        # what the client cannot send, the server never sees
        reject()
        raise AssertionError("unreachable") from exc
    except requests.exceptions.RequestException as exc:
        raise AssertionError(target.describe(
            case.method.upper(), case.formatted_path, dict(case.headers or {}),
            dict(case.query or {}), _case_body(case), case.operation.label,
            f"no answer: {type(exc).__name__}: {exc}", target.log.since(mark, 1.0))) from None
    statuses.add(response.status_code)
    target.answered[response.status_code] += 1
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except BaseExceptionGroup as exc:  # Schemathesis' FailureGroup: the check failed
        raise AssertionError(
            f"{exc}\n" + target.describe(
                case.method.upper(), case.formatted_path, dict(case.headers or {}),
                dict(case.query or {}), _case_body(case), case.operation.label,
                f"{response.status_code} {response.text[:300]!r}",
                target.log.since(mark, 1.0))) from None


def _case_body(case: schemathesis.Case) -> bytes | str | None:
    body = getattr(case, "body", None)
    if body is None or type(body).__name__ == "NotSet":
        return None
    if isinstance(body, bytes | str):
        return body
    try:
        return json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(body)


def _fuzz_operation(target: Target, operation: Any, mode: GenerationMode, credentials: bool,
                    statuses: set[int]) -> str | None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=SCHEMA_EXAMPLES[mode], **_FUZZ_SETTINGS)
    def run(case: schemathesis.Case) -> None:
        _schemathesis_call(target, case, credentials, statuses)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return None  # nothing in this operation can be made invalid
        return f"[{target.backend}] {operation.label}: no case could be generated"
    except AssertionError as exc:
        return f"{operation.label} ({mode.value} cases): {exc}"
    return None


EXPECTED_OPERATIONS = {
    f"POST {WEBCHAT_PATH}", f"GET {HISTORY_PATH}", f"POST {TELEGRAM_PATH}",
    f"GET {WECHAT_PATH}", f"POST {WECHAT_PATH}", f"POST {HOTLINE_PATH}", "GET /healthz",
}


@pytest.mark.parametrize("credentials", [True, False], ids=["with-credentials", "anonymous"])
def test_no_openapi_operation_answers_5xx(target: Target, credentials: bool) -> None:
    schema = schemathesis.openapi.from_url(f"{target.live.url}/openapi.json",
                                           config=schemathesis.Config(), timeout=HTTP_TIMEOUT)
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation Schemathesis cannot read is a schema bug
            failures.append(f"[{target.backend}] an operation cannot be loaded: {exc}")
    labels = {op.label for op in operations}
    assert EXPECTED_OPERATIONS <= labels, f"missing from the OpenAPI document: " \
        f"{sorted(EXPECTED_OPERATIONS - labels)}"
    for operation in operations:
        statuses: set[int] = set()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz_operation(target, operation, mode, credentials, statuses)
            if failure:
                failures.append(failure)
        if credentials and operation.path.startswith("/channels/") and statuses <= NOT_REACHED:
            failures.append(f"[{target.backend}] {operation.label}: every case was turned away "
                            f"({sorted(statuses)}): the fuzzing never got past authentication")
    target.healthy()
    _assert_none(failures, "operations answered 5xx")


# ================================================================ 2. hostile bodies

# -------------------------------------------------------- valid messages to start from


def webchat_message() -> dict[str, Any]:
    n = next(_ids)
    return {"visitor_id": secrets.token_urlsafe(16), "text": CARD_TEXT,
            "client_message_id": f"fuzz-{n}", "lang": "zh"}


def telegram_message() -> dict[str, Any]:
    n = next(_ids)
    chat = 10**9 + n
    return {"update_id": n, "message": {
        "message_id": n,
        "from": {"id": chat, "is_bot": False, "first_name": "Li", "last_name": "Wei",
                 "username": "liwei", "language_code": "zh-hans"},
        "chat": {"id": chat, "first_name": "Li", "last_name": "Wei", "username": "liwei",
                 "type": "private"},
        "date": int(time.time()), "text": CARD_TEXT}}


def telegram_callback() -> dict[str, Any]:
    n = next(_ids)
    chat = 10**9 + n
    return {"update_id": n, "callback_query": {
        "id": f"cb{n}", "chat_instance": f"ci{n}", "data": "确认",
        "from": {"id": chat, "is_bot": False, "first_name": "Li", "language_code": "en"},
        "message": {"message_id": n, "date": int(time.time()), "text": "确认？",
                    "chat": {"id": chat, "first_name": "Li", "type": "private"}}}}


def telegram_edit() -> dict[str, Any]:
    update = telegram_message()
    message = update.pop("message")
    message["edit_date"] = message["date"] + 5
    update["edited_message"] = message
    return update


def telegram_photo() -> dict[str, Any]:
    update = telegram_message()
    message = update["message"]
    del message["text"]
    n = update["update_id"]
    message["caption"] = CARD_TEXT
    message["photo"] = [
        {"file_id": f"small-{n}", "file_unique_id": f"s{n}", "width": 90, "height": 90,
         "file_size": 1000},
        {"file_id": f"large-{n}", "file_unique_id": f"l{n}", "width": 1280, "height": 960,
         "file_size": 120000}]
    return update


def hotline_call() -> dict[str, Any]:
    n = next(_ids)
    return {"call_id": f"HL-FUZZ-{n}", "caller": "13912345678",
            "started_at": "2026-01-05T10:00:00+08:00", "agent_id": "A0731", "language": "zh",
            "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您？",
                       "start": 0.0, "end": 2.1},
                      {"speaker": "customer", "text": CARD_TEXT, "start": 2.4, "end": 5.0}]}


def wechat_text() -> dict[str, bytes | str]:
    n = next(_ids)
    return {"ToUserName": WECHAT_ACCOUNT, "FromUserName": f"oFuzz-{n}",
            "CreateTime": str(int(time.time())).encode(), "MsgType": "text",
            "Content": CARD_TEXT, "MsgId": str(n).encode()}


def wechat_event() -> dict[str, bytes | str]:
    n = next(_ids)
    return {"ToUserName": WECHAT_ACCOUNT, "FromUserName": f"oFuzz-{n}",
            "CreateTime": str(int(time.time())).encode(), "MsgType": "event",
            "Event": "CLICK", "EventKey": "COMPLAIN"}


def wechat_voice() -> dict[str, bytes | str]:
    n = next(_ids)
    return {"ToUserName": WECHAT_ACCOUNT, "FromUserName": f"oFuzz-{n}",
            "CreateTime": str(int(time.time())).encode(), "MsgType": "voice",
            "MediaId": f"media-{n}", "Format": "amr", "Recognition": CARD_TEXT,
            "MsgId": str(n).encode()}


def wechat_image() -> dict[str, bytes | str]:
    n = next(_ids)
    return {"ToUserName": WECHAT_ACCOUNT, "FromUserName": f"oFuzz-{n}",
            "CreateTime": str(int(time.time())).encode(), "MsgType": "image",
            "PicUrl": f"http://mmbiz.qpic.cn/{n}.jpg", "MediaId": f"media-{n}",
            "MsgId": str(n).encode()}


WECHAT_KINDS: dict[str, Callable[[], dict[str, bytes | str]]] = {
    "text": wechat_text, "event": wechat_event, "voice": wechat_voice, "image": wechat_image}
# The fields each named shape is tried in, by kind (the envelope is the text push's).
WECHAT_FIELDS: dict[str, tuple[str, ...]] = {
    "text": (*wechat_text(), "Extra"), "event": ("Event", "EventKey", "CreateTime"),
    "voice": ("MediaId", "Format", "Recognition"), "image": ("PicUrl", "MediaId")}


def hotline_text(fragment: bytes | None = None, where: str = "") -> bytes:
    """A speaker-labelled transcript; `fragment` replaces the value at `where`."""
    n = next(_ids)
    values = {"call_id": f"HL-FUZZ-T{n}".encode(), "caller": b"15900001111",
              "started_at": b"2026-01-05T08:40:00+08:00",
              "customer": CARD_TEXT.encode(), "agent": "您好，请问有什么可以帮您？".encode()}
    if fragment is not None:
        values[where] = fragment
    return (b"call_id: " + values["call_id"] + b"\ncaller: " + values["caller"]
            + b"\nstarted_at: " + values["started_at"] + "\n坐席：".encode() + values["agent"]
            + "\n客户：".encode() + values["customer"] + b"\n")


HOTLINE_TEXT_FIELDS = ("call_id", "caller", "started_at", "customer", "agent")


def hotline_vtt(fragment: bytes | None = None, where: str = "") -> bytes:
    """A WebVTT transcript; `fragment` replaces the value at `where`."""
    n = next(_ids)
    values = {"call_id": f"HL-FUZZ-V{n}".encode(), "started_at": b"2026-01-05T09:12:00+08:00",
              "timing": b"00:00:03.200 --> 00:00:08.500", "speaker": b"Customer",
              "customer": CARD_TEXT.encode()}
    if fragment is not None:
        values[where] = fragment
    return (b"WEBVTT\n\nNOTE\ncall_id: " + values["call_id"] + b"\nstarted_at: "
            + values["started_at"] + b"\n\n00:00:00.000 --> 00:00:03.000\n<v Agent>Good "
            b"morning, how can I help?\n\n" + values["timing"] + b"\n<v " + values["speaker"]
            + b">" + values["customer"] + b"\n")


HOTLINE_VTT_FIELDS = ("call_id", "started_at", "timing", "speaker", "customer")


@dataclass(frozen=True)
class JsonChannel:
    name: str
    template: Callable[[], Any]
    send: Callable[[Target, bytes, str], tuple[int | None, str | None]]
    # the fields each named shape is tried in: all, or those under these prefixes (a variant
    # of a message already covered needs only the fields of its own)
    only: tuple[tuple[str | int, ...], ...] = ()

    def paths(self) -> list[tuple[str | int, ...]]:
        paths = hostile.string_paths(self.template())
        if self.only:
            paths = [p for p in paths if any(p[:len(o)] == o for o in self.only)]
        return [*paths, ("extra",)]


JSON_CHANNELS = {
    "webchat": JsonChannel("webchat", webchat_message, Target.webchat),
    "telegram-message": JsonChannel("telegram-message", telegram_message, Target.telegram_hook),
    "telegram-callback": JsonChannel("telegram-callback", telegram_callback,
                                     Target.telegram_hook),
    "telegram-edit": JsonChannel("telegram-edit", telegram_edit, Target.telegram_hook, only=(
        ("edited_message", "edit_date"), ("edited_message", "message_id"),
        ("edited_message", "text"), ("edited_message", "chat", "id"))),
    "telegram-photo": JsonChannel("telegram-photo", telegram_photo, Target.telegram_hook, only=(
        ("message", "photo"), ("message", "caption"))),
    "hotline-json": JsonChannel("hotline-json", hotline_call, Target.hotline),
}


def _checked(target: Target, status: int | None, failure: str | None, what: str,
             failures: list[str]) -> None:
    if failure is not None:
        failures.append(failure)
    elif status in NOT_REACHED:
        failures.append(f"[{target.backend}] {what}: answered {status}: the fuzzer did not "
                        "get past authentication or routing")


# -------------------------------------------------------- named shapes, every field


@pytest.mark.parametrize("shape", sorted(hostile.JSON_FRAGMENTS))
@pytest.mark.parametrize("channel", sorted(JSON_CHANNELS))
def test_hostile_value_in_every_json_field(target: Target, channel: str, shape: str) -> None:
    """One hostile value in each field of a valid message (and in an extra field)."""
    spec = JSON_CHANNELS[channel]
    fragment = hostile.JSON_FRAGMENTS[shape]
    failures: list[str] = []
    for path in spec.paths():
        body = hostile.render_json(spec.template(), path, fragment)
        what = f"{channel}: {shape} in {hostile.dotted(path)}"
        status, failure = spec.send(target, body, what)
        _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, f"{channel} requests with {shape} failed")


@pytest.mark.parametrize("shape", sorted(hostile.WHOLE_BODIES))
@pytest.mark.parametrize("channel", ["hotline-json", "telegram-message", "webchat"])
def test_hostile_whole_json_body(target: Target, channel: str, shape: str) -> None:
    spec = JSON_CHANNELS[channel]
    what = f"{channel}: whole body {shape}"
    failures: list[str] = []
    status, failure = spec.send(target, hostile.WHOLE_BODIES[shape], what)
    _checked(target, status, failure, what, failures)
    if shape.startswith("over_limit") and failure is None and channel != "hotline-json":
        assert status == 413, f"[{target.backend}] {what}: {status}, not 413"
    target.healthy()
    _assert_none(failures, f"{channel} requests failed")


@pytest.mark.parametrize("depth", [450, 1000, 2000])
@pytest.mark.parametrize("channel", sorted(JSON_CHANNELS))
def test_deep_nesting_in_an_extra_field_of_a_valid_message(target: Target, channel: str,
                                                           depth: int) -> None:
    """{"a": {"a": ...}} nested `depth` deep beside the fields of a valid message whose text
    holds a card number (so the masking and the store both meet it)."""
    spec = JSON_CHANNELS[channel]
    template = spec.template()
    failures: list[str] = []
    parents: list[tuple[str | int, ...]] = [()]
    for key in ("message", "edited_message", "callback_query"):
        if key in template:
            parents.append((key,))
    for parent in parents:
        path = (*parent, "extra")
        body = hostile.render_json(spec.template(), path, hostile.deep_object(depth))
        what = f"{channel}: object {depth} deep in {hostile.dotted(path)}"
        status, failure = spec.send(target, body, what)
        _checked(target, status, failure, what, failures)
        body = hostile.render_json(spec.template(), path, hostile.deep_array(depth))
        what = f"{channel}: array {depth} deep in {hostile.dotted(path)}"
        status, failure = spec.send(target, body, what)
        _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, f"{channel} requests failed")


@pytest.mark.parametrize("streamed", [True, False], ids=["chunked", "content-length"])
def test_a_huge_body_is_refused_with_413(target: Target, streamed: bool) -> None:
    """A body over the limit, declared (Content-Length) or streamed (chunked), everywhere."""
    failures: list[str] = []

    def chunks(total: int) -> Iterator[bytes]:
        sent = 0
        yield b'{"text": "'
        while sent < total:
            yield b"x" * 8192
            sent += 8192
        yield b'"}'

    for what, path, headers, params, total in (
            ("webchat", WEBCHAT_PATH, {}, None, 200_000),
            ("telegram", TELEGRAM_PATH, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
             None, 200_000),
            ("wechat", WECHAT_PATH, {}, wx.query(WECHAT_TOKEN, openid="oFuzz"), 200_000),
            ("hotline", HOTLINE_PATH, {"Authorization": f"Bearer {HOTLINE_KEY}"}, None,
             3 * 1024 * 1024)):
        mark = target.log.mark()
        content = chunks(total) if streamed else b"".join(chunks(total))
        shown = f"<{'chunked' if streamed else 'declared'}, {total} bytes>".encode()
        try:
            response = target.client.post(path, content=content, headers=headers,
                                          params=params)
        except httpx.HTTPError as exc:
            target.reconnect()
            failures.append(target.describe("POST", path, headers, params, shown, what,
                                            f"no answer: {exc!r}", target.log.since(mark, 1)))
            continue
        if response.status_code >= 500:
            target.reconnect()
        if response.status_code != 413:
            failures.append(target.describe(
                "POST", path, headers, params, shown, what,
                f"{response.status_code} {response.text[:200]!r} (expected 413)",
                target.log.since(mark, 1.0)))
    target.healthy()
    _assert_none(failures, "huge bodies failed")


# -------------------------------------------------------- WeChat (XML)


@pytest.mark.parametrize("shape", sorted(hostile.XML_FRAGMENTS))
def test_hostile_value_in_every_wechat_field(target: Target, shape: str) -> None:
    fragment = hostile.XML_FRAGMENTS[shape]
    failures: list[str] = []
    for kind, template in WECHAT_KINDS.items():
        for name in WECHAT_FIELDS[kind]:
            fields = template()
            fields[name] = fragment
            body = hostile.render_xml(fields)
            what = f"wechat {kind}: {shape} in <{name}>"
            status, failure = target.wechat_push(body, what)
            _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, f"wechat pushes with {shape} failed")


@pytest.mark.parametrize("shape", sorted(hostile.WHOLE_XML_BODIES))
def test_hostile_whole_wechat_body(target: Target, shape: str) -> None:
    failures: list[str] = []
    what = f"wechat: whole body {shape}"
    status, failure = target.wechat_push(hostile.WHOLE_XML_BODIES[shape], what)
    _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, "wechat pushes failed")


@pytest.mark.parametrize("depth", [450, 2000])
def test_deep_xml_in_an_extra_element_of_a_valid_push(target: Target, depth: int) -> None:
    fields = wechat_text()
    body = hostile.render_xml(fields, extra=b"<Extra>" + hostile.deep_xml(depth) + b"</Extra>")
    what = f"wechat: elements {depth} deep beside a valid text push"
    status, failure = target.wechat_push(body, what)
    failures: list[str] = []
    _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, "wechat pushes failed")


# Values for query parameters, sent percent-encoded: raw bytes are decoded by the server.
HOSTILE_QUERY_VALUES: dict[str, str] = {
    "nul": "a%00b",
    "invalid_utf8": "a%FF%FEb",
    "cesu_surrogate": "%ED%A0%80",
    "empty": "",
    "long_1000": "x" * 1000,
    "long_cjk_200": "%E6%8A%95" * 200,
    "digits_5000": "9" * 5000,
    "negative_digits": "-" + "9" * 30,
    "nan": "NaN",
    "float": "1e10",
    "arabic_digits": "%D9%A1%D9%A2%D9%A3",
    "spaces": "%20123%20",
    "plus": "+1",
}


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("shape", sorted(HOSTILE_QUERY_VALUES))
def test_wechat_hostile_query_parameters(target: Target, shape: str) -> None:
    """Each of WeChat's query parameters hostile, the rest valid; where the hostile one is
    signed (timestamp, nonce) the signature is computed over it, so it gets past the check."""
    value = HOSTILE_QUERY_VALUES[shape]
    failures: list[str] = []
    body = hostile.render_xml(wechat_text())
    for name in ("signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature",
                 "echostr"):
        params = {**wx.query(WECHAT_TOKEN, openid="oFuzzQuery"), "echostr": "hello"}
        params[name] = value
        if name in ("timestamp", "nonce"):
            decoded = {k: unquote(v) for k, v in params.items()}
            params["signature"] = wx.signature(WECHAT_TOKEN, decoded["timestamp"],
                                               decoded["nonce"])
        for method in ("GET", "POST"):
            what = f"wechat {method}: {shape} in {name}"
            _, failure = target.request(method, f"{WECHAT_PATH}?{_query(params)}",
                                        body=body if method == "POST" else None,
                                        headers={"Content-Type": "text/xml"}, what=what)
            if failure:
                failures.append(failure)
    target.healthy()
    _assert_none(failures, f"wechat requests with {shape} in the query failed")


@pytest.mark.parametrize("shape", sorted(HOSTILE_QUERY_VALUES))
def test_hotline_hostile_name_parameter(target: Target, shape: str) -> None:
    failures: list[str] = []
    for build in (lambda: hostile.render_json(hotline_call()), hotline_text):
        what = f"hotline: {shape} in ?name="
        status, failure = target.request(
            "POST", f"{HOTLINE_PATH}?name={HOSTILE_QUERY_VALUES[shape]}", body=build(),
            headers={"Authorization": f"Bearer {HOTLINE_KEY}"}, what=what)
        _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, f"hotline requests with {shape} in the name failed")


# -------------------------------------------------------- the hotline's text formats


@pytest.mark.parametrize("shape", sorted(hostile.XML_FRAGMENTS))
def test_hostile_value_in_every_hotline_text_field(target: Target, shape: str) -> None:
    """The speaker-labelled format takes raw bytes: the XML shapes serve (NUL, invalid UTF-8,
    CESU surrogates, thousands of digits, over-long lines)."""
    failures: list[str] = []
    for kind, build, fields in (("text", hotline_text, HOTLINE_TEXT_FIELDS),
                                ("webvtt", hotline_vtt, HOTLINE_VTT_FIELDS)):
        for where in fields:
            body = build(hostile.XML_FRAGMENTS[shape], where)
            what = f"hotline {kind}: {shape} in {where}"
            status, failure = target.hotline(body, what)
            _checked(target, status, failure, what, failures)
    target.healthy()
    _assert_none(failures, f"hotline transcripts with {shape} failed")


# -------------------------------------------------------- the history endpoint


@pytest.mark.parametrize("value", [
    "", "short", "x" * 21, "x" * 65, "x" * 200, "x" * 1000, "x" * 10_000, "a b" * 10,
    "../../etc/passwd", "' OR 1=1 --", "%00" * 10, "🙂" * 22, "\udc80" * 22,
], ids=lambda v: f"{len(v)}:{v[:8]!r}")
def test_history_with_a_hostile_visitor_id_header(target: Target, value: str) -> None:
    raw = value.encode("utf-8", "surrogateescape")  # a lone surrogate: a raw non-UTF-8 byte
    failures: list[str] = []
    for header in (raw, secrets.token_urlsafe(16).encode() + raw):
        _, failure = target.request("GET", HISTORY_PATH, headers={"X-Visitor-Id": header},
                                         what=f"history: X-Visitor-Id {value[:20]!r}")
        if failure:
            failures.append(failure)
    # and the same value in the query, as the old contract took it
    query = raw.decode("latin-1")  # one character per byte, percent-encoded as UTF-8
    _, failure = target.request("GET", HISTORY_PATH, params={"visitor_id": query},
                                     what=f"history: visitor_id={value[:20]!r} in the query")
    if failure:
        failures.append(failure)
    target.healthy()
    _assert_none(failures, "history requests failed")


def test_history_takes_the_visitor_id_header(target: Target) -> None:
    """The new contract: the id travels in X-Visitor-Id, not in the URL."""
    visitor = secrets.token_urlsafe(16)
    body = {"visitor_id": visitor, "text": "我要投诉！", "client_message_id": "h1"}
    posted = target.client.post(WEBCHAT_PATH, json=body)
    assert posted.status_code == 200, posted.text
    answer = target.client.get(HISTORY_PATH, headers={"X-Visitor-Id": visitor})
    assert answer.status_code == 200, answer.text
    assert [m["text"] for m in answer.json()["messages"]][:1] == ["我要投诉！"]


# -------------------------------------------------------- Hypothesis: mixed hostile bodies


@pytest.mark.parametrize("channel", ["hotline-json", "telegram-callback", "telegram-message",
                                     "webchat"])
def test_fuzzed_json_bodies_never_get_a_5xx(target: Target, channel: str) -> None:
    spec = JSON_CHANNELS[channel]

    @given(body=hostile.hostile_json_bodies(spec.template))
    @settings(max_examples=BODY_EXAMPLES, **_FUZZ_SETTINGS)
    def run(body: bytes) -> None:
        status, failure = spec.send(target, body, f"{channel}: fuzzed body")
        assert failure is None, failure
        assert status not in NOT_REACHED, f"{channel}: {status}: not past authentication"

    run()
    target.healthy()


@st.composite
def _wechat_bodies(draw: st.DrawFn) -> bytes:
    fields = draw(st.sampled_from(list(WECHAT_KINDS.values())))()
    names = [*fields, "Extra"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        fields[name] = draw(hostile.xml_fragments())
    return hostile.render_xml(fields)


def test_fuzzed_wechat_pushes_never_get_a_5xx(target: Target) -> None:
    @given(body=st.one_of(_wechat_bodies(), st.sampled_from(
        sorted(hostile.WHOLE_XML_BODIES.values()))))
    @settings(max_examples=BODY_EXAMPLES, **_FUZZ_SETTINGS)
    def run(body: bytes) -> None:
        status, failure = target.wechat_push(body, "wechat: fuzzed push")
        assert failure is None, failure
        assert status not in NOT_REACHED, f"wechat: {status}: not past the signature check"

    run()
    target.healthy()


@st.composite
def _hotline_texts(draw: st.DrawFn) -> bytes:
    build, fields = draw(st.sampled_from([(hotline_text, HOTLINE_TEXT_FIELDS),
                                          (hotline_vtt, HOTLINE_VTT_FIELDS)]))
    where = draw(st.sampled_from(fields))
    return build(draw(st.one_of(hostile.xml_fragments(), hostile.json_fragments())), where)


def test_fuzzed_hotline_texts_never_get_a_5xx(target: Target) -> None:
    @given(body=_hotline_texts())
    @settings(max_examples=max(1, BODY_EXAMPLES // 2), **_FUZZ_SETTINGS)
    def run(body: bytes) -> None:
        status, failure = target.hotline(body, "hotline text: fuzzed transcript")
        assert failure is None, failure
        assert status not in NOT_REACHED, f"hotline: {status}: not past the key check"

    run()
    target.healthy()


# ================================================================ 3. the WebSocket


@dataclass(frozen=True)
class Frame:
    data: bytes
    binary: bool = False


def _send(ws: ClientConnection, frame: Frame) -> None:
    # text=True sends the bytes as a text frame as they are, invalid UTF-8 included
    ws.send(frame.data, text=not frame.binary)


def _answer(target: Target, ws: ClientConnection, frame: Frame, what: str,
            mark: int) -> tuple[dict[str, Any] | None, str | None]:
    """(JSON frame, failure) after `frame` was sent: a JSON frame, or a close with an
    allowed code (then (None, None)); anything else is a failure."""
    try:
        raw = ws.recv(timeout=SOCKET_TIMEOUT)
    except TimeoutError:
        return None, _ws_failure(target, frame, what, "no answer within "
                                 f"{SOCKET_TIMEOUT:.0f} s", mark)
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            return None, _ws_failure(target, frame, what, "the connection was dropped without "
                                     "a close frame", mark)
        if exc.rcvd.code not in ALLOWED_CLOSE_CODES:
            return None, _ws_failure(target, frame, what, f"closed with {exc.rcvd.code} "
                                     f"{exc.rcvd.reason!r}", mark)
        return None, None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
        return None, _ws_failure(target, frame, what, f"a frame that is not JSON: {raw!r:.200}",
                                 mark)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None, _ws_failure(target, frame, what, f"a frame without a type: {raw!r:.200}",
                                 mark)
    return data, None


def _ws_failure(target: Target, frame: Frame, what: str, outcome: str, mark: int) -> str:
    kind = "binary" if frame.binary else "text"
    return (f"[{target.backend}] {what}\n  socket: {SOCKET_PATH}\n  {kind} frame: "
            f"{_show(frame.data)}\n  answer: {outcome}\n  server log:\n"
            f"{_tail(target.log.since(mark, 1.0))}")


def _hello(visitor_id: str) -> Frame:
    return Frame(json.dumps({"type": "hello", "visitor_id": visitor_id}).encode())


def _open(target: Target) -> ClientConnection:
    return connect(target.ws_url, open_timeout=SOCKET_TIMEOUT, close_timeout=5,
                   max_size=None)


def _say_hello(target: Target, ws: ClientConnection, what: str, mark: int) -> str | None:
    """Send a valid hello on `ws`: None once it is answered `ready`, else the failure."""
    hello = _hello(secrets.token_urlsafe(16))
    _send(ws, hello)
    data, failure = _answer(target, ws, hello, what + " (the hello)", mark)
    if failure is None and (data is None or data.get("type") != "ready"):
        failure = _ws_failure(target, hello, what + " (the hello)",
                              f"expected {{'type': 'ready'}}, got {data!r}", mark)
    return failure


def _exchange(target: Target, frames: list[Frame], what: str, *, hello: bool = True) -> str | None:
    """Send `frames` one by one on a fresh socket (after a valid hello unless `hello` is
    false); each must be answered with a JSON frame or end the socket with an allowed close."""
    mark = target.log.mark()
    try:
        ws = _open(target)
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        return _ws_failure(target, frames[0], what, f"the socket was refused: {exc!r}", mark)
    with ws:
        if hello:
            failure = _say_hello(target, ws, what, mark)
            if failure is not None:
                return failure
        for frame in frames:
            data, failure = _send_and_answer(target, ws, frame, what, mark)
            if failure is not None or data is None:
                return failure
    return None


def _send_and_answer(target: Target, ws: ClientConnection, frame: Frame, what: str,
                     mark: int) -> tuple[dict[str, Any] | None, str | None]:
    try:
        _send(ws, frame)
    except ConnectionClosed:
        pass  # closed before the frame went out: the close frame is what recv reports
    return _answer(target, ws, frame, what, mark)


def ws_message() -> dict[str, Any]:
    return {"type": "message", "text": CARD_TEXT, "client_message_id": f"ws-{next(_ids)}",
            "lang": "zh"}


def test_socket_hello_then_a_message(target: Target) -> None:
    """The contract itself: hello -> ready, then a message is answered with its replies."""
    with _open(target) as ws:
        failure = _say_hello(target, ws, "hello", target.log.mark())
        assert failure is None, failure
        _send(ws, Frame(json.dumps(ws_message(), ensure_ascii=False).encode()))
        answer = json.loads(ws.recv(timeout=SOCKET_TIMEOUT))
    assert answer["type"] == "replies", answer
    assert "6222021234567890123" not in json.dumps(answer, ensure_ascii=False)


def test_socket_refuses_the_visitor_id_in_the_url(target: Target) -> None:
    """The old contract's ?visitor_id= is not an identity any more: without a hello the
    socket gets nothing done."""
    url = f"{target.ws_url}?visitor_id={secrets.token_urlsafe(16)}"
    frame = Frame(json.dumps(ws_message(), ensure_ascii=False).encode())
    mark = target.log.mark()
    try:
        ws = connect(url, open_timeout=SOCKET_TIMEOUT, close_timeout=5)
    except InvalidHandshake:
        return  # refused outright: fine
    with ws:
        data, failure = _send_and_answer(target, ws, frame, "a message without a hello", mark)
    assert failure is None, failure
    assert data is None or data.get("type") == "error", data


SOCKET_WHOLE_FRAMES: dict[str, Frame] = {
    **{f"text-{name}": Frame(body) for name, body in hostile.WHOLE_BODIES.items()},
    "binary-json": Frame(json.dumps(ws_message(), ensure_ascii=False).encode(), binary=True),
    "binary-garbage": Frame(b"\x00\xff\x80garbage", binary=True),
    "binary-empty": Frame(b"", binary=True),
    "text-invalid-utf8-in-json": Frame(b'{"type": "message", "text": "\xff\xfe", '
                                       b'"client_message_id": "bad-utf8"}'),
    "text-cesu-surrogate": Frame(b'{"type": "message", "text": "\xed\xa0\x80", '
                                 b'"client_message_id": "cesu"}'),
    "text-over-frame-limit-100000": Frame(b'{"type": "message", "text": "'
                                          + b"x" * 100_000 + b'"}'),
    "text-huge-17MiB": Frame(b" " * (17 * 1024 * 1024)),
}


@pytest.mark.parametrize("shape", sorted(SOCKET_WHOLE_FRAMES))
@pytest.mark.parametrize("phase", ["as-hello", "after-hello"])
def test_socket_hostile_whole_frame(target: Target, phase: str, shape: str) -> None:
    frame = SOCKET_WHOLE_FRAMES[shape]
    failure = _exchange(target, [frame], f"socket {phase}: {shape}",
                        hello=phase == "after-hello")
    target.healthy()
    assert failure is None, failure


def _hello_template() -> dict[str, Any]:
    return {"type": "hello", "visitor_id": secrets.token_urlsafe(16)}


@pytest.mark.parametrize("shape", sorted(hostile.JSON_FRAGMENTS))
def test_socket_hostile_value_in_every_frame_field(target: Target, shape: str) -> None:
    """A hostile value in each field of the hello, and of a message after a valid hello."""
    fragment = hostile.JSON_FRAGMENTS[shape]
    failures: list[str] = []
    for path in [*hostile.string_paths(_hello_template()), ("extra",)]:
        frame = Frame(hostile.render_json(_hello_template(), path, fragment))
        failure = _exchange(target, [frame], f"socket hello: {shape} in {hostile.dotted(path)}",
                            hello=False)
        if failure:
            failures.append(failure)
    for path in [*hostile.string_paths(ws_message()), ("extra",)]:
        frame = Frame(hostile.render_json(ws_message(), path, fragment))
        failure = _exchange(target, [frame], f"socket message: {shape} in "
                            f"{hostile.dotted(path)}")
        if failure:
            failures.append(failure)
    target.healthy()
    _assert_none(failures, f"socket frames with {shape} failed")


@pytest.mark.parametrize("depth", [450, 1000, 2000])
def test_socket_deep_nesting_beside_a_valid_message(target: Target, depth: int) -> None:
    failures: list[str] = []
    for shape, fragment in (("object", hostile.deep_object(depth)),
                            ("array", hostile.deep_array(depth))):
        frame = Frame(hostile.render_json(ws_message(), ("extra",), fragment))
        failure = _exchange(target, [frame], f"socket message: {shape} {depth} deep in extra")
        if failure:
            failures.append(failure)
        frame = Frame(hostile.render_json(_hello_template(), ("extra",), fragment))
        failure = _exchange(target, [frame], f"socket hello: {shape} {depth} deep in extra",
                            hello=False)
        if failure:
            failures.append(failure)
    target.healthy()
    _assert_none(failures, "socket frames failed")


def test_socket_keeps_answering_after_errors(target: Target) -> None:
    """Several bad frames on one socket, then a good one: each gets its answer."""
    frames = [Frame(b"{oops"), Frame(b"[]"), Frame(b'{"type": "message"}'),
              Frame(hostile.render_json(ws_message(), ("text",), b'"a\\u0000b"')),
              Frame(json.dumps(ws_message(), ensure_ascii=False).encode())]
    failure = _exchange(target, frames, "socket: bad frames then a good one")
    assert failure is None, failure


@st.composite
def _socket_frames(draw: st.DrawFn) -> tuple[bool, list[Frame]]:
    """(valid hello first?, frames): a hostile hello, or hostile frames after a valid one;
    the last frame may go as a binary frame."""
    frames = [Frame(body) for body in
              draw(st.lists(hostile.hostile_json_bodies(ws_message), min_size=1, max_size=3))]
    if draw(st.booleans()):
        frames[-1] = Frame(frames[-1].data, binary=True)
    if draw(st.booleans()):
        return True, frames
    hello = draw(st.one_of(hostile.hostile_json_bodies(_hello_template), st.builds(
        lambda fragment: hostile.render_json(_hello_template(), ("visitor_id",), fragment),
        hostile.json_fragments())))
    return False, [Frame(hello), *frames]


def test_fuzzed_socket_frames_never_crash_the_socket(target: Target) -> None:
    @given(plan=_socket_frames())
    @settings(max_examples=SOCKET_EXAMPLES, **_FUZZ_SETTINGS)
    def run(plan: tuple[bool, list[Frame]]) -> None:
        hello, frames = plan
        failure = _exchange(target, frames, "socket: fuzzed frames", hello=hello)
        assert failure is None, failure

    run()
    target.healthy()


# ================================================================ the fuzzers themselves


def test_the_fuzzers_get_past_authentication(target: Target) -> None:
    """Valid messages through each channel are accepted: the hostile ones above are judged by
    the parser and the store, not turned away at the door."""
    failures: list[str] = []
    for name, spec in JSON_CHANNELS.items():
        status, failure = spec.send(target, hostile.render_json(spec.template()), name)
        if failure or status not in (200, 201):
            failures.append(failure or f"[{target.backend}] {name}: a valid body got {status}")
    status, failure = target.wechat_push(hostile.render_xml(wechat_text()), "wechat")
    if failure or status != 200:
        failures.append(failure or f"[{target.backend}] wechat: a valid push got {status}")
    status, failure = target.hotline(hotline_text(), "hotline text")
    if failure or status not in (200, 201):
        failures.append(failure or f"[{target.backend}] hotline text: a valid call got {status}")
    _assert_none(failures, "valid requests were not accepted")
