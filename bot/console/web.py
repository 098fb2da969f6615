"""What the console's pages and API share: finding the desk, rendering templates in the
agent's language, the security headers."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from starlette.requests import HTTPConnection

from workflow import catalog as customer_catalog

from ..endpoints.common import Service, service_of
from . import rules
from .desk import Desk

# No inline script or style anywhere: a complaint text that slips through escaping still
# cannot run. htmx is told not to evaluate anything (see base.html).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
           "X-Frame-Options": "DENY"}


def desk_of(conn: HTTPConnection) -> tuple[Service, Desk]:
    service = service_of(conn)
    if service.desk is None:  # pragma: no cover - the app always builds one
        raise RuntimeError("the console is not set up")
    return service, service.desk


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Every feature's templates folder, the console's first (base.html and the shared
    # partials live there).
    loader = ChoiceLoader([PackageLoader(package, "templates") for package in rules.FEATURES
                           if resources.files(package).joinpath("templates").is_dir()])
    env = Environment(loader=loader,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = _duration
    return env


def render(name: str, lang: str, status: int = 200, zone: Any = None,
           **context: Any) -> HTMLResponse:
    def t(key: str, **values: Any) -> str:
        return rules.text(lang, key, **values)

    def label(group: str, key: str | None) -> str:
        if not key:
            return "—"
        return customer_catalog.label(lang, group, key)

    def local(iso: str | None) -> str:
        if not iso:
            return "—"
        at = datetime.fromisoformat(iso)
        return (at.astimezone(zone) if zone is not None else at).strftime("%Y-%m-%d %H:%M")

    html = environment().get_template(name).render(lang=lang, t=t, label=label, local=local,
                                                   **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _duration(seconds: int | None, lang: str = "zh") -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return rules.text(lang, "seconds", n=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return rules.text(lang, "minutes", n=minutes)
    return rules.text(lang, "hours", n=minutes // 60, m=minutes % 60)
