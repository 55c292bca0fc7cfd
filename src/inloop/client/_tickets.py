"""``client.tickets``: handoff tickets (seed 004's ``escalate_to_human``) and their
priority rules, sync and async."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from inloop.client._calls import Call, items, json_body, one, query, segment
from inloop.domain.tickets import Ticket, TicketPriority, TicketRules, TicketStatus


def open_call(fields: Mapping[str, Any]) -> Call[Ticket]:
    return Call("POST", "/v1/tickets", one(Ticket), body=json_body(fields))


def get_call(ticket_id: str | int) -> Call[Ticket]:
    return Call("GET", f"/v1/tickets/{segment(str(ticket_id))}", one(Ticket))


def list_call(filters: Mapping[str, Any]) -> Call[list[Ticket]]:
    return Call("GET", "/v1/tickets", items(Ticket), params=query(filters))


def rules_call() -> Call[TicketRules]:
    return Call("GET", "/v1/ticket-rules", one(TicketRules))


def set_rules_call(rules: TicketRules | Mapping[str, Any]) -> Call[TicketRules]:
    body = rules.model_dump(mode="json") if isinstance(rules, TicketRules) else json_body(rules)
    return Call("PUT", "/v1/ticket-rules", one(TicketRules), body=body)


def reset_rules_call() -> Call[TicketRules]:
    return Call("DELETE", "/v1/ticket-rules", one(TicketRules))


def _fields(
    session_id: str,
    reason: str,
    priority: TicketPriority | str | None,
    metadata: Mapping[str, Any] | None,
    conversation_id: str | None,
    action: Any,
) -> dict[str, Any]:
    return {
        "session_id": session_id, "reason": reason, "priority": priority, "metadata": metadata,
        "conversation_id": conversation_id, "action": action,
    }  # fmt: skip


StatusArg = TicketStatus | str | Sequence[TicketStatus | str] | None
PriorityArg = TicketPriority | str | Sequence[TicketPriority | str] | None


class Tickets:
    """``client.tickets`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def open(
        self,
        session_id: str,
        reason: str,
        priority: TicketPriority | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        action: Any = None,
    ) -> Ticket:
        """Escalate the session to humans; ``ticket.label`` is ``#N``. Without a
        ``priority``, the server's rules choose one from the reason (and more)."""
        fields = _fields(session_id, reason, priority, metadata, conversation_id, action)
        result: Ticket = self._send(open_call(fields))
        return result

    def get(self, ticket_id: str | int) -> Ticket:
        """By id (``tkt_...``) or number (``12`` or ``"#12"``)."""
        result: Ticket = self._send(get_call(ticket_id))
        return result

    def list(
        self,
        *,
        session_id: str | None = None,
        status: StatusArg = None,
        priority: PriorityArg = None,
        created_after: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Ticket]:
        """Newest first."""
        filters = {k: v for k, v in locals().items() if k != "self"}
        result: builtins.list[Ticket] = self._send(list_call(filters))
        return result

    def rules(self) -> TicketRules:
        result: TicketRules = self._send(rules_call())
        return result

    def set_rules(self, rules: TicketRules | Mapping[str, Any]) -> TicketRules:
        """Replace the priority rules and routing (an admin's token)."""
        result: TicketRules = self._send(set_rules_call(rules))
        return result

    def reset_rules(self) -> TicketRules:
        result: TicketRules = self._send(reset_rules_call())
        return result


class AsyncTickets:
    """``client.tickets`` of an ``AsyncClient``; see ``Tickets``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def open(
        self,
        session_id: str,
        reason: str,
        priority: TicketPriority | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        action: Any = None,
    ) -> Ticket:
        fields = _fields(session_id, reason, priority, metadata, conversation_id, action)
        result: Ticket = await self._send(open_call(fields))
        return result

    async def get(self, ticket_id: str | int) -> Ticket:
        result: Ticket = await self._send(get_call(ticket_id))
        return result

    async def list(
        self,
        *,
        session_id: str | None = None,
        status: StatusArg = None,
        priority: PriorityArg = None,
        created_after: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Ticket]:
        filters = {k: v for k, v in locals().items() if k != "self"}
        result: builtins.list[Ticket] = await self._send(list_call(filters))
        return result

    async def rules(self) -> TicketRules:
        result: TicketRules = await self._send(rules_call())
        return result

    async def set_rules(self, rules: TicketRules | Mapping[str, Any]) -> TicketRules:
        result: TicketRules = await self._send(set_rules_call(rules))
        return result

    async def reset_rules(self) -> TicketRules:
        result: TicketRules = await self._send(reset_rules_call())
        return result
