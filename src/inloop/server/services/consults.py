"""HILA consults and approver mode: humans guiding the AI without talking to the customer.

Both are requests, so they get the request machinery whole: candidates and routing, the
desk's queue and keys, claiming, timers, the audit trail, and waking the agent (or its
durable run) when they close.

- A **consult** (seed 003) is the AI asking a human for guidance in a ticket the customer
  never sees: free text (input) or options (choice). The answer closes the ticket and
  hands control back to the AI (``consult_answered``). The human can instead transfer the
  conversation to a live agent; and while nobody takes it and no HILA is online, it goes
  to a live agent by itself after ``consult_transfer_after_seconds`` (default 60).
- **Approver mode**: each AI message waits for a human to approve or edit it (an approval
  request with the message as its payload, options approve / edit / reject). It is
  approved automatically after ``approver_auto_accept_seconds`` (default 30): the
  request's own timeout with ``auto_approve``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inloop.domain.access import check_can_answer
from inloop.domain.conversations import (
    Conversation,
    ConversationEventType,
    Message,
    MessageStatus,
    NewMessage,
    Part,
    Role,
)
from inloop.domain.enums import EventType, Presence, Priority, Resolution, Scope
from inloop.domain.errors import InvalidError, NotFoundError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import NewRequest, Request, new_record
from inloop.domain.routing import effective_presence
from inloop.domain.specs import Option
from inloop.domain.transitions import Action
from inloop.server.services.chatlog import ChatLog
from inloop.server.services.clock import Clock
from inloop.server.services.handoffs import HandoffService
from inloop.server.services.lifecycle import SYSTEM, Lifecycle, Policy
from inloop.server.services.providers.desk import customer_details
from inloop.server.services.requests import RequestService
from inloop.server.services.summaries import Summariser, transcript
from inloop.server.store import conversations as sql
from inloop.server.store import identity as identity_sql
from inloop.server.store import requests as request_sql
from inloop.server.store import routing as routing_sql
from inloop.server.store import timers
from inloop.server.store.database import Database, Tx

CONSULT_TIMER = "consult_unassigned"
APPROVAL_OPTIONS = [
    Option(value="approve", label="Send as is"),
    Option(value="edit", label="Edit, then send"),
    Option(value="reject", label="Do not send"),
]


class NewConsult(BaseModel):
    """What the AI asks a HILA. With ``options`` the human picks one; without, they write."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000, description="What the AI needs.")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    options: list[str | Option] | None = Field(default=None, min_length=1, max_length=50)
    context: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.HIGH
    assignee: str | None = Field(default=None, description="Default: consult_assignee.")
    timeout: str | None = None


class ConsultService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        lifecycle: Lifecycle,
        requests: RequestService,
        handoffs: HandoffService,
        log: ChatLog,
        summariser: Summariser,
        policy: Policy,
    ) -> None:
        self.db = db
        self.clock = clock
        self.lifecycle = lifecycle
        self.requests = requests
        self.handoffs = handoffs
        self.log = log
        self.summariser = summariser
        self.policy = policy
        lifecycle.on_close.append(self._closed)

    # consults

    async def consult(self, principal: Principal, conversation_id: str, new: NewConsult) -> Request:
        """Open a consult ticket on the conversation; the customer sees nothing of it."""
        principal.require(Scope.AGENT)
        now = self.clock.now()

        def open_ticket(tx: Tx) -> Request:
            conversation = self.handoffs.agents_conversation(tx, principal, conversation_id)
            settings = self.handoffs.settings_tx(tx.conn)
            history = sql.list_messages(tx.conn, conversation.id, limit=100_000)
            assignee = new.assignee or settings["consult_assignee"]
            body: dict[str, Any] = {
                "kind": "choice" if new.options else "input",
                "prompt": new.prompt,
                "title": new.title or "The AI needs guidance",
                "priority": new.priority,
                "context": {
                    "summary": self.summariser.summarise(history),
                    "transcript": transcript([m for m in history if m.role != Role.SYSTEM]),
                    "customer": customer_details(conversation),
                    **new.context,
                },
                "conversation_id": conversation.id,
                "user_id": conversation.user_id,
                "metadata": {"consult": True},
                **({} if assignee == "*" else {"assignee": assignee}),
                **({"options": new.options} if new.options else {}),
                **({"timeout": new.timeout} if new.timeout else {}),
            }
            record = new_record(
                NewRequest.model_validate(body),
                id=new_id("req", now),
                created_by=principal.actor,
                now=now,
                idempotency_key=None,
            )
            request, _ = self.requests._insert(tx, record, None)
            self.summariser.refine_later(tx, request.id, history, settings)
            seconds = int(settings["consult_transfer_after_seconds"])
            tx.add_timer(
                CONSULT_TIMER,
                now + timedelta(seconds=seconds),
                data={"request_id": request.id, "seconds": seconds},
            )
            self.log.event(
                tx,
                conversation.id,
                ConversationEventType.CONSULT_OPENED,
                {"request_id": request.id, "prompt": new.prompt},
                now,
            )
            return request

        return await self.db.write(open_ticket)

    async def transfer(
        self, principal: Principal, request_id: str, *, reason: str | None = None
    ) -> Request:
        """The HILA hands the conversation to a live agent instead of answering."""
        principal.require(Scope.RESPONDER)
        now = self.clock.now()

        def move(tx: Tx) -> Request:
            request = self.requests.locked(tx, request_id, principal, Action.TRANSFER)
            if not request.metadata.get("consult") or request.conversation_id is None:
                raise InvalidError(
                    f"request {request_id} is not a consult: transfer it with reassign",
                    field="id",
                    code="not_a_consult",
                )
            check_can_answer(principal, request)
            why = f"transferred to a live agent by {principal.actor}" + (
                f": {reason}" if reason else ""
            )
            return self._transfer_tx(tx, request, now, actor=principal.actor, why=why)

        return await self.db.write(move)

    def _transfer_tx(
        self, tx: Tx, request: Request, now: datetime, *, actor: str, why: str
    ) -> Request:
        assert request.conversation_id is not None
        conversation = sql.get_conversation(tx.conn, request.conversation_id, lock=True)
        if conversation is None:
            raise NotFoundError(f"no conversation with id {request.conversation_id!r}", field="id")
        closed = self.lifecycle.change(
            tx,
            request,
            Action.TRANSFER,
            {"resolved_by": actor},
            EventType.TRANSFERRED,
            actor=actor,
            now=now,
            reason=why,
            data={"to": "live agent"},
        )
        session = sql.open_session(tx.conn, conversation.id)
        if session is None:
            session = self.handoffs.start_tx(
                tx,
                conversation,
                title=f"Transferred from a consult: {request.title}",
                description=request.prompt,
                user_id=conversation.user_id,
                user_email=conversation.user_email,
                overrides={},
                created_by=request.created_by,
                now=now,
            )
        self.log.event(
            tx,
            conversation.id,
            ConversationEventType.CONSULT_TRANSFERRED,
            {"request_id": request.id, "session_id": session.id, "reason": why},
            now,
        )
        return closed

    def consult_timer(self, tx: Tx, timer: timers.Timer, now: datetime) -> None:
        """Still unassigned: with no HILA online, a live agent takes the conversation."""
        request = request_sql.get_request(tx.conn, str(timer.data.get("request_id")), lock=True)
        if request is None or not request.is_open or request.assigned_to is not None:
            return
        if self._hila_online(tx, request, now):
            seconds = int(timer.data.get("seconds") or 60)
            tx.add_timer(CONSULT_TIMER, now + timedelta(seconds=seconds), data=timer.data)
            return
        self._transfer_tx(
            tx,
            request,
            now,
            actor=SYSTEM,
            why=f"no HILA took it within {timer.data.get('seconds')} s and none is online",
        )

    def _hila_online(self, tx: Tx, request: Request, now: datetime) -> bool:
        if "*" in request.candidates:
            members: list[Any] = identity_sql.list_users(tx.conn)
        else:
            members = routing_sql.pool_members(tx.conn, request.candidates)
        return any(
            not getattr(m, "disabled", False)
            and effective_presence(m.presence, m.last_active_at, now, self.policy.away_after)
            == Presence.ONLINE
            for m in members
        )

    # approver mode

    def applies(self, tx: Tx, conversation: Conversation) -> bool:
        if conversation.approver_mode is not None:
            return conversation.approver_mode
        return bool(self.handoffs.settings_tx(tx.conn)["approver_mode"])

    def hold(
        self, tx: Tx, conversation: Conversation, new: NewMessage, now: datetime, *, author: str
    ) -> Message:
        """Keep the AI's message back and ask a human to approve or edit it."""
        settings = self.handoffs.settings_tx(tx.conn)
        seconds = conversation.approver_auto_accept_seconds or int(
            settings["approver_auto_accept_seconds"]
        )
        message = self.log.message(
            tx,
            conversation,
            Role.AGENT,
            new.content(),
            now,
            author=author,
            author_name=new.author_name,
            external_id=new.external_id,
            status=MessageStatus.PENDING_APPROVAL,
            metadata=new.metadata,
        )
        assert message is not None
        assignee = settings["approver_assignee"]
        body: dict[str, Any] = {
            "kind": "approval",
            "title": "Approve the AI's reply",
            "prompt": message.text,
            "options": [o.model_dump(exclude_none=True) for o in APPROVAL_OPTIONS],
            "payload": {"message": message.content},
            "timeout": f"{seconds}s",
            "escalation": "auto_approve",
            "priority": "high",
            "conversation_id": conversation.id,
            "user_id": conversation.user_id,
            "metadata": {"approval_message": message.id},
            "context": {"customer": customer_details(conversation)},
            **({} if assignee == "*" else {"assignee": assignee}),
        }
        record = new_record(
            NewRequest.model_validate(body),
            id=new_id("req", now),
            created_by=author,
            now=now,
            idempotency_key=None,
        )
        request, _ = self.requests._insert(tx, record, None)
        held = sql.set_message(
            tx.conn,
            message.id,
            {"request_id": request.id},
            if_status=MessageStatus.PENDING_APPROVAL,
        )
        return held or message

    # where their requests close

    def _closed(self, tx: Tx, closed: list[Request], now: datetime) -> None:
        for request in closed:
            if request.conversation_id is None:
                continue
            if request.metadata.get("approval_message") is not None:
                self._approval_closed(tx, request, now)
            elif request.metadata.get("consult") and request.resolution != Resolution.TRANSFERRED:
                self.log.event(
                    tx,
                    request.conversation_id,
                    ConversationEventType.CONSULT_ANSWERED,
                    {
                        "request_id": request.id,
                        "response": request.response,
                        "resolution": request.resolution.value if request.resolution else None,
                        "resolved_by": request.resolved_by,
                        "comment": request.comment,
                    },
                    now,
                )

    def _approval_closed(self, tx: Tx, request: Request, now: datetime) -> None:
        message = sql.get_message(tx.conn, int(request.metadata["approval_message"]))
        if message is None or message.status != MessageStatus.PENDING_APPROVAL:
            return
        assert request.conversation_id is not None
        accepted = request.resolution == Resolution.AUTO_APPROVED or (
            request.resolution == Resolution.RESPONDED
            and (request.response == "edit" or not request.is_rejection)
        )
        if not accepted:
            sql.set_message(
                tx.conn,
                message.id,
                {"status": MessageStatus.REJECTED},
                if_status=MessageStatus.PENDING_APPROVAL,
            )
            self.log.touched(tx, request.conversation_id)
            self.log.event(
                tx,
                request.conversation_id,
                ConversationEventType.MESSAGE_REJECTED,
                {
                    "message_id": message.id,
                    "request_id": request.id,
                    "by": request.resolved_by,
                    "comment": request.comment,
                },
                now,
            )
            return
        content = message.content
        if request.edited is not None:
            try:
                content = Part.model_validate(request.edited.get("message")).model_dump(
                    exclude_none=True
                )
            except (ValidationError, InvalidError) as exc:
                raise InvalidError(
                    f"the edited message is not a message: {exc}",
                    field="edited.message",
                    code="invalid_response",
                ) from None
        if sql.open_session(tx.conn, request.conversation_id) is not None:
            # A human took the conversation over meanwhile: the AI stays muted.
            sql.set_message(
                tx.conn,
                message.id,
                {"status": MessageStatus.REJECTED},
                if_status=MessageStatus.PENDING_APPROVAL,
            )
            self.log.event(
                tx,
                request.conversation_id,
                ConversationEventType.MESSAGE_REJECTED,
                {
                    "message_id": message.id,
                    "request_id": request.id,
                    "by": "system",
                    "comment": "a human has taken the conversation over: the AI is muted",
                },
                now,
            )
            return
        sql.set_message(
            tx.conn,
            message.id,
            {"status": MessageStatus.SENT, "content": content, "type": content.get("type", "text")},
            if_status=MessageStatus.PENDING_APPROVAL,
        )
        self.log.touched(tx, request.conversation_id)
        self.log.event(
            tx,
            request.conversation_id,
            ConversationEventType.MESSAGE_APPROVED,
            {
                "message_id": message.id,
                "request_id": request.id,
                "by": request.resolved_by,
                "edited": request.edited is not None,
                "content": content,
            },
            now,
        )
