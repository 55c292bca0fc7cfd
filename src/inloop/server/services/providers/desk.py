"""The built-in desk as the ``hitl`` provider: a session is a desk ticket (a chat request).

So the handoff gets everything a request has: candidates and routing (round robin, least
busy, presence, capacity), claiming from the queue, reassigning, the audit trail and the
live queue. Joining is claiming the ticket; the session follows the ticket through
``Lifecycle.on_change`` (see ``HandoffService``). The human reads the whole transcript
from the conversation itself, not from a copy in the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from inloop.domain.conversations import Conversation, Message
from inloop.domain.enums import EventType
from inloop.domain.handoffs import EndReason, HandoffSession
from inloop.domain.ids import new_id
from inloop.domain.requests import NewRequest, new_record
from inloop.domain.transitions import Action
from inloop.server.services.lifecycle import Lifecycle
from inloop.server.services.providers import ProviderEvent, Started
from inloop.server.services.requests import RequestService
from inloop.server.services.summaries import Summariser
from inloop.server.store import requests as request_sql
from inloop.server.store.database import Tx


class DeskProvider:
    name = "desk"

    def __init__(
        self,
        requests: RequestService,
        lifecycle: Lifecycle,
        summariser: Summariser,
        settings: Callable[[Tx], Mapping[str, Any]],
    ) -> None:
        self.requests = requests
        self.lifecycle = lifecycle
        self.summariser = summariser
        self.settings = settings

    def create_user(self, tx: Tx, conversation: Conversation, now: datetime) -> None:
        """The desk knows the customer from the conversation: nothing to create."""

    def start_session(
        self,
        tx: Tx,
        session: HandoffSession,
        conversation: Conversation,
        history: Sequence[Message],
        now: datetime,
    ) -> Started:
        settings = self.settings(tx)
        assignee = settings["handoff_assignee"]
        new = NewRequest.model_validate(
            {
                "kind": "chat",
                "title": session.title,
                "prompt": session.description or session.title,
                "priority": "high",
                "context": {
                    "summary": self.summariser.summarise(history),
                    "customer": customer_details(conversation, session.user_email),
                },
                "conversation_id": conversation.id,
                "user_id": session.user_id,
                "metadata": {"handoff_session": session.id},
                **({} if assignee == "*" else {"assignee": assignee}),
            }
        )
        record = new_record(
            new, id=new_id("req", now), created_by=session.created_by, now=now, idempotency_key=None
        )
        stored, _ = self.requests._insert(tx, record, None)
        self.summariser.refine_later(tx, stored.id, history, settings)
        return Started(request_id=stored.id)

    def stop_session(
        self, tx: Tx, session: HandoffSession, reason: EndReason, now: datetime, *, actor: str
    ) -> None:
        """Close the ticket: answered when the human closed it, cancelled otherwise."""
        if session.request_id is None:
            return
        request = request_sql.get_request(tx.conn, session.request_id, lock=True)
        if request is None or not request.is_open:
            return
        why = f"handoff ended: {reason.value}"
        if reason == EndReason.AGENT_CLOSED:
            self.lifecycle.change(
                tx,
                request,
                Action.RESPOND,
                {"response": "closed", "resolved_by": actor, "comment": why},
                EventType.RESPONDED,
                actor=actor,
                now=now,
                reason=why,
                data={"response": "closed"},
            )
        else:
            self.lifecycle.change(
                tx,
                request,
                Action.CANCEL,
                {"resolved_by": actor},
                EventType.CANCELLED,
                actor=actor,
                now=now,
                reason=why,
            )

    def send_message(
        self, tx: Tx, session: HandoffSession, message: Message, now: datetime
    ) -> None:
        """The desk reads messages from the conversation: nothing to send."""

    def handle_webhook(
        self, body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any], now: datetime
    ) -> list[ProviderEvent]:
        return []


def customer_details(conversation: Conversation, email: str | None = None) -> dict[str, Any]:
    """What the human sees of the customer: who, how to reach them, and the agent's details."""
    details: dict[str, Any] = {"user_id": conversation.user_id}
    if conversation.user_name:
        details["name"] = conversation.user_name
    if email or conversation.user_email:
        details["email"] = email or conversation.user_email
    details.update(conversation.customer)
    return details
