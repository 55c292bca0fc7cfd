"""``/v1/tickets`` and ``/v1/ticket-rules``: handoff tickets with their whole context, and
the priority rules (and routing) admins set for them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.tickets import (
    NewTicket,
    Ticket,
    TicketPriority,
    TicketRules,
    TicketStatus,
    choose_priority,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.server.store.tickets import TicketFilter

router = APIRouter(prefix="/v1", tags=["tickets"])


class TicketList(BaseModel):
    items: list[Ticket]


class RuleTest(BaseModel):
    """A ticket that might be opened: which priority would it get, and by which rule."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)
    action: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)


class RuleTestResult(BaseModel):
    priority: TicketPriority
    rule: str | None = Field(description="The rule that matched; null: the default priority.")


@router.post("/tickets", status_code=201, response_model=Ticket)
async def open_ticket(new: NewTicket, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Escalate a session to humans: the ticket captures the session's turns (and the
    conversation's messages), state, metadata and reason, gets a priority from the rules,
    opens a desk request, and marks the session escalated."""
    return json(await services.tickets.open(principal, new), 201)


@router.get("/tickets", response_model=TicketList)
async def list_tickets(
    services: ServicesDep,
    principal: PrincipalDep,
    session_id: str | None = None,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    created_after: datetime | None = None,
    before: Annotated[int | None, Query(ge=1, description="Tickets numbered below this.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Newest first (the caller's own; an admin's: all)."""
    where = TicketFilter(
        session_id=session_id,
        status=status,
        priority=priority,
        created_after=created_after,
        before_number=before,
    )
    return json(
        TicketList(items=await services.tickets.list_tickets(principal, where, limit=limit))
    )


@router.get("/tickets/{ticket_id}", response_model=Ticket)
async def get_ticket(ticket_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """By id, or by number (``12``; ``%2312`` for ``#12``)."""
    return json(await services.tickets.get(principal, ticket_id))


@router.get("/ticket-rules", response_model=TicketRules)
async def get_rules(services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.tickets.rules(principal))


@router.put("/ticket-rules", response_model=TicketRules)
async def put_rules(rules: TicketRules, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Replace the rules (admin): tried in order, the first match wins."""
    return json(await services.tickets.set_rules(principal, rules))


@router.delete("/ticket-rules", response_model=TicketRules)
async def reset_rules(services: ServicesDep, principal: PrincipalDep) -> Response:
    """Back to seed 004's defaults (admin)."""
    return json(await services.tickets.reset_rules(principal))


@router.post("/ticket-rules/test", response_model=RuleTestResult)
async def test_rules(test: RuleTest, services: ServicesDep, principal: PrincipalDep) -> Response:
    """The priority a ticket like this would get now, and the rule that gave it."""
    rules = await services.tickets.rules(principal)
    priority, rule = choose_priority(rules, test.model_dump())
    return json(RuleTestResult(priority=priority, rule=rule))
