"""How failures answer: the store down or too slow is a 503 the client can retry, never a
500; a request FastAPI itself refuses is a 422 in the same {"detail": str} shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..store.db import unavailable
from .common import StoreUnavailable, unavailable_response, validation_detail

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """The store down or too slow is a 503 the client can retry, never a 500; a 500 closes
    the connection, so nothing half-read stays on it."""

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return unavailable_response(str(exc) if isinstance(exc, StoreUnavailable)
                                    else "the store is unavailable")

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if unavailable(exc):
            return await store_unavailable(request, exc)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _server_error()

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _server_error()

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own checks (query and header parameters): one readable sentence, in the
        # same {"detail": str} shape as every other error.
        problems = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
        return JSONResponse({"detail": validation_detail(problems)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(PoolTimeout, store_unavailable)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(Exception, server_error)


def _server_error() -> JSONResponse:
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500,
                        headers={"Connection": "close"})
