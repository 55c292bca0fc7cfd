"""``/v1/sessions``: agent sessions (seed 004's ``sb.sessions``): state with reasoning,
turns, the history of both, and the context a human handoff gets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from inloop.domain.agent_sessions import (
    AgentSession,
    NewTurn,
    SessionContext,
    SessionEvent,
    StateUpdate,
    Turn,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, json

router = APIRouter(prefix="/v1", tags=["sessions"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "session_not_found: never written (the SDK reads it as empty)"}
}


class SessionList(BaseModel):
    items: list[AgentSession]


class TurnList(BaseModel):
    items: list[Turn]


class HistoryList(BaseModel):
    items: list[SessionEvent]


@router.get("/sessions", response_model=SessionList)
async def list_sessions(
    services: ServicesDep,
    principal: PrincipalDep,
    escalated: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The caller's sessions (an admin's: everyone's), most recently changed first."""
    found = await services.agent_sessions.list_sessions(principal, escalated=escalated, limit=limit)
    return json(SessionList(items=found))


@router.get("/sessions/{session_id}", response_model=AgentSession, responses=_NOT_FOUND)
async def get_session(session_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.agent_sessions.get(principal, session_id))


@router.patch("/sessions/{session_id}/state", response_model=AgentSession)
async def update_state(
    session_id: str, update: StateUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Merge ``state`` into the session's state (a shallow merge; the session is created by
    its first write) and record each changed key, from and to, with the reasoning."""
    return json(await services.agent_sessions.update_state(principal, session_id, update))


@router.post("/sessions/{session_id}/turns", status_code=201, response_model=Turn)
async def add_turn(
    session_id: str, new: NewTurn, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Log one exchange (input, output, metadata, reasoning); creates the session if new."""
    return json(await services.agent_sessions.add_turn(principal, session_id, new), 201)


@router.get("/sessions/{session_id}/turns", response_model=TurnList, responses=_NOT_FOUND)
async def list_turns(
    session_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    last: bool = False,
) -> Response:
    """The turns, oldest first; ``last=true``: the latest ``limit`` of them."""
    found = await services.agent_sessions.turns(
        principal, session_id, after=after, limit=limit, last=last
    )
    return json(TurnList(items=found))


@router.get("/sessions/{session_id}/history", response_model=HistoryList, responses=_NOT_FOUND)
async def history(
    session_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Every state change, turn, escalation and confirmation step, in order."""
    found = await services.agent_sessions.history(principal, session_id, after=after, limit=limit)
    return json(HistoryList(items=found))


@router.get("/sessions/{session_id}/context", response_model=SessionContext, responses=_NOT_FOUND)
async def context(
    session_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    turn_limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """Seed 004's ``get_context``: the state, the metadata and the latest turns."""
    session = await services.agent_sessions.get(principal, session_id)
    turns = await services.agent_sessions.turns(principal, session_id, limit=turn_limit, last=True)
    return json(
        SessionContext(
            session_id=session.id,
            state=session.state,
            metadata=session.metadata,
            escalated=session.escalated,
            recent_turns=turns,
        )
    )
