"""A fake Telegram Bot API server for tests: a Starlette app served by uvicorn in a thread.

Usage from sync tests::

    with FakeTelegram(token="123:ABC") as tg:
        bot = telegram.Bot("123:ABC", base_url=tg.base_url, base_file_url=tg.base_file_url)
        tg.text_update(1001, "我要投诉 😡")          # queued for getUpdates
        ...                                          # drive the code under test
        [sent] = tg.wait_for_sent(1, timeout=5)
        assert sent["chat_id"] == 1001

Requests arrive at ``/bot{token}/{method}`` (GET or POST; JSON bodies, url-encoded forms and
multipart forms whose values may be JSON-encoded, plus query strings). Method names are
case-insensitive, as on Telegram. Parameters are decoded by name with the types the Bot API
gives them (``chat_id`` int or ``@name``, ``offset`` int, ``reply_markup`` JSON, ...): PTB sends
strings raw and everything else JSON-encoded, so decoding every form value as JSON would turn a
text "123" into a number.

Implemented methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, getFile,
sendChatAction, setMyCommands, getMyCommands, deleteMyCommands; files are served at
``/file/bot{token}/{file_path}``. Anything else: 404 ``Not Found`` (PTB raises InvalidToken on
a 404, as it does against Telegram).

Not emulated: webhook delivery (updates stay queued for getUpdates), entity parsing of
``parse_mode`` text, the 24-hour update expiry, real flood control (inject it with
``fail_next``).
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import json
import re
import secrets
import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import ThreadedServer

JSONDict = dict[str, Any]

# Parameter types, by name, as the Bot API documents them.
_INT_PARAMS = frozenset(
    {
        "offset",
        "limit",
        "timeout",
        "message_id",
        "max_connections",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "drop_pending_updates",
        "show_alert",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "commands",
        "scope",
    }
)
_CHAT_ID_PARAMS = frozenset({"chat_id", "from_chat_id"})

_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
_WEBHOOK_PORTS = (80, 88, 443, 8443)
# getUpdates without allowed_updates (or with []) gets every type except these.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MAX_TEXT = 4096
_MAX_DOWNLOAD = 20 * 1024 * 1024

_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def _error_response(error: ApiError) -> JSONResponse:
    body: JSONDict = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return JSONResponse(body, status_code=error.code)


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    body: JSONDict = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            fields[str(name)] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": payload,
            }
        else:
            fields[str(name)] = payload.decode("utf-8")
    return fields


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string, then the body (JSON, url-encoded or multipart); raw values, not decoded."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _bad_request("can't parse JSON object") from exc
        if not isinstance(data, dict):
            raise _bad_request("JSON object expected")
        params.update(data)
    elif media_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    return params


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Give each parameter its Bot API type; strings stay as sent: PTB never JSON-encodes them."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, dict) and "content" in value and "filename" in value:
            params[name] = value  # an uploaded file
        elif name in _INT_PARAMS:
            try:
                params[name] = int(value)
            except (TypeError, ValueError) as exc:
                raise _bad_request(f"invalid {name} specified") from exc
        elif name in _BOOL_PARAMS:
            if isinstance(value, bool):
                params[name] = value
            else:
                params[name] = str(value).strip().lower() in {"true", "1"}
        elif name in _JSON_PARAMS:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    raise _bad_request(f"can't parse {name} JSON object") from exc
            params[name] = value
        elif name in _CHAT_ID_PARAMS:
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            params[name] = value
        else:
            params[name] = value
    return params


def _check_inline_keyboard(markup: Any) -> None:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = set(button) - {"text"}
            if not actions:
                raise _bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")


class FakeTelegram:
    """The fake Bot API and its test controls; see the module docstring.

    Every control is thread-safe: call it from the test thread while the server runs.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "intake_test_bot",
        bot_first_name: str = "Intake Test Bot",
        first_update_id: int = 100_000_001,
        first_message_id: int = 1,
        strict_webhook: bool = True,
    ) -> None:
        self.token = token
        self.strict_webhook = strict_webhook
        bot_id_text = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(bot_id_text) if bot_id_text.isdigit() else 123,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._lock = threading.RLock()
        self._sent_cond = threading.Condition(self._lock)
        self._next_update_id = first_update_id
        self._next_message_id = first_message_id
        self._next_file_no = 0
        self._queue: deque[JSONDict] = deque()
        self._allowed_updates: list[str] | None = None
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._sent: list[JSONDict] = []
        self._messages: dict[tuple[Any, int], JSONDict] = {}  # (chat_id, message_id) -> Message
        self._chats: dict[Any, JSONDict] = {}
        self._files: dict[str, JSONDict] = {}  # file_id -> File + content
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._blocked: set[Any] = set()
        self._commands: list[JSONDict] = []
        self._failures: list[JSONDict] = []
        self._delays: list[JSONDict] = []
        self._down = False
        self._webhook: JSONDict = {
            "url": "",
            "secret_token": None,
            "max_connections": None,
            "allowed_updates": None,
            "has_custom_certificate": False,
        }
        self._poll_generation = 0
        self._closing = False
        # Server-side state (touched only on the server's event loop).
        self._waiters: set[asyncio.Event] = set()
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._file_endpoint, methods=["GET"]),
                Route("/{rest:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )
        self._http = ThreadedServer(self.app, "fake-telegram")
        self._handlers = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "getfile": self._get_file,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
        }

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``telegram.Bot(token, base_url=...)``: PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``telegram.Bot(token, base_file_url=...)`` (file downloads)."""
        return f"{self.url}/file/bot"

    def start(self) -> FakeTelegram:
        self.port = self._http.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._closing = True
        self._wake_pollers()
        self._http.stop()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- test controls

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every request to ``/bot.../{method}``, failed ones included: (method as sent, params)."""
        with self._lock:
            return [(method, copy.deepcopy(params)) for method, params in self._calls]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of every call to ``method`` (case-insensitive)."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    @property
    def sent(self) -> list[JSONDict]:
        """Successful sendMessage calls: their params plus ``message_id`` and ``message``."""
        with self._lock:
            return copy.deepcopy(self._sent)

    def wait_for_sent(self, n: int, timeout: float = 5.0) -> list[JSONDict]:
        """Wait until at least ``n`` messages were sent; return all sent so far."""
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            while len(self._sent) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    texts = [entry.get("text") for entry in self._sent]
                    raise AssertionError(
                        f"expected {n} sent messages within {timeout}s, got {len(texts)}: {texts}"
                    )
                self._sent_cond.wait(remaining)
            return copy.deepcopy(self._sent)

    @property
    def webhook(self) -> JSONDict:
        """``{"url", "secret_token", "max_connections", "allowed_updates",
        "has_custom_certificate"}``; url is "" when no webhook is set."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(list(self._queue))

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 2,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" for any) with an error.

        429 carries Telegram's ``parameters.retry_after``; other statuses a JSON body with
        ``description`` (default: the HTTP reason phrase).
        """
        if status == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters: JSONDict | None = {"retry_after": retry_after}
        else:
            description = description or HTTPStatus(status).phrase
            parameters = None
        with self._lock:
            self._failures.append(
                {
                    "method": method.lower(),
                    "error": ApiError(status, description, parameters),
                    "times": times,
                }
            )

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` answers to ``method`` ("*" for any) for ``seconds``."""
        with self._lock:
            self._delays.append({"method": method.lower(), "seconds": seconds, "times": times})

    def down(self) -> None:
        """Every call gets 502 Bad Gateway (an HTML page, as from a proxy) until ``up()``."""
        with self._lock:
            self._down = True
        self._wake_pollers()

    def up(self) -> None:
        with self._lock:
            self._down = False

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends to ``chat_id`` get 403 Forbidden."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.discard(chat_id)

    def reset(self) -> None:
        """Forget calls, sent messages, queued updates, injected failures and delays."""
        with self._lock:
            self._calls.clear()
            self._sent.clear()
            self._queue.clear()
            self._failures.clear()
            self._delays.clear()
            self._down = False

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates; an ``update_id`` is assigned if missing."""
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._queue.append(update)
        self._wake_pollers()
        return copy.deepcopy(update)

    def add_file(
        self,
        content: bytes,
        *,
        kind: str = "documents",
        suffix: str = "",
        file_id: str | None = None,
        file_size: int | None = None,
    ) -> JSONDict:
        """Register a file for getFile and download; returns its File object (no content)."""
        with self._lock:
            number = self._next_file_no
            self._next_file_no += 1
            file_id = file_id or f"BQACAgUAAxkBAAI{number:04d}{secrets.token_urlsafe(24)}"
            record = {
                "file_id": file_id,
                "file_unique_id": f"AgAD{number:04d}{secrets.token_urlsafe(6)}",
                "file_size": len(content) if file_size is None else file_size,
                "file_path": f"{kind}/file_{number}{suffix}",
                "content": content,
            }
            self._files[file_id] = record
            return {k: v for k, v in record.items() if k != "content"}

    # Update builders. Each builds real Update JSON, queues it (unless push=False) and returns it.

    def _user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        last_name: str | None,
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _message_base(
        self,
        chat_id: int,
        *,
        user_id: int | None,
        first_name: str,
        language_code: str | None,
        chat_type: str,
        message_id: int | None,
        username: str | None = None,
        last_name: str | None = None,
        chat_title: str = "投诉测试群",
        date: int | None = None,
    ) -> JSONDict:
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 10_001
        if chat_type == "private":
            chat: JSONDict = {"id": chat_id, "first_name": first_name, "type": "private"}
            if last_name:
                chat["last_name"] = last_name
            if username:
                chat["username"] = username
        else:
            chat = {"id": chat_id, "title": chat_title, "type": chat_type}
        with self._lock:
            self._chats[chat_id] = chat
            if message_id is None:
                message_id = self._new_message_id()
            else:
                self._next_message_id = max(self._next_message_id, message_id + 1)
        message: JSONDict = {
            "message_id": message_id,
            "from": self._user(user_id, first_name, language_code, username, last_name),
            "chat": dict(chat),
            "date": int(time.time()) if date is None else date,
        }
        return message

    def _finish(self, update: JSONDict, push: bool) -> JSONDict:
        if push:
            return self.push_update(update)
        with self._lock:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        return update

    def text_update(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        message_id: int | None = None,
        username: str | None = None,
        last_name: str | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A text message; a leading ``/command`` gets its ``bot_command`` entity."""
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
            username=username,
            last_name=last_name,
        )
        message["text"] = text
        if text.startswith("/") and len(text) > 1:
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"offset": 0, "length": utf16_len(command), "type": "bot_command"}
            ]
        return self._finish({"message": message}, push)

    def photo_update(
        self,
        chat_id: int,
        *,
        caption: str | None = None,
        content: bytes = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg\xff\xd9",
        width: int = 1280,
        height: int = 960,
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        message_id: int | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A photo: the usual ladder of PhotoSize objects, largest last, each downloadable."""
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
        )
        sizes = []
        for side in (90, 320, 800, max(width, height)):
            scale = min(1.0, side / max(width, height))
            record = self.add_file(content, kind="photos", suffix=".jpg")
            sizes.append(
                {
                    "file_id": record["file_id"],
                    "file_unique_id": record["file_unique_id"],
                    "file_size": record["file_size"],
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        message["photo"] = sizes
        if caption is not None:
            message["caption"] = caption
        return self._finish({"message": message}, push)

    def document_update(
        self,
        chat_id: int,
        *,
        file_name: str = "合同.pdf",
        mime_type: str = "application/pdf",
        content: bytes = b"%PDF-1.4\n% fake\n%%EOF\n",
        file_size: int | None = None,
        caption: str | None = None,
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        message_id: int | None = None,
        push: bool = True,
    ) -> JSONDict:
        """A document; ``file_size`` over 20 MB makes getFile answer "file is too big"."""
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
        )
        suffix = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        record = self.add_file(content, kind="documents", suffix=suffix, file_size=file_size)
        message["document"] = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": record["file_id"],
            "file_unique_id": record["file_unique_id"],
            "file_size": record["file_size"],
        }
        if caption is not None:
            message["caption"] = caption
        return self._finish({"message": message}, push)

    def voice_update(
        self,
        chat_id: int,
        *,
        duration: int = 3,
        content: bytes = b"OggS\x00fake-opus",
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        message_id: int | None = None,
        push: bool = True,
    ) -> JSONDict:
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
        )
        record = self.add_file(content, kind="voice", suffix=".oga")
        message["voice"] = {
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_id": record["file_id"],
            "file_unique_id": record["file_unique_id"],
            "file_size": record["file_size"],
        }
        return self._finish({"message": message}, push)

    def sticker_update(
        self,
        chat_id: int,
        *,
        emoji: str = "😡",
        set_name: str = "AngryCats",
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        message_id: int | None = None,
        push: bool = True,
    ) -> JSONDict:
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
        )
        record = self.add_file(b"RIFF\x00\x00\x00\x00WEBPfake", kind="stickers", suffix=".webp")
        message["sticker"] = {
            "width": 512,
            "height": 512,
            "emoji": emoji,
            "set_name": set_name,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "file_id": record["file_id"],
            "file_unique_id": record["file_unique_id"],
            "file_size": record["file_size"],
        }
        return self._finish({"message": message}, push)

    def edited_update(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        push: bool = True,
    ) -> JSONDict:
        """An ``edited_message`` update: the user changed message ``message_id`` to ``text``."""
        message = self._message_base(
            chat_id,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            message_id=message_id,
        )
        message["date"] -= 60
        message["edit_date"] = message["date"] + 60
        message["text"] = text
        return self._finish({"edited_message": message}, push)

    def callback_update(
        self,
        chat_id: int,
        data: str,
        message_id: int,
        *,
        user_id: int | None = None,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        push: bool = True,
    ) -> JSONDict:
        """A press on an inline button with ``data`` under the bot's message ``message_id``."""
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 10_001
        with self._lock:
            message = copy.deepcopy(self._messages.get((chat_id, message_id)))
            chat = self._chats.get(chat_id) or self._default_chat(chat_id)
            query_id = str(secrets.randbits(62))
            self._callback_queries[query_id] = False
        if message is None:
            message = {
                "message_id": message_id,
                "from": dict(self.bot_user),
                "chat": dict(chat),
                "date": int(time.time()) - 5,
                "text": "…",
            }
        query = {
            "id": query_id,
            "from": self._user(user_id, first_name, language_code, None, None),
            "message": message,
            "chat_instance": str(abs(hash((self.token, chat_id))) % 10**19),
            "data": data,
        }
        return self._finish({"callback_query": query}, push)

    # ---------------------------------------------------------------- internals

    def _new_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    @staticmethod
    def _default_chat(chat_id: Any) -> JSONDict:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "first_name": "User", "type": "private"}
        if isinstance(chat_id, int) and str(chat_id).startswith("-100"):
            return {"id": chat_id, "title": "Supergroup", "type": "supergroup"}
        return {"id": chat_id, "title": "Group", "type": "group"}

    def _wake_pollers(self) -> None:
        loop = self._http.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._set_waiters)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _set_waiters(self) -> None:
        for event in self._waiters:
            event.set()

    def _take_injected(self, registry: list[JSONDict], method: str) -> JSONDict | None:
        for entry in registry:
            if entry["method"] in (method, "*") and entry["times"] > 0:
                entry["times"] -= 1
                if entry["times"] == 0:
                    registry.remove(entry)
                return entry
        return None

    async def _not_found(self, request: Request) -> Response:
        return _error_response(ApiError(404, "Not Found"))

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        try:
            raw = await _read_params(request)
            params = _decode_params(raw)
        except ApiError as error:
            with self._lock:
                self._calls.append((method, {}))
            return _error_response(error)
        with self._lock:
            self._calls.append((method, copy.deepcopy(params)))
            if self._down:
                return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
            if request.path_params["token"] != self.token:
                return _error_response(ApiError(401, "Unauthorized"))
            handler = self._handlers.get(method.lower())
            if handler is None:
                return _error_response(ApiError(404, "Not Found"))
            failure = self._take_injected(self._failures, method.lower())
            delay = self._take_injected(self._delays, method.lower())
        if delay is not None:
            await asyncio.sleep(delay["seconds"])
        if failure is not None:
            return _error_response(failure["error"])
        try:
            return await handler(params)
        except ApiError as error:
            return _error_response(error)

    async def _file_endpoint(self, request: Request) -> Response:
        file_path = request.path_params["file_path"]
        with self._lock:
            if self._down:
                return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
            if request.path_params["token"] != self.token:
                return _error_response(ApiError(401, "Unauthorized"))
            for record in self._files.values():
                if record["file_path"] == file_path:
                    return Response(record["content"], media_type="application/octet-stream")
        return _error_response(ApiError(404, "Not Found"))

    # ---------------------------------------------------------------- methods

    async def _get_me(self, params: dict[str, Any]) -> Response:
        return _ok(
            {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )

    def _deliverable(self, offset: int, limit: int) -> list[JSONDict]:
        """Confirm (drop) updates below ``offset``; return up to ``limit`` of the rest."""
        if offset < 0:
            while len(self._queue) > -offset:
                self._queue.popleft()
        elif offset:
            self._queue = deque(u for u in self._queue if u["update_id"] >= offset)
        allowed = self._allowed_updates
        batch = []
        for update in self._queue:
            kind = next((key for key in update if key != "update_id"), None)
            if allowed:
                if kind not in allowed:
                    continue
            elif kind in _OPT_IN_UPDATE_TYPES:
                continue
            batch.append(copy.deepcopy(update))
            if len(batch) >= limit:
                break
        return batch

    async def _get_updates(self, params: dict[str, Any]) -> Response:
        offset = params.get("offset", 0)
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = max(params.get("timeout", 0), 0)
        with self._lock:
            if self._webhook["url"]:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if "allowed_updates" in params:
                self._allowed_updates = list(params["allowed_updates"] or [])
            self._poll_generation += 1
            generation = self._poll_generation
            batch = self._deliverable(offset, limit)
        self._set_waiters()  # an older long poll still waiting is now terminated
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = asyncio.Event()
            self._waiters.add(event)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(event)
            with self._lock:
                if self._closing:
                    break
                if self._down:
                    return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
                if self._webhook["url"]:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
                if self._poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = self._deliverable(offset, limit)
        return _ok(batch)

    async def _set_webhook(self, params: dict[str, Any]) -> Response:
        url = str(params.get("url") or "")
        secret = params.get("secret_token") or None
        if url:
            parts = urlsplit(url)
            if self.strict_webhook and parts.scheme != "https":
                raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if not parts.hostname:
                raise _bad_request("bad webhook: Failed to resolve host: Name or service not known")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if self.strict_webhook and port not in _WEBHOOK_PORTS:
                raise _bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise _bad_request("bad max_connections specified")
        with self._lock:
            if not url:
                was_set = bool(self._webhook["url"])
                self._clear_webhook(params.get("drop_pending_updates", False))
                return _ok(True, "Webhook was deleted" if was_set else "Webhook is already deleted")
            same = self._webhook["url"] == url
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "max_connections": max_connections,
                "allowed_updates": params.get("allowed_updates"),
                "has_custom_certificate": isinstance(params.get("certificate"), dict),
            }
            if params.get("allowed_updates") is not None:
                self._allowed_updates = list(params["allowed_updates"])
            if params.get("drop_pending_updates"):
                self._queue.clear()
        self._set_waiters()
        return _ok(True, "Webhook is already set" if same else "Webhook was set")

    def _clear_webhook(self, drop_pending: bool) -> None:
        self._webhook = {
            "url": "",
            "secret_token": None,
            "max_connections": None,
            "allowed_updates": None,
            "has_custom_certificate": False,
        }
        if drop_pending:
            self._queue.clear()

    async def _delete_webhook(self, params: dict[str, Any]) -> Response:
        with self._lock:
            was_set = bool(self._webhook["url"])
            self._clear_webhook(params.get("drop_pending_updates", False))
        return _ok(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: dict[str, Any]) -> Response:
        with self._lock:
            info: JSONDict = {
                "url": self._webhook["url"],
                "has_custom_certificate": self._webhook["has_custom_certificate"],
                "pending_update_count": len(self._queue),
            }
            if self._webhook["url"]:
                info["max_connections"] = self._webhook["max_connections"]
                if self._webhook["allowed_updates"] is not None:
                    info["allowed_updates"] = list(self._webhook["allowed_updates"])
        return _ok(info)

    def _chat_for(self, chat_id: Any) -> JSONDict:
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return dict(self._chats.get(chat_id) or self._default_chat(chat_id))

    @staticmethod
    def _check_text(params: dict[str, Any]) -> str:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > _MAX_TEXT:
            raise _bad_request("message is too long")
        parse_mode = params.get("parse_mode")
        if parse_mode and str(parse_mode).lower() not in _PARSE_MODES:
            raise _bad_request(f"unsupported parse_mode: {parse_mode}")
        return text

    @staticmethod
    def _check_markup(params: dict[str, Any], *, inline_only: bool = False) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup)
            return markup
        if inline_only:
            raise _bad_request("inline keyboard expected")
        return None  # reply keyboards are not echoed in the returned Message

    async def _send_message(self, params: dict[str, Any]) -> Response:
        with self._lock:
            chat = self._chat_for(params.get("chat_id"))
            text = self._check_text(params)
            inline = self._check_markup(params)
            message: JSONDict = {
                "message_id": self._new_message_id(),
                "from": dict(self.bot_user),
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            if inline is not None:
                message["reply_markup"] = inline
            self._messages[(chat["id"], message["message_id"])] = message
            entry = copy.deepcopy(params)
            entry["message_id"] = message["message_id"]
            entry["message"] = copy.deepcopy(message)
            self._sent.append(entry)
            self._sent_cond.notify_all()
            return _ok(message)

    def _stored_message(self, params: dict[str, Any]) -> JSONDict:
        if "inline_message_id" in params:
            raise _bad_request("inline messages are not supported by the fake")
        chat = self._chat_for(params.get("chat_id"))
        message = self._messages.get((chat["id"], params.get("message_id")))
        if message is None:
            raise _bad_request("message to edit not found")
        return message

    async def _edit_message_text(self, params: dict[str, Any]) -> Response:
        with self._lock:
            message = self._stored_message(params)
            text = self._check_text(params)
            inline = self._check_markup(params, inline_only=True)
            if text == message.get("text") and inline == message.get("reply_markup"):
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            message["text"] = text
            if inline is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = inline
            message["edit_date"] = int(time.time())
            return _ok(copy.deepcopy(message))

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> Response:
        with self._lock:
            message = self._stored_message(params)
            inline = self._check_markup(params, inline_only=True)
            if inline == message.get("reply_markup"):
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            if inline is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = inline
            message["edit_date"] = int(time.time())
            return _ok(copy.deepcopy(message))

    async def _answer_callback_query(self, params: dict[str, Any]) -> Response:
        query_id = str(params.get("callback_query_id") or "")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        with self._lock:
            if self._callback_queries.get(query_id, True):
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._callback_queries[query_id] = True
        return _ok(True)

    async def _get_file(self, params: dict[str, Any]) -> Response:
        file_id = params.get("file_id")
        if not file_id:
            raise _bad_request("file_id is empty")
        with self._lock:
            record = self._files.get(str(file_id))
        if record is None:
            raise _bad_request("invalid file_id")
        if record["file_size"] > _MAX_DOWNLOAD:
            raise _bad_request("file is too big")
        return _ok({k: v for k, v in record.items() if k != "content"})

    async def _send_chat_action(self, params: dict[str, Any]) -> Response:
        with self._lock:
            self._chat_for(params.get("chat_id"))
        if not params.get("action"):
            raise _bad_request("action is empty")
        return _ok(True)

    async def _set_my_commands(self, params: dict[str, Any]) -> Response:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        with self._lock:
            self._commands = copy.deepcopy(commands)
        return _ok(True)

    async def _get_my_commands(self, params: dict[str, Any]) -> Response:
        with self._lock:
            return _ok(copy.deepcopy(self._commands))

    async def _delete_my_commands(self, params: dict[str, Any]) -> Response:
        with self._lock:
            self._commands = []
        return _ok(True)
