"""``/v1/requests/{id}/claim|release|reassign|escalate``: moving work between humans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.requests import Request
from inloop.server.api.deps import PrincipalDep, ServicesDep, json

router = APIRouter(prefix="/v1/requests", tags=["assignment"])


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


class Reassignment(Reason):
    to: str = Field(description="user:<handle> (assigned to them), role:<name> or team:<name>.")


@router.post("/{request_id}/claim", response_model=Request)
async def claim(request_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Assign the request to the caller, a candidate."""
    return json(await services.assignment.claim(principal, request_id))


@router.post("/{request_id}/release", response_model=Request)
async def release(
    request_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Reason | None, Body()] = None,
) -> Response:
    reason = body.reason if body else None
    return json(await services.assignment.release(principal, request_id, reason=reason))


@router.post("/{request_id}/reassign", response_model=Request)
async def reassign(
    request_id: str, body: Reassignment, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(
        await services.assignment.reassign(principal, request_id, body.to, reason=body.reason)
    )


@router.post("/{request_id}/escalate", response_model=Request)
async def escalate(
    request_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Reason | None, Body()] = None,
) -> Response:
    """Run the request's escalation policy now, as if its timeout had passed."""
    reason = body.reason if body else None
    return json(await services.assignment.escalate(principal, request_id, reason=reason))
