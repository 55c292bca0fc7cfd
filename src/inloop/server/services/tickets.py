"""Handoff tickets: an escalation opens one, in one transaction with everything it says.

Opening a ticket captures the session's turns and (with a ``conversation_id``) the
conversation's messages, the session state, metadata, the action and the reason; picks
the priority from the admins' rules; creates an ``input`` request for the desk (routed,
timed and escalated as the rules' routing says, shown with the history as its transcript
and the state as a panel); and marks the session escalated, with the ticket in its state
and an ``escalated`` entry in its history. The desk request is the ticket's workflow:
claiming, answering (the resolution) and the audit trail are the request's own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from inloop.domain.agent_sessions import (
    AgentSession,
    SessionEventType,
    check_session_id,
    turn_of,
)
from inloop.domain.enums import Scope
from inloop.domain.errors import InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import NewRequest, Request, new_record
from inloop.domain.tickets import (
    DEFAULT_RULES,
    HistoryEntry,
    NewTicket,
    Ticket,
    TicketPriority,
    TicketRules,
    TicketStatus,
    choose_priority,
)
from inloop.server.services.agent_sessions import AgentSessionService
from inloop.server.services.clock import Clock
from inloop.server.services.requests import RequestService
from inloop.server.store import agent_sessions as session_sql
from inloop.server.store import conversations as conversation_sql
from inloop.server.store import tickets as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.tickets import TicketFilter

MAX_MESSAGES = 1000


class TicketService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        sessions: AgentSessionService,
        requests: RequestService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.sessions = sessions
        self.requests = requests
        requests.lifecycle.on_change.append(self._request_changed)
        requests.lifecycle.on_close.append(self._requests_closed)

    # rules

    async def rules(self, principal: Principal) -> TicketRules:
        principal.require(Scope.AGENT, Scope.RESPONDER)
        return await self.db.read(self.rules_of)

    def rules_of(self, conn: Connection) -> TicketRules:
        stored = sql.get_rules(conn)
        return DEFAULT_RULES if stored is None else TicketRules.model_validate(stored)

    async def set_rules(self, principal: Principal, rules: TicketRules) -> TicketRules:
        """Replace the rules (admins only), after checking the routing as a request would."""
        principal.require(Scope.ADMIN)
        self._check_routing(rules)
        now = self.clock.now()

        def apply(tx: Tx) -> TicketRules:
            sql.set_rules(tx.conn, rules.model_dump(mode="json"), principal.actor, now)
            return rules

        return await self.db.write(apply)

    async def reset_rules(self, principal: Principal) -> TicketRules:
        return await self.set_rules(principal, DEFAULT_RULES)

    @staticmethod
    def _check_routing(rules: TicketRules) -> None:
        routing = {"assignee": rules.assignee, "timeout": rules.timeout}
        routing["escalation"] = rules.escalation
        try:
            NewRequest.model_validate(
                {"prompt": "check", "kind": "input", **{k: v for k, v in routing.items() if v}}
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"] if not str(p)[:1].isupper())
            raise InvalidError(
                f"{where}: {str(error['msg']).removeprefix('Value error, ')}",
                field=where.split(".")[0],
                code="invalid_ticket_rules",
            ) from None
        except InvalidError as exc:
            raise InvalidError(exc.message, field=exc.field, code="invalid_ticket_rules") from None

    # tickets

    async def open(self, principal: Principal, new: NewTicket) -> Ticket:
        principal.require(Scope.AGENT)
        check_session_id(new.session_id)
        return await self.db.write(self.open_tx, principal, new)

    def open_tx(self, tx: Tx, principal: Principal, new: NewTicket) -> Ticket:
        """Open a ticket inside the caller's transaction (the policy engine's ``escalate``)."""
        now = self.clock.now()
        session = self.sessions.open(tx, principal, new.session_id)
        history = self._history(tx.conn, principal, session, new)
        rules = self.rules_of(tx.conn)
        subject = {
            "reason": new.reason,
            "action": new.action,
            "metadata": new.metadata,
            "state": session.state,
        }
        rule: str | None
        if new.priority is not None:
            priority, rule = new.priority, "explicit"
        else:
            priority, rule = choose_priority(rules, subject)
        ticket_id = new_id("tkt", now)
        number = sql.insert_ticket(
            tx.conn,
            {
                "id": ticket_id,
                "session_id": session.id,
                "conversation_id": new.conversation_id,
                "request_id": None,
                "reason": new.reason,
                "priority": priority.value,
                "rule": rule,
                "history": [h.model_dump(mode="json") for h in history],
                "state": session.state,
                "metadata": new.metadata,
                "action": new.action,
                "created_by": principal.actor,
                "created_at": now,
            },
        )
        label = f"#{number}"
        captured = session
        # The session's state first: routing the desk request may assign it at once, and
        # that assignment (``_request_changed``) writes on top of this.
        session = self.sessions.change_state(
            tx,
            session,
            {
                "escalated": True,
                "escalation_reason": new.reason,
                "escalation_ticket_id": ticket_id,
                "escalation_ticket": label,
                "human_agent_assigned": None,
            },
            principal.actor,
            f"Escalated to human: {new.reason}",
            escalated=True,
        )
        request = self._desk_request(
            tx, principal, rules, new, captured, history, label, priority, now
        )
        sql.set_request(tx.conn, ticket_id, request.id)
        self.sessions.record(
            tx,
            session,
            SessionEventType.ESCALATED,
            principal.actor,
            {
                "ticket_id": ticket_id,
                "number": number,
                "priority": priority.value,
                "rule": rule,
                "reason": new.reason,
                "request_id": request.id,
            },
            new.reason,
        )
        found = sql.get(tx.conn, ticket_id)
        assert found is not None
        return found

    def _history(
        self, conn: Connection, principal: Principal, session: AgentSession, new: NewTicket
    ) -> list[HistoryEntry]:
        turns = session_sql.events(
            conn, session.id, types=[SessionEventType.TURN], limit=new.turn_limit, last=True
        )
        entries: list[HistoryEntry] = []
        for event in turns:
            turn = turn_of(event)
            data = {"turn_id": turn.id, "metadata": turn.metadata}
            if turn.input is not None:
                entries.append(
                    HistoryEntry(
                        source="turn", role="user", text=_text(turn.input), at=turn.created_at,
                        data=data,
                    )
                )  # fmt: skip
            if turn.output is not None:
                entries.append(
                    HistoryEntry(
                        source="turn", role="agent", text=_text(turn.output), at=turn.created_at,
                        data=data,
                    )
                )  # fmt: skip
        if new.conversation_id is not None:
            conversation = conversation_sql.get_conversation(conn, new.conversation_id)
            if conversation is None:
                raise NotFoundError(
                    f"no conversation {new.conversation_id!r}",
                    field="conversation_id",
                    code="conversation_not_found",
                )
            if not principal.is_admin and conversation.created_by != principal.actor:
                raise PermissionDeniedError(
                    f"conversation {new.conversation_id!r} belongs to another agent",
                    field="conversation_id",
                )
            for message in conversation_sql.list_messages(
                conn, new.conversation_id, limit=MAX_MESSAGES
            ):
                entries.append(
                    HistoryEntry(
                        source="message", role=message.role.value, text=message.text,
                        at=message.created_at, data={"message_id": message.id},
                    )
                )  # fmt: skip
            entries.sort(key=lambda e: e.at)
        return entries

    def _desk_request(
        self,
        tx: Tx,
        principal: Principal,
        rules: TicketRules,
        new: NewTicket,
        session: AgentSession,
        history: list[HistoryEntry],
        label: str,
        priority: TicketPriority,
        now: datetime,
    ) -> Request:
        context: dict[str, Any] = {
            "reason": new.reason,
            "transcript": [{"role": h.role, "text": h.text} for h in history],
            "state": session.state,
        }
        if new.metadata:
            context["metadata"] = new.metadata
        if new.action is not None:
            context["action"] = new.action
        fields: dict[str, Any] = {
            "kind": "input",
            "title": f"Ticket {label}: {new.reason}"[:300],
            "prompt": f"The agent escalated session {session.id} to a human: {new.reason}",
            "context": context,
            "display": {"highlight": ["reason"]},
            "priority": priority.request_priority.value,
            "metadata": {"ticket": label, "agent_session": session.id},
        }
        if new.conversation_id is not None:
            fields["conversation_id"] = new.conversation_id
        for name in ("assignee", "timeout", "escalation"):
            value = getattr(rules, name)
            if value:
                fields[name] = value
        record = new_record(
            NewRequest.model_validate(fields),
            id=new_id("req", now),
            created_by=principal.actor,
            now=now,
            idempotency_key=None,
        )
        stored, _ = self.requests._insert(tx, record, None)
        return stored

    # the desk request moves: the session hears of it (seed 004's human_agent_assigned)

    def _request_changed(self, tx: Tx, before: Request, after: Request, now: datetime) -> None:
        if not after.is_open or before.assigned_to == after.assigned_to:
            return
        session = self._ticket_session(tx, after)
        if session is None:
            return
        human = after.assigned_to
        label = after.metadata.get("ticket", "")
        why = f"Ticket {label} picked up by {human}" if human else f"Ticket {label} released"
        actor = f"user:{human}" if human else "system"
        self.sessions.change_state(tx, session, {"human_agent_assigned": human}, actor, why)

    def _requests_closed(self, tx: Tx, closed: list[Request], now: datetime) -> None:
        for request in closed:
            session = self._ticket_session(tx, request)
            if session is None:
                continue
            status = TicketStatus.of_request(request.status, request.resolution)
            label = request.metadata.get("ticket", "")
            actor = request.resolved_by or "system"
            changes = {"escalation_status": status.value, "escalation_resolution": request.response}
            why = f"Ticket {label} {status.value}"
            self.sessions.change_state(tx, session, changes, actor, why)

    def _ticket_session(self, tx: Tx, request: Request) -> AgentSession | None:
        session_id = request.metadata.get("agent_session")
        if not session_id or "ticket" not in request.metadata:
            return None
        return session_sql.get(tx.conn, str(session_id), lock=True)

    async def get(self, principal: Principal, ticket_id: str) -> Ticket:
        principal.require(Scope.AGENT)

        def read(conn: Connection) -> Ticket:
            found = sql.get(conn, ticket_id)
            if found is None:
                raise NotFoundError(
                    f"no ticket {ticket_id!r}", field="ticket_id", code="ticket_not_found"
                )
            if not principal.is_admin and found.created_by != principal.actor:
                raise PermissionDeniedError(
                    f"ticket {ticket_id!r} belongs to another agent", field="ticket_id"
                )
            return found

        return await self.db.read(read)

    async def list_tickets(
        self, principal: Principal, where: TicketFilter, *, limit: int = 50
    ) -> list[Ticket]:
        principal.require(Scope.AGENT)
        if not 1 <= limit <= 500:
            raise InvalidError("limit must be between 1 and 500", field="limit")
        if not principal.is_admin:
            where = TicketFilter(**{**where.__dict__, "created_by": principal.actor})
        return await self.db.read(sql.list_tickets, where, limit)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("content", "text", "message"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
