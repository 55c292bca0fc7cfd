"""``/v1/handoff``: project-wide settings, the human agents' side of a session (join,
write, transfer, end), transferring a consult, and the providers' webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.conversations import Message, NewMessage
from inloop.domain.handoffs import HandoffSession
from inloop.domain.requests import Request as InloopRequest
from inloop.server.api.deps import PrincipalDep, ServicesDep, json

router = APIRouter(prefix="/v1", tags=["handoff"])


class SettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: dict[str, Any] = Field(default_factory=dict, description="Keys and their new values.")
    unset: list[str] = Field(default_factory=list, description="Keys back to their defaults.")


class Transfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="user:<handle>, team:<name> or role:<name>")
    reason: str | None = Field(default=None, max_length=2000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


@router.get("/handoff/settings")
async def get_settings(services: ServicesDep, principal: PrincipalDep) -> Response:
    """Every setting in force (the eleven HITL keys, the provider, consults, approver
    mode, canned responses); secrets show only whether they are set."""
    return json(await services.handoffs.settings(principal))


@router.put("/handoff/settings")
async def put_settings(
    change: SettingsChange, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Admins: set keys (``provider`` swaps the ``hitl`` provider) and unset others."""
    return json(await services.handoffs.configure(principal, change.set, change.unset))


@router.get("/handoffs/{session_id}", response_model=HandoffSession)
async def get_session(session_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.handoffs.get(principal, session_id))


@router.post("/handoffs/{session_id}/join", response_model=HandoffSession)
async def join(session_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """A human agent takes the conversation (claims its desk ticket)."""
    return json(await services.handoffs.join(principal, session_id))


@router.post("/handoffs/{session_id}/messages", status_code=201, response_model=Message)
async def human_message(
    session_id: str, new: NewMessage, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The human agent's message to the customer."""
    return json(await services.handoffs.say(principal, session_id, new), 201)


@router.post("/handoffs/{session_id}/transfer", response_model=HandoffSession)
async def transfer(
    session_id: str, body: Transfer, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(
        await services.handoffs.transfer(principal, session_id, body.to, reason=body.reason)
    )


@router.post("/handoffs/{session_id}/end", response_model=HandoffSession)
async def end(session_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """The human agent closes the session (end reason agent_closed)."""
    return json(await services.handoffs.close(principal, session_id))


@router.post("/requests/{request_id}/transfer-to-live", response_model=InloopRequest)
async def consult_transfer(
    request_id: str, services: ServicesDep, principal: PrincipalDep, body: Reason | None = None
) -> Response:
    """A HILA hands a consult's conversation to a live agent instead of answering."""
    reason = body.reason if body else None
    return json(await services.consults.transfer(principal, request_id, reason=reason))


@router.post("/handoff/providers/{provider}/events")
async def provider_events(provider: str, request: Request, services: ServicesDep) -> Response:
    """Where a provider calls back (agent assigned, agent message, ticket closed). The
    body's signature is checked (Standard Webhooks for ``webhook``, Zendesk's own for
    ``zendesk``); a bad one is a 401 and changes nothing."""
    body = await request.body()
    count = await services.handoffs.provider_webhook(provider, body, dict(request.headers))
    return json({"accepted": count})
