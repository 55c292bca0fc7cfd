"""The ``hitl`` interface: what a helpdesk behind a live handoff must do.

It mirrors Botpress's HITL interface: create the user, start a session (with the whole
history), stop it, send it the customer's messages, and turn the helpdesk's webhooks into
events (agent assigned, agent message, session stopped). ``desk`` (the built-in desk,
the default), ``webhook`` (your own desk over signed HTTP) and ``zendesk`` implement it;
``inloop handoff configure --map hitl=<name>`` picks one, and agent code does not change.

Every method runs inside the transaction that changes the session, so what a provider
must send leaves through a durable outbox after the commit, never from inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from inloop.domain.conversations import Conversation, Message, NewMessage
from inloop.domain.handoffs import EndReason, HandoffSession
from inloop.server.store import provider_calls as calls
from inloop.server.store.database import Tx


@dataclass(frozen=True)
class AgentAssigned:
    """A human agent took the ticket."""

    external_id: str
    agent_id: str
    agent_name: str | None = None


@dataclass(frozen=True)
class AgentMessage:
    """A human agent wrote to the customer; ``message_id`` is the provider's own id."""

    external_id: str
    message_id: str
    message: NewMessage
    agent_id: str | None = None
    agent_name: str | None = None


@dataclass(frozen=True)
class SessionStopped:
    """The human agent closed the ticket."""

    external_id: str


ProviderEvent = AgentAssigned | AgentMessage | SessionStopped


@dataclass
class Started:
    """What starting a session set: the desk's ticket, or the provider's id for it."""

    request_id: str | None = None
    external_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class HitlProvider(Protocol):
    name: str

    def create_user(self, tx: Tx, conversation: Conversation, now: datetime) -> None: ...

    def start_session(
        self,
        tx: Tx,
        session: HandoffSession,
        conversation: Conversation,
        history: Sequence[Message],
        now: datetime,
    ) -> Started: ...

    def stop_session(
        self, tx: Tx, session: HandoffSession, reason: EndReason, now: datetime, *, actor: str
    ) -> None: ...

    def send_message(
        self, tx: Tx, session: HandoffSession, message: Message, now: datetime
    ) -> None: ...

    def handle_webhook(
        self, body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any], now: datetime
    ) -> list[ProviderEvent]: ...


class OutboxProvider:
    """The base of providers that call out (``webhook``, ``zendesk``): their calls join the
    session's transaction in the ``provider_calls`` outbox, and ``wake`` (the provider
    dispatcher's) is told after the commit."""

    name: str

    def __init__(self, wake: Any = None) -> None:
        self.wake = wake

    def _queue(
        self, tx: Tx, session: HandoffSession, op: str, payload: dict[str, Any], now: datetime
    ) -> None:
        calls.add(tx.conn, session.id, self.name, op, payload, now)
        if self.wake is not None:
            tx.after_commit(self.wake)
