"""``/v1/requests``: create, read, list, answer, cancel, wait, audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.enums import Kind, Priority, Status
from inloop.domain.errors import InvalidError
from inloop.domain.requests import Event, NewRequest, Request
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.server.store.requests import RequestFilter

router = APIRouter(prefix="/v1/requests", tags=["requests"])


class RequestPage(BaseModel):
    items: list[Request]
    next_cursor: str | None


class EventList(BaseModel):
    items: list[Event]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Any = Field(description="The answer; its type depends on the request's kind.")
    comment: str | None = None
    edited: Any = Field(
        default=None,
        description="The changed payload (a JSON object), with the answer modify or edit "
        "to a request that has a payload; required then, refused otherwise.",
    )


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


@router.post(
    "",
    status_code=201,
    response_model=Request,
    responses={409: {"description": "Idempotency-Key reused with another body"}},
)
async def create_request(
    new: NewRequest,
    services: ServicesDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    request, created = await services.requests.create(
        principal, new, idempotency_key=idempotency_key
    )
    if created:
        return json(request, 201)
    return json(request, 201, **{"Idempotent-Replayed": "true"})


@router.get("", response_model=RequestPage)
async def list_requests(
    services: ServicesDep,
    principal: PrincipalDep,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    assignee: Annotated[
        str | None, Query(description="A candidate ref: user:, role:, team:")
    ] = None,
    assigned_to: Annotated[str | None, Query(description="The assignee's handle")] = None,
    conversation_id: str | None = None,
    user_id: str | None = None,
    created_after: Annotated[
        datetime | None, Query(description="ISO 8601; without a timezone, UTC.")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="ISO 8601; without a timezone, UTC.")
    ] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Response:
    where = RequestFilter(
        status=status or (),
        kind=kind or (),
        priority=priority or (),
        assignee=assignee,
        assigned_to=assigned_to,
        conversation_id=conversation_id,
        user_id=user_id,
        created_after=_utc(created_after, "created_after"),
        created_before=_utc(created_before, "created_before"),
        q=q,
    )
    found, next_cursor = await services.requests.list_requests(
        principal, where, limit=limit, cursor=cursor
    )
    return json(RequestPage(items=found, next_cursor=next_cursor))


def _utc(value: datetime | None, field: str) -> datetime | None:
    """The time in UTC; a time without a timezone is taken to be UTC already."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise InvalidError(
            f"{field} is out of range", field=field, code="validation_error"
        ) from None


@router.get("/{request_id}", response_model=Request)
async def get_request(request_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.requests.get(principal, request_id))


@router.post(
    "/{request_id}/respond",
    response_model=Request,
    responses={
        409: {"description": "The request is no longer open"},
        422: {"description": "The answer does not fit the request"},
    },
)
async def respond(
    request_id: str, answer: Answer, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(
        await services.requests.respond(
            principal, request_id, answer.response, comment=answer.comment, edited=answer.edited
        )
    )


@router.post("/{request_id}/cancel", response_model=Request)
async def cancel(
    request_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Cancellation | None, Body()] = None,
) -> Response:
    reason = body.reason if body else None
    return json(await services.requests.cancel(principal, request_id, reason=reason))


@router.get("/{request_id}/wait", response_model=Request)
async def wait(
    request_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    timeout: Annotated[float, Query(ge=0, le=600)] = 30.0,
) -> Response:
    """Long-poll: answers the moment the request closes, or when ``timeout`` seconds pass."""
    return json(await services.requests.wait(principal, request_id, timeout))


@router.get("/{request_id}/events", response_model=EventList)
async def request_events(
    request_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(EventList(items=await services.requests.events(principal, request_id)))
