"""The console's actions as a JSON API under /api/v1, for the institution's CRM and for
scripts, authenticated by an agent's API token (`Authorization: Bearer ik_...`, from
`intake agents token LOGIN`). The same rules as the pages apply: an agent's token sees the
queue and that agent's conversations; a lead's sees everything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from channels.base import InvalidPayload
from channels.wire import load_json

from ..endpoints.common import error, errors, json_body, store_call, validation_detail
from . import auth
from .desk import MAX_REPLY, QueueFilters
from .rules import Actor, Refused
from .web import desk_of

router = APIRouter(prefix="/api/v1", tags=["console API"])
_MEANINGS = {401: "no or an unknown, revoked or disabled agent's API token",
             403: "this agent may not see or do this (the detail says why)",
             404: "no such conversation or agent",
             409: "the conversation's state does not allow it (e.g. another agent has it)"}
_UNAUTHORISED = {"WWW-Authenticate": 'Bearer realm="intake"'}


class QueueEntry(BaseModel):
    conversation_id: int
    state: str = Field(description="waiting (for a person) or held (an agent has it)")
    channel: str
    customer: str
    waiting_since: str | None
    wait_seconds: int | None
    urgent: bool
    reason: str | None = Field(description="why it waits: customer_request, urgent, "
                               "not_understood")
    priority: str | None
    business: str | None
    last_customer_text: str | None
    agent: str | None
    agent_online: bool | None = Field(description="whether the agent who has it has the "
                                      "console open (held conversations)")
    callback_reason: str | None = Field(description="why someone must call this customer "
                                        "back, if they must")


class QueueCase(BaseModel):
    number: str
    conversation_id: int | None
    channel: str
    status: str
    priority: str
    business: str | None
    due_date: str
    overdue: bool
    agent: str | None


class QueueOut(BaseModel):
    counts: dict[str, int]
    waiting: list[QueueEntry]
    held: list[QueueEntry]
    cases: list[QueueCase]


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY)


class ReassignIn(BaseModel):
    agent: str = Field(min_length=1, max_length=64, description="the new agent's login")


async def _actor(request: Request) -> Actor | None:
    service, _ = desk_of(request)
    return await store_call(service, auth.bearer, service.sessions,
                            request.headers.get("authorization"))


def _refused(refused: Refused) -> JSONResponse:
    return error(refused.status, refused.message)


async def _body(request: Request, schema: type[BaseModel]) -> BaseModel | JSONResponse:
    try:
        data = load_json(await request.body())
    except InvalidPayload as exc:
        return error(400, exc.detail)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        return error(422, validation_detail(list(exc.errors()), "body"))


@router.get("/queue", responses={200: {"model": QueueOut, "description": "the queue"},
                                 **errors(401, 422, 503, meanings=_MEANINGS)})
async def queue(request: Request, channel: str | None = None, business: str | None = None,
                priority: str | None = None, status: str | None = None,
                overdue: bool = False) -> JSONResponse:
    """Conversations waiting for a person (urgent first, then the longest waiting), those
    agents have, and open cases (overdue first, then priority and due date)."""
    service, desk = desk_of(request)
    actor = await _actor(request)
    if actor is None:
        return error(401, "an agent's API token is required", **_UNAUTHORISED)
    filters = QueueFilters(channel=channel, business=business, priority=priority,
                           status=status, overdue=overdue)
    view = await store_call(service, desk.queue, actor, filters)
    return JSONResponse(view)


@router.get("/conversations/{conversation_id}",
            responses={200: {"description": "the conversation across the customer's "
                             "channels, the fields so far, the customer's cases"},
                       **errors(401, 403, 404, 503, meanings=_MEANINGS)})
async def conversation(request: Request, conversation_id: int) -> JSONResponse:
    service, desk = desk_of(request)
    actor = await _actor(request)
    if actor is None:
        return error(401, "an agent's API token is required", **_UNAUTHORISED)
    try:
        return JSONResponse(await store_call(service, desk.conversation, actor,
                                             conversation_id, opened=True,
                                             address=auth.address_of(request)))
    except Refused as refused:
        return _refused(refused)


async def _act(request: Request, conversation_id: int, action: str,
               schema: type[BaseModel] | None = None) -> JSONResponse:
    service, desk = desk_of(request)
    actor = await _actor(request)
    if actor is None:
        return error(401, "an agent's API token is required", **_UNAUTHORISED)
    body: Any = None
    if schema is not None:
        body = await _body(request, schema)
        if isinstance(body, JSONResponse):
            return body
    address = auth.address_of(request)
    try:
        if action == "take":
            result = await store_call(service, desk.take, actor, conversation_id, address)
        elif action == "reply":
            result = await store_call(service, desk.reply, actor, conversation_id, body.text,
                                      address)
            return JSONResponse(result, status_code=201)
        elif action == "release":
            result = await store_call(service, desk.release, actor, conversation_id, address)
        elif action == "close":
            result = await store_call(service, desk.close, actor, conversation_id, address)
        else:
            result = await store_call(service, desk.reassign, actor, conversation_id,
                                      body.agent, address)
    except Refused as refused:
        return _refused(refused)
    view: dict[str, Any] | None = None
    if action == "take" or (action == "reassign" and actor.is_lead):
        view = (await store_call(service, desk.conversation, actor, conversation_id)
                )["conversation"]
    return JSONResponse({**result, "conversation": view})


_ACTION = errors(401, 403, 404, 409, 503, meanings=_MEANINGS)


@router.post("/conversations/{conversation_id}/take",
             responses={200: {"description": "taken: the bot is silent, the customer told"},
                        **_ACTION})
async def take(request: Request, conversation_id: int) -> JSONResponse:
    """Take the conversation over; 409 names the agent who has it."""
    return await _act(request, conversation_id, "take")


@router.post("/conversations/{conversation_id}/messages",
             openapi_extra=json_body(MessageIn.model_json_schema()),
             responses={201: {"description": "stored and queued for the customer's channel "
                              "(message.delivery says queued, or failed when the channel "
                              "cannot reach them now: a call-back is flagged)"},
                        **errors(400, 401, 403, 404, 409, 413, 422, 503,
                                 meanings=_MEANINGS)})
async def send(request: Request, conversation_id: int) -> JSONResponse:
    """Reply to the customer on their own channel (take the conversation first)."""
    return await _act(request, conversation_id, "reply", MessageIn)


@router.post("/conversations/{conversation_id}/release",
             responses={200: {"description": "handed back: the bot carries on"}, **_ACTION})
async def release(request: Request, conversation_id: int) -> JSONResponse:
    """Hand the conversation back to the bot, which resumes where it was."""
    return await _act(request, conversation_id, "release")


@router.post("/conversations/{conversation_id}/close",
             responses={200: {"description": "closed; the customer told"}, **_ACTION})
async def close(request: Request, conversation_id: int) -> JSONResponse:
    return await _act(request, conversation_id, "close")


@router.post("/conversations/{conversation_id}/reassign",
             openapi_extra=json_body(ReassignIn.model_json_schema()),
             responses={200: {"description": "now with that agent; the customer told"},
                        **errors(400, 401, 403, 404, 409, 422, 503, meanings=_MEANINGS)})
async def reassign(request: Request, conversation_id: int) -> JSONResponse:
    """A lead moves the conversation to another agent."""
    return await _act(request, conversation_id, "reassign", ReassignIn)
