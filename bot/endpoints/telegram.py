"""The Telegram webhook (webhook mode: INTAKE_TELEGRAM_WEBHOOK_SECRET set)."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from channels.base import InvalidPayload
from channels.wire import load_json

from .common import error, errors, json_body, service_of, within

router = APIRouter(tags=["telegram"])

# What the route reads of an Update; Telegram sends more, which is kept as it came.
UPDATE_SCHEMA = {
    "type": "object", "required": ["update_id"],
    "properties": {"update_id": {"type": "integer"},
                   "message": {"type": "object"}, "edited_message": {"type": "object"},
                   "callback_query": {"type": "object"}},
}


@router.post("/channels/telegram/webhook", openapi_extra=json_body(UPDATE_SCHEMA),
             responses={200: {"description": "stored (or a redelivery, or a kind we ignore)"},
                        **errors(400, 403, 404, 413, 503)})
async def webhook(request: Request,
                  x_telegram_bot_api_secret_token: str | None = Header(
                      None, max_length=256, description="the secret given to setWebhook")
                  ) -> JSONResponse:
    """One Update from Telegram, committed before the answer. Anything but 2xx makes
    Telegram deliver it again; 503 says the store is down and a retry will succeed."""
    service = service_of(request)
    telegram = service.telegram
    if telegram is None or not telegram.webhook_mode:
        return error(404, "the Telegram webhook is not configured")
    if not telegram.secret_matches(x_telegram_bot_api_secret_token):
        return error(403, "wrong or missing secret token")
    try:
        data = load_json(await request.body(), "update")
    except InvalidPayload as exc:
        return error(400, exc.detail)
    try:
        await within(telegram.handle_update(data), service.settings.db_timeout_seconds)
    except InvalidPayload as exc:
        return error(400, exc.detail)
    return JSONResponse({"ok": True})
