"""Health, metrics and the demo page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from .common import (
    HEALTH_SECONDS,
    RETRY_AFTER_SECONDS,
    StoreUnavailable,
    errors,
    service_of,
    within,
)

router = APIRouter()


@router.get("/healthz", responses=errors(503))
async def healthz(request: Request) -> JSONResponse:
    """200 when the store answers; 503 within 2 s when it does not (probes read this)."""
    service = service_of(request)

    def ping() -> None:
        with service.sessions() as session:
            session.execute(text("SELECT 1"))

    try:
        await within(run_in_threadpool(ping), HEALTH_SECONDS)
    except StoreUnavailable as exc:
        return JSONResponse({"status": "error", "database": "unavailable",
                             "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=Response, responses=errors(503))
async def metrics(request: Request) -> Response:
    """Prometheus metrics (the outbox backlog is read from the store)."""
    service = service_of(request)
    body = await within(run_in_threadpool(service.metrics.render), HEALTH_SECONDS)
    return Response(body, media_type="text/plain; version=0.0.4")


@router.get("/", response_class=HTMLResponse)
def demo() -> HTMLResponse:
    """A demo bank page with the chat widget."""
    return HTMLResponse(static("demo.html"))


@router.get("/favicon.ico", response_class=Response, include_in_schema=False)
def favicon() -> Response:
    """The demo page's icon: browsers ask for it, and a 404 shows in their console."""
    icon = resources.files("channels.webchat").joinpath("static", "favicon.ico").read_bytes()
    return Response(icon, media_type="image/x-icon",
                    headers={"Cache-Control": "public, max-age=86400"})


def static(name: str) -> str:
    return resources.files("channels.webchat").joinpath("static", name).read_text("utf-8")
