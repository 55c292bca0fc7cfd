"""``/v1/conversations``: conversations, messages both ways, start_hitl and stop_hitl,
consults, and the agents' event log (long-poll and server-sent events)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from inloop.domain.conversations import (
    Conversation,
    ConversationEvent,
    ConversationUpdate,
    Message,
    MessageStatus,
    NewConversation,
    NewMessage,
)
from inloop.domain.handoffs import HandoffSession, StartHitl, StopHitl
from inloop.domain.identity import Principal
from inloop.domain.requests import Request
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.server.services import Services
from inloop.server.services.consults import NewConsult

router = APIRouter(prefix="/v1", tags=["conversations"])


class MessageList(BaseModel):
    items: list[Message]


class ConversationList(BaseModel):
    items: list[Conversation]


class EventPage(BaseModel):
    items: list[ConversationEvent]
    next_after: int


@router.post("/conversations", status_code=201, response_model=Conversation)
async def create_conversation(
    new: NewConversation, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Open a conversation; ``chat_url`` is the customer's chat page (its token is shown
    only here and by ``POST .../chat-token``). The same ``id`` again returns it (200)."""
    conversation, created = await services.conversations.create(principal, new)
    if created:
        return json(conversation, 201)
    return json(conversation, 200, **{"Idempotent-Replayed": "true"})


@router.get("/conversations", response_model=ConversationList)
async def list_conversations(
    services: ServicesDep,
    principal: PrincipalDep,
    user_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    found = await services.conversations.list_conversations(principal, user_id=user_id, limit=limit)
    return json(ConversationList(items=found))


@router.get("/conversations/{conversation_id}", response_model=Conversation)
async def get_conversation(
    conversation_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.conversations.get(principal, conversation_id))


@router.patch("/conversations/{conversation_id}", response_model=Conversation)
async def update_conversation(
    conversation_id: str, update: ConversationUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.conversations.update(principal, conversation_id, update))


@router.post("/conversations/{conversation_id}/chat-token", response_model=Conversation)
async def new_chat_token(
    conversation_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """A new chat link (``chat_url``); the previous one stops working."""
    return json(await services.conversations.new_token(principal, conversation_id))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=Message,
    responses={
        202: {"description": "Approver mode: held until a human approves or edits it"},
        409: {"description": "ai_muted: a human has the conversation"},
    },
)
async def post_message(
    conversation_id: str, new: NewMessage, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The AI's message (``role: agent``) or a customer's, relayed (``role: user``).
    Idempotent on ``external_id``: a replay returns the first message (200)."""
    message, created = await services.conversations.post(principal, conversation_id, new)
    if not created:
        return json(message, 200, **{"Idempotent-Replayed": "true"})
    return json(message, 202 if message.status == MessageStatus.PENDING_APPROVAL else 201)


@router.get("/conversations/{conversation_id}/messages", response_model=MessageList)
async def list_messages(
    conversation_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """The whole transcript, in order (``after`` a message id, for the next page)."""
    found = await services.conversations.messages(
        principal, conversation_id, after=after, limit=limit
    )
    return json(MessageList(items=found))


@router.post(
    "/conversations/{conversation_id}/handoff",
    status_code=201,
    response_model=HandoffSession,
    responses={409: {"description": "handoff_active: one is open already"}},
)
async def start_hitl(
    conversation_id: str, start: StartHitl, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """start_hitl: hand the conversation to a human agent through the configured provider."""
    return json(await services.handoffs.start(principal, conversation_id, start), 201)


@router.post(
    "/conversations/{conversation_id}/handoff/stop",
    response_model=HandoffSession,
    responses={409: {"description": "no_open_handoff"}},
)
async def stop_hitl(
    conversation_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: StopHitl | None = None,
) -> Response:
    """stop_hitl: end the open session (end reason stop_called)."""
    reason = body.reason if body else None
    return json(await services.handoffs.stop(principal, conversation_id, reason))


@router.get("/conversations/{conversation_id}/handoff", response_model=HandoffSession | None)
async def current_handoff(
    conversation_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The conversation's latest handoff session (open or ended), or null."""
    session = await services.handoffs.current(principal, conversation_id)
    return json(session) if session is not None else Response("null", media_type="application/json")


@router.post("/conversations/{conversation_id}/consults", status_code=201, response_model=Request)
async def consult(
    conversation_id: str, new: NewConsult, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Ask a HILA for guidance in a ticket the customer never sees; wait on the request
    (``GET /v1/requests/{id}/wait``) or the ``consult_answered`` event."""
    return json(await services.consults.consult(principal, conversation_id, new), 201)


@router.get("/conversation-events", response_model=EventPage)
async def conversation_events(
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    conversation_id: str | None = None,
    wait: Annotated[float, Query(ge=0, le=600)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The agents' durable event log (customer messages for the AI, handoffs started and
    ended, ``continue``, consults, approvals) after the ``after`` cursor; with ``wait``,
    a long-poll. Keep ``next_after`` and pass it back: nothing is lost in between."""
    found = await services.conversations.events(
        principal, after=after, conversation_id=conversation_id, wait=wait, limit=limit
    )
    return json(EventPage(items=found, next_after=found[-1].id if found else after))


@router.get("/conversation-events/stream", response_class=EventSourceResponse)
async def stream_conversation_events(
    services: ServicesDep,
    principal: PrincipalDep,
    conversation_id: str | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
) -> EventSourceResponse:
    """The same log as server-sent events (``id`` is the cursor: resume with it)."""
    await services.conversations.events(
        principal, after=after, conversation_id=conversation_id, wait=0, limit=1
    )  # the access checks, before the stream starts
    return EventSourceResponse(_stream(services, principal, conversation_id, after), ping=15)


async def _stream(
    services: Services, principal: Principal, conversation_id: str | None, after: int
) -> AsyncIterator[ServerSentEvent]:
    while True:
        found = await services.conversations.events(
            principal, after=after, conversation_id=conversation_id, wait=30, limit=500
        )
        for event in found:
            after = event.id
            yield ServerSentEvent(
                id=str(event.id), event=event.type.value, data=to_json(event).decode()
            )
