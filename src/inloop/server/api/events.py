"""``GET /v1/events``: the server-sent event stream of request events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from inloop.domain.enums import EventType
from inloop.domain.errors import InvalidError
from inloop.domain.requests import Event, Request
from inloop.server.api.deps import PrincipalDep, ServicesDep
from inloop.server.services.feed import FeedFilter, event_feed

router = APIRouter(prefix="/v1", tags=["events"])
# ASCII digits only (str.isdigit takes "²"), and few enough to fit a 64-bit column.
_EVENT_ID = re.compile(r"[0-9]{1,18}")


@router.get("/events", response_class=EventSourceResponse)
async def stream_events(
    services: ServicesDep,
    principal: PrincipalDep,
    request_id: str | None = None,
    type: Annotated[list[EventType] | None, Query()] = None,
    conversation_id: str | None = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Each message has ``id`` (the event id), ``event`` (its type) and ``data``
    (``{"event": ..., "request": ...}``). Resume with the ``Last-Event-ID`` header."""
    resume = last_event_id or last_event_id_query
    if resume is not None and not _EVENT_ID.fullmatch(resume):
        raise InvalidError(
            "Last-Event-ID must be an event id (a whole number of at most 18 digits)",
            field="Last-Event-ID",
            code="validation_error",
        )
    if request_id is not None:
        await services.requests.get(principal, request_id)  # 404 or 403 before streaming
    where = FeedFilter(request_id=request_id, types=type or (), conversation_id=conversation_id)
    feed = event_feed(
        services.db, services.hub, principal, where, int(resume) if resume is not None else None
    )
    return EventSourceResponse(_messages(feed), ping=15)


async def _messages(feed: AsyncIterator[tuple[Event, Request]]) -> AsyncIterator[ServerSentEvent]:
    async for event, request in feed:
        yield ServerSentEvent(
            id=str(event.id),
            event=event.type.value,
            data=to_json({"event": event, "request": request}).decode(),
        )
