"""``/v1/confirmations``: an end user's yes or no to a pending action, or a one-time code
by email and SMS (multi-factor); the code itself never appears in any answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from inloop.domain.agent_sessions import SessionEvent
from inloop.domain.confirmations import (
    Answer,
    CodeCheck,
    Confirmation,
    ConfirmationStatus,
    NewConfirmation,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, json

router = APIRouter(prefix="/v1", tags=["confirmations"])

_CLOSED: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "confirmation_confirmed / _declined / _expired / _locked: it is "
        "closed; confirmation_needs_code / _needs_answer: the other call fits its kind"
    }
}


class ConfirmationList(BaseModel):
    items: list[Confirmation]


class StepList(BaseModel):
    items: list[SessionEvent]


@router.post("/confirmations", status_code=201, response_model=Confirmation)
async def request_confirmation(
    new: NewConfirmation, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Keep the action (canonical JSON and its SHA-256) until the end user decides; for
    ``kind: mfa``, send a 6-digit code to ``to_email`` and/or ``to_phone`` (5 minutes, 3
    attempts). Marks the session as waiting (``requires_confirmation``)."""
    return json(await services.confirmations.request(principal, new), 201)


@router.get("/confirmations", response_model=ConfirmationList)
async def list_confirmations(
    services: ServicesDep,
    principal: PrincipalDep,
    session_id: str | None = None,
    status: ConfirmationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    found = await services.confirmations.list_confirmations(
        principal, session_id=session_id, status=status, limit=limit
    )
    return json(ConfirmationList(items=found))


@router.get("/confirmations/{confirmation_id}", response_model=Confirmation)
async def get_confirmation(
    confirmation_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.confirmations.get(principal, confirmation_id))


@router.get("/confirmations/{confirmation_id}/events", response_model=StepList)
async def confirmation_events(
    confirmation_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Its audit trail: created, sent, resent, attempt_failed, locked, confirmed,
    declined, expired, each with its actor and time (never the code)."""
    return json(StepList(items=await services.confirmations.events(principal, confirmation_id)))


@router.post(
    "/confirmations/{confirmation_id}/answer", response_model=Confirmation, responses=_CLOSED
)
async def answer(
    confirmation_id: str, body: Answer, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The end user's yes or no (``kind: yes_no``), as the agent heard it."""
    return json(await services.confirmations.answer(principal, confirmation_id, body.yes))


@router.post(
    "/confirmations/{confirmation_id}/verify",
    response_model=Confirmation,
    responses={
        **_CLOSED,
        422: {"description": "wrong_code: the message says how many attempts are left"},
    },
)
async def verify(
    confirmation_id: str, body: CodeCheck, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Check the code the end user typed (``kind: mfa``). The third wrong code locks it."""
    return json(await services.confirmations.verify(principal, confirmation_id, body.code))


@router.post(
    "/confirmations/{confirmation_id}/resend",
    response_model=Confirmation,
    responses={
        **_CLOSED,
        429: {"description": "resend_too_soon: once every 30 s (Retry-After says when)"},
    },
)
async def resend(confirmation_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """A new code to the same destinations (the old one stops working); at most 3 times."""
    return json(await services.confirmations.resend(principal, confirmation_id))
