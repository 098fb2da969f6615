"""The WeChat Official Account's server URL: the URL check and the message pushes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channels.base import BadSignature, InvalidPayload

from .common import error, errors, json_body, service_of

router = APIRouter(prefix="/channels/wechat", tags=["wechat"])

_SIGNED = [{"name": name, "in": "query", "required": required, "schema": {"type": "string"}}
           for name, required in (("signature", True), ("timestamp", True), ("nonce", True),
                                  ("encrypt_type", False), ("msg_signature", False))]


@router.get("", response_class=Response,
            openapi_extra={"parameters": [*_SIGNED, {"name": "echostr", "in": "query",
                                                     "required": True,
                                                     "schema": {"type": "string"}}]},
            responses={200: {"description": "echostr, unchanged", "content": {"text/plain": {}}},
                       **errors(400, 403, 404)})
def verify(request: Request) -> Response:
    """WeChat's check of the server URL."""
    wechat = service_of(request).wechat
    if wechat is None:
        return error(404, "the WeChat channel is not configured")
    try:
        echostr = wechat.verify(request.query_params)
    except BadSignature:
        return error(403, "signature does not match")
    except InvalidPayload as exc:
        return error(400, exc.detail)
    return Response(echostr, media_type="text/plain")


@router.post("", response_class=Response,
             openapi_extra={"parameters": _SIGNED,
                            **json_body({"type": "string", "description": "the push's XML"},
                                        "application/xml")},
             responses={200: {"description": "a passive reply (XML) or `success`",
                              "content": {"application/xml": {}, "text/plain": {}}},
                        **errors(400, 403, 404, 413)})
async def push(request: Request) -> Response:
    """One signed push. The store is not waited on past INTAKE_WECHAT_REPLY_SECONDS: WeChat
    then gets `success` and the push is finished in the background."""
    wechat = service_of(request).wechat
    if wechat is None:
        return error(404, "the WeChat channel is not configured")
    try:
        body, media_type = await wechat.receive(await request.body(), request.query_params)
    except BadSignature as exc:
        return error(403, str(exc))
    except InvalidPayload as exc:
        return error(400, exc.detail)
    return Response(body, media_type=media_type)
