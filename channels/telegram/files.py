"""A file a customer sent, fetched back through the Bot API: `getFile`, then the download at
`<file base>/bot<token>/<file_path>` (the bot's `base_file_url`, see `file_base_url`).

Telegram lets a bot download files of up to 20 MB. The download URL carries the token: it is
never logged or put in an error message.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from telegram import Bot
from telegram.error import BadRequest, TelegramError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str | None  # as the file server said
    path: str | None  # Telegram's file_path (e.g. photos/file_3.jpg), without the token


class DownloadFailed(Exception):
    """The file could not be had: `reason` says why (no secrets in it)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.too_large = reason, too_large


def file_base_url(api_base: str) -> str:
    """The file server's base for a Bot API base: https://api.telegram.org/bot ->
    https://api.telegram.org/file/bot (a local Bot API server or a fake alike)."""
    head, _, tail = api_base.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


async def download(bot: Bot, file_id: str, *, limit: int) -> Download:
    """The file's bytes, at most `limit` of them (DownloadFailed otherwise)."""
    try:
        found = await bot.get_file(file_id)
    except BadRequest as exc:
        too_big = "too big" in exc.message.lower()
        raise DownloadFailed(f"getFile refused: {exc.message}", too_large=too_big) from None
    except TelegramError as exc:
        raise DownloadFailed(f"getFile failed: {type(exc).__name__}") from None
    if found.file_size is not None and found.file_size > limit:
        raise DownloadFailed(f"the file has {found.file_size} bytes", too_large=True)
    url = found.file_path
    if not url or not url.startswith(("http://", "https://")):
        raise DownloadFailed("getFile gave no file path to download")
    path = url.rpartition(bot.token + "/")[2] or None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise DownloadFailed(f"the file server answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise DownloadFailed(f"the file has {declared} bytes", too_large=True)
            chunks, total = [], 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > limit:
                    raise DownloadFailed(f"the file is larger than {limit} bytes",
                                         too_large=True)
                chunks.append(chunk)
            kind = response.headers.get("content-type")
    except httpx.HTTPError as exc:  # its text may quote the URL, and so the token
        raise DownloadFailed(f"the file server is unreachable: {type(exc).__name__}") from None
    return Download(b"".join(chunks), kind, path)
