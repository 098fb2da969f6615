"""The case page's evidence routes (see evidence.py):

- GET  /console/cases/{number}/evidence: the evidence part of the page alone (htmx, or on
  its own);
- POST /console/cases/{number}/reveal/{value_id} (csrf, reason): a lead sees one number in
  clear, once (no-store), audited;
- GET  /console/cases/{number}/attachments/{message_id}/{index}: a file the customer sent,
  fetched through its channel's API, audited.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..console import auth, rules
from ..console.auth import Seat
from ..console.routes import _checked, _refused, _seat, _SignedOut, _to_login
from ..console.rules import Refused
from ..console.web import desk_of, render
from ..endpoints.common import store_call
from . import evidence

router = APIRouter(prefix="/console/cases", include_in_schema=False)
_ID = re.compile(r"^[0-9]{1,15}$")  # row ids; anything else is no such thing (404)
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


def _id(raw: str) -> int | None:
    return int(raw) if _ID.match(raw) else None


@router.get("/{number}/evidence", response_class=HTMLResponse)
async def evidence_part(request: Request, number: str) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request, touch=False)
    if seat is None:
        return _to_login(request)
    try:
        view = await store_call(service, evidence.read, service, seat.actor, number)
    except Refused as refused:
        return _refused(request, seat, refused)
    return render("_evidence.html", seat.actor.lang, 200, service.settings.zone, seat=seat,
                  evidence=view, case_number=view["case_number"])


@router.post("/{number}/reveal/{value_id}", response_class=HTMLResponse)
async def reveal(request: Request, number: str, value_id: str) -> Response:
    service, _ = desk_of(request)
    seat: Seat | None = None
    try:
        seat, form = await _checked(request)
        found = _id(value_id)  # not an id: no such number (an agent is refused first)
        shown = await store_call(service, evidence.reveal, service, seat.actor, number,
                                 -1 if found is None else found,
                                 str(form.get("reason") or ""), auth.address_of(request))
    except _SignedOut:
        return _to_login(request)
    except Refused as refused:
        return _refused(request, seat, refused)
    return render("evidence_reveal.html", seat.actor.lang, 200, service.settings.zone,
                  seat=seat, revealed=shown, page="evidence_reveal")


@router.get("/{number}/attachments/{message_id}/{index}")
async def attachment(request: Request, number: str, message_id: str, index: str) -> Response:
    service, _ = desk_of(request)
    seat = await _seat(request)
    if seat is None:
        return _to_login(request)
    lang = seat.actor.lang
    try:
        found_id, found_index = _id(message_id), _id(index)
        if found_id is None or found_index is None:
            raise Refused("evidence_no_file", 404)
        case_number, found = await store_call(service, evidence.locate, service, seat.actor,
                                              number, found_id, found_index)
    except Refused as refused:
        return _refused(request, seat, refused)
    try:
        file = await evidence.fetch(service, found)
    except evidence.Unavailable as exc:
        return render("refused.html", lang, exc.status, service.settings.zone, seat=seat,
                      page="refused", message=rules.text(lang, f"evidence.{exc.code}",
                                                         limit=evidence.MAX_FILE_BYTES // 2**20))
    await store_call(service, evidence.record_view, service, seat.actor, case_number, found,
                     file, auth.address_of(request))
    return Response(file.content, media_type=file.content_type,
                    headers={**FILE_HEADERS, "Content-Disposition": evidence.disposition(file)})
