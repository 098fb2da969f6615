"""The call centre's API: one hotline call's transcript per request."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from .common import error, errors, json_body, service_of, store_call

PATH = "/channels/hotline/transcripts"
router = APIRouter(tags=["hotline"])

_TRANSCRIPT = {"type": "string", "format": "binary",
               "description": "a JSON, speaker-labelled text or WebVTT transcript"}


@router.post(PATH, status_code=201,
             openapi_extra={
                 **json_body(_TRANSCRIPT, "application/octet-stream"),
                 "parameters": [{"name": "X-API-Key", "in": "header", "required": False,
                                 "schema": {"type": "string"},
                                 "description": "the key, when not sent as a Bearer token"}]},
             responses={200: {"description": "already imported: skipped"},
                        201: {"description": "filed"},
                        **errors(401, 403, 404, 413, 422, 503)})
async def transcript(request: Request,
                     name: str = Query("api", max_length=200,
                                       description="the file's name, for the record")
                     ) -> JSONResponse:
    """One call's transcript (JSON, speaker-labelled text or WebVTT) from the call centre:
    `Authorization: Bearer <INTAKE_HOTLINE_API_KEY>` or `X-API-Key`."""
    service = service_of(request)
    key = service.settings.hotline_api_key
    if key is None:
        return error(404, "the hotline API is not configured (INTAKE_HOTLINE_API_KEY)")
    given = _api_key(request)
    if given is None:
        return error(401, "an API key is required (Authorization: Bearer ...)",
                     **{"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
        return error(403, "wrong API key")
    assert service.hotline is not None
    result = await store_call(service, service.hotline.ingest, await request.body(),
                              name.replace("\x00", ""))
    body = {"status": result.status, "case_number": result.case_number,
            "priority": result.priority, "missing": list(result.missing)}
    if result.status == "failed":
        return JSONResponse({"detail": result.reason, **body}, status_code=422)
    if result.status == "skipped":
        return JSONResponse({**body, "detail": result.reason}, status_code=200)
    return JSONResponse(body, status_code=201)


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return request.headers.get("x-api-key") or None
