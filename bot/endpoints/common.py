"""What every route shares: the running service, bounded waits for the store, and the error
responses (with their OpenAPI declarations)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from channels import webchat
from channels.base import Inbound

from ..dispatcher import Dispatcher
from ..hotline import HotlineIntake
from ..metrics import Metrics
from ..pipeline import Handled, Pipeline
from ..settings import Settings
from ..store.db import unavailable

if TYPE_CHECKING:
    from ..console.desk import Desk
    from ..live import Bulletin
    from ..telegram_service import TelegramChannel
    from ..wechat_service import WeChatChannel

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER_SECONDS = 2
HEALTH_SECONDS = 1.5   # probes expect an answer within 2 s, whatever the store does


@dataclass
class Service:
    """Everything one running app holds; built once per app, never module-global."""

    settings: Settings
    sessions: sessionmaker[Session]
    pipeline: Pipeline
    dispatcher: Dispatcher
    metrics: Metrics
    connections: webchat.Connections
    telegram: TelegramChannel | None = None
    wechat: WeChatChannel | None = None
    hotline: HotlineIntake | None = None
    desk: Desk | None = None
    bulletin: Bulletin | None = None


def service_of(connection: HTTPConnection) -> Service:
    return connection.app.state.service


class StoreUnavailable(Exception):
    """The store is down or did not answer in time: 503, and the client tries again."""


async def within(work: Awaitable[T], seconds: float) -> T:
    """`work`'s result, or StoreUnavailable after `seconds` (or when the store fails to
    answer). Work already started is not abandoned: it finishes in the background, and a
    client sending again with the same message id finds what it stored."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        task.add_done_callback(_finished_late)
        raise StoreUnavailable(f"the store did not answer within {seconds:g} s") from None
    except Exception as exc:
        if unavailable(exc):
            raise StoreUnavailable(f"the store is unavailable ({type(exc).__name__})") from exc
        raise


def _finished_late(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("work answered 503 failed later: %s", type(task.exception()).__name__)


async def store_call(service: Service, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker thread, bounded by INTAKE_DB_TIMEOUT_SECONDS."""
    return await within(run_in_threadpool(fn, *args, **kwargs),
                        service.settings.db_timeout_seconds)


async def pipeline_call(service: Service, inbound: Inbound, **options: Any) -> Handled:
    """One inbound message through the pipeline's writer, bounded by
    INTAKE_DB_TIMEOUT_SECONDS (no worker thread is held while it waits)."""
    return await within(service.pipeline.handle_async(inbound, **options),
                        service.settings.db_timeout_seconds)


def validation_detail(problems: list[Any], where: str = "request") -> str:
    """Pydantic's validation errors as one readable sentence for a 422's `detail`."""
    text = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or where}: {e.get('msg')}"
                     for e in problems)
    return (text or f"invalid {where}")[:500]


def unavailable_response(detail: str) -> JSONResponse:
    return JSONResponse({"detail": f"{detail}; try again shortly"}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def error(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


# ---- the contract, as the OpenAPI document declares it -----------------------------------

class ErrorBody(BaseModel):
    detail: str


_MEANINGS = {
    400: "malformed body: not JSON, nested too deeply, a number too long, NaN, invalid Unicode",
    401: "credentials missing or expired",
    403: "wrong credentials or signature",
    404: "the channel is not configured",
    409: "conflicts with what is stored",
    429: "too many attempts; wait and try again",
    413: "body larger than the limit",
    422: "well-formed but invalid: the detail says which field and why",
    503: "the store is unavailable or too slow; send again after Retry-After seconds "
         "(with the same message id: it is stored once)",
}


def errors(*codes: int, meanings: dict[int, str] | None = None
           ) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the `{"detail"}` body;
    `meanings` says what a status means for these routes where it differs."""
    declared: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        meaning = (meanings or {}).get(code) or _MEANINGS[code]
        entry: dict[str, Any] = {"model": ErrorBody, "description": meaning}
        if code == 503:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                "description": "seconds to wait"}}
        declared[code] = entry
    return declared


def json_body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    """`openapi_extra` declaring a request body the route reads itself (it parses raw bytes
    so that hostile JSON gets a clear 400 rather than a crash)."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}
