"""Bring your own desk: the ``webhook`` provider, signed HTTP both ways (Standard Webhooks).

Out: Inloop POSTs ``{"type", "timestamp", "data"}`` to ``webhook_url`` with the headers
``webhook-id`` (stable across retries: dedupe on it), ``webhook-timestamp`` and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` with
``webhook_secret``). Types: ``user.created``, ``session.started`` (with the whole
history), ``message.created``, ``session.stopped``.

In: your desk POSTs the same shape, signed with the same secret, to
``/v1/handoff/providers/webhook/events``: ``agent.assigned`` (``session_id``,
``agent: {id, name}``), ``agent.message`` (``session_id``, ``message_id``, ``message``
as Inloop takes it, ``agent``), ``session.stopped`` (``session_id``). A bad signature or
a timestamp more than 5 minutes off is refused (401) and changes nothing; a redelivery is
harmless (a message is stored once per ``message_id``, else per ``webhook-id``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import ValidationError
from standardwebhooks import Webhook

from inloop.domain.conversations import Conversation, Message, NewMessage, Role
from inloop.domain.errors import AuthenticationError, InvalidError
from inloop.domain.handoffs import EndReason, HandoffSession
from inloop.server.services.provider_calls import CallFailed, check_response
from inloop.server.services.providers import (
    AgentAssigned,
    AgentMessage,
    OutboxProvider,
    ProviderEvent,
    SessionStopped,
    Started,
)
from inloop.server.store.database import Tx
from inloop.server.store.provider_calls import ProviderCall


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role.value,
        "author_name": message.author_name,
        "type": message.type.value,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
    }


class WebhookProvider(OutboxProvider):
    name = "webhook"

    def _add(
        self, tx: Tx, session: HandoffSession, type: str, data: dict[str, Any], now: datetime
    ) -> None:
        self._queue(tx, session, "event", {"type": type, "data": data}, now)

    def create_user(self, tx: Tx, conversation: Conversation, now: datetime) -> None:
        """Sent with the session (``session.started`` carries the user)."""

    def start_session(
        self,
        tx: Tx,
        session: HandoffSession,
        conversation: Conversation,
        history: Sequence[Message],
        now: datetime,
    ) -> Started:
        user = {
            "id": conversation.user_id,
            "name": conversation.user_name,
            "email": session.user_email or conversation.user_email,
            "details": conversation.customer,
        }
        self._add(tx, session, "user.created", {"session_id": session.id, "user": user}, now)
        self._add(
            tx,
            session,
            "session.started",
            {
                "session_id": session.id,
                "conversation_id": conversation.id,
                "title": session.title,
                "description": session.description,
                "user": user,
                "history": [message_json(m) for m in history],
            },
            now,
        )
        return Started(external_id=session.id)

    def stop_session(
        self, tx: Tx, session: HandoffSession, reason: EndReason, now: datetime, *, actor: str
    ) -> None:
        if actor.startswith(f"{self.name}:"):
            return  # the desk itself closed it
        self._add(
            tx, session, "session.stopped", {"session_id": session.id, "reason": reason.value}, now
        )

    def send_message(
        self, tx: Tx, session: HandoffSession, message: Message, now: datetime
    ) -> None:
        self._add(
            tx,
            session,
            "message.created",
            {"session_id": session.id, "message": message_json(message)},
            now,
        )

    async def perform(
        self,
        call: ProviderCall,
        session: HandoffSession,
        settings: Mapping[str, Any],
        http: httpx.AsyncClient,
        now: datetime,
    ) -> dict[str, Any]:
        url, secret = settings.get("webhook_url"), settings.get("webhook_secret")
        if not url or not secret:
            raise CallFailed(
                "the webhook provider needs webhook_url and webhook_secret", final=True
            )
        body = orjson.dumps({**call.payload, "timestamp": now.isoformat()})
        msg_id = f"hs_call_{call.id}"
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        }
        response = await http.post(url, content=body, headers=headers)
        check_response(response, f"POST {url}")
        return {}

    def apply_result(
        self,
        tx: Tx,
        session: HandoffSession,
        call: ProviderCall,
        result: dict[str, Any],
        now: datetime,
    ) -> None:
        """Nothing comes back that the session keeps."""

    def handle_webhook(
        self, body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any], now: datetime
    ) -> list[ProviderEvent]:
        secret = settings.get("webhook_secret")
        if not secret:
            raise AuthenticationError(
                "the webhook provider has no webhook_secret set", field="webhook-signature"
            )
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            stamp = datetime.fromtimestamp(int(lower.get("webhook-timestamp", "")), UTC)
        except (ValueError, OverflowError, OSError):
            raise AuthenticationError(
                "webhook-timestamp is missing or not a Unix time", field="webhook-timestamp"
            ) from None
        if abs((now - stamp).total_seconds()) > 300:
            raise AuthenticationError(
                "webhook-timestamp is more than 5 minutes off", field="webhook-timestamp"
            )
        try:
            # The library checks the signature; the time window is checked above against the
            # server's clock (the library's own uses the machine's).
            expected = Webhook(secret).sign(lower.get("webhook-id", ""), stamp, body.decode())
        except (UnicodeDecodeError, ValueError) as exc:
            raise AuthenticationError(
                f"the body cannot be verified: {exc}", field="webhook-signature"
            ) from None
        given = lower.get("webhook-signature", "").split()
        if not lower.get("webhook-id") or not any(
            hmac.compare_digest(g.encode(), expected.encode()) for g in given
        ):
            raise AuthenticationError(
                "the webhook-signature does not match the body", field="webhook-signature"
            )
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidError(
                "the body is not valid JSON", field="body", code="malformed_json"
            ) from None
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            raise InvalidError('send {"type": ..., "data": {...}}', field="data")
        return [_event(str(event.get("type")), event["data"], lower["webhook-id"])]


def _event(type: str, data: dict[str, Any], msg_id: str) -> ProviderEvent:
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidError("data.session_id is required", field="data.session_id")
    found = data.get("agent")
    agent: dict[str, Any] = found if isinstance(found, dict) else {}
    agent_id = str(agent.get("id") or "") or None
    agent_name = agent.get("name") if isinstance(agent.get("name"), str) else None
    if type == "agent.assigned":
        if agent_id is None:
            raise InvalidError("data.agent.id is required", field="data.agent.id")
        return AgentAssigned(session_id, agent_id, agent_name)
    if type == "agent.message":
        raw = data.get("message")
        if not isinstance(raw, dict):
            raise InvalidError("data.message is required", field="data.message")
        try:
            message = NewMessage.model_validate({**raw, "role": Role.HUMAN.value})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = "data.message." + ".".join(str(p) for p in error["loc"])
            raise InvalidError(f"{field}: {error['msg']}", field=field) from None
        return AgentMessage(
            session_id, str(data.get("message_id") or msg_id), message, agent_id, agent_name
        )
    if type == "session.stopped":
        return SessionStopped(session_id)
    raise InvalidError(
        f"unknown event type {type!r}: agent.assigned, agent.message or session.stopped",
        field="type",
    )
