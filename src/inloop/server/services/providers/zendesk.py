"""Zendesk Support as the ``hitl`` provider: the customer is a Zendesk end user, the
session a ticket, messages public comments (REST API v2, token authentication).

Out (in order per session, through the providers' outbox):

- ``POST /api/v2/users/create_or_update.json`` ``{"user": {"name", "email", "external_id",
  "role": "end-user"}}``: the requester, matched on ``external_id`` (the conversation's
  user id);
- ``POST /api/v2/tickets.json`` ``{"ticket": {"subject", "comment": {"body"},
  "requester_id", "external_id", "priority", "tags"}}``: the body holds the description
  and the whole transcript;
- ``PUT /api/v2/tickets/{id}.json`` ``{"ticket": {"comment": {"body", "author_id",
  "public": true}}}``: each customer message, as the requester;
- ``PUT /api/v2/tickets/{id}.json`` ``{"ticket": {"status": "solved", "comment": {"body",
  "public": false}}}`` when the session ends on Inloop's side.

In: a Zendesk webhook (signed: ``X-Zendesk-Webhook-Signature`` is base64 HMAC-SHA256 of
``X-Zendesk-Webhook-Signature-Timestamp`` + body with the webhook's signing secret),
called by triggers with a JSON body of Inloop's shape (docs/handoff.md):
``{"type": "ticketAssigned" | "newMessage" | "ticketSolved", "ticketId", "commentId",
"comment", "agent": {"id", "name"}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

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
from inloop.server.store import conversations as sql
from inloop.server.store.database import Tx
from inloop.server.store.provider_calls import ProviderCall

MAX_BODY = 60_000  # Zendesk takes up to 64 KB in a comment


def transcript_text(history: Sequence[Message]) -> str:
    lines = [
        f"[{m.created_at:%Y-%m-%d %H:%M}] {m.author_name or m.role.value}: {m.text}"
        for m in history
    ]
    return "\n".join(lines)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class ZendeskProvider(OutboxProvider):
    name = "zendesk"

    def create_user(self, tx: Tx, conversation: Conversation, now: datetime) -> None:
        """Made as the session's first call (start_session queues it with the session)."""

    def start_session(
        self,
        tx: Tx,
        session: HandoffSession,
        conversation: Conversation,
        history: Sequence[Message],
        now: datetime,
    ) -> Started:
        user: dict[str, Any] = {
            "name": conversation.user_name or conversation.user_id,
            "external_id": conversation.user_id,
            "role": "end-user",
        }
        email = session.user_email or conversation.user_email
        if email:
            user["email"] = email
        self._queue(tx, session, "create_user", {"user": user}, now)
        body = (
            (session.description or session.title)
            + "\n\nConversation so far:\n"
            + transcript_text(history)
        )
        ticket = {
            "subject": session.title[:150],
            "comment": {"body": body[:MAX_BODY]},
            "external_id": session.id,
            "priority": "normal",
            "tags": ["inloop"],
        }
        self._queue(tx, session, "create_ticket", {"ticket": ticket}, now)
        return Started()

    def stop_session(
        self, tx: Tx, session: HandoffSession, reason: EndReason, now: datetime, *, actor: str
    ) -> None:
        if actor.startswith(f"{self.name}:"):
            return  # solved in Zendesk already
        note = f"Inloop ended this conversation: {reason.value.replace('_', ' ')}."
        self._queue(
            tx,
            session,
            "solve",
            {"ticket": {"status": "solved", "comment": {"body": note, "public": False}}},
            now,
        )

    def send_message(
        self, tx: Tx, session: HandoffSession, message: Message, now: datetime
    ) -> None:
        self._queue(
            tx, session, "comment", {"message_id": message.id, "body": message.text[:MAX_BODY]}, now
        )

    async def perform(
        self,
        call: ProviderCall,
        session: HandoffSession,
        settings: Mapping[str, Any],
        http: httpx.AsyncClient,
        now: datetime,
    ) -> dict[str, Any]:
        base = (settings.get("zendesk_url") or "").rstrip("/")
        email, token = settings.get("zendesk_email"), settings.get("zendesk_api_token")
        if not (base and email and token):
            raise CallFailed(
                "the zendesk provider needs zendesk_url, zendesk_email and zendesk_api_token",
                final=True,
            )
        auth = httpx.BasicAuth(f"{email}/token", str(token))
        data = session.provider_data
        if call.op == "create_user":
            response = await http.post(
                f"{base}/api/v2/users/create_or_update.json", json=call.payload, auth=auth
            )
            check_response(response, "create the Zendesk user")
            return {"requester_id": response.json()["user"]["id"]}
        if call.op == "create_ticket":
            ticket = {**call.payload["ticket"], "requester_id": data.get("requester_id")}
            response = await http.post(
                f"{base}/api/v2/tickets.json", json={"ticket": ticket}, auth=auth
            )
            check_response(response, "create the Zendesk ticket")
            return {"ticket_id": response.json()["ticket"]["id"]}
        ticket_id = session.external_id
        if ticket_id is None:
            if call.op == "solve":
                return {}  # no ticket was made: nothing to close
            raise CallFailed(f"{call.op}: the session has no Zendesk ticket yet")
        url = f"{base}/api/v2/tickets/{ticket_id}.json"
        if call.op == "comment":
            comment = {
                "body": call.payload["body"],
                "author_id": data.get("requester_id"),
                "public": True,
            }
            response = await http.put(url, json={"ticket": {"comment": comment}}, auth=auth)
        else:
            response = await http.put(url, json=call.payload, auth=auth)
        check_response(response, f"{call.op} on Zendesk ticket {ticket_id}")
        return {}

    def apply_result(
        self,
        tx: Tx,
        session: HandoffSession,
        call: ProviderCall,
        result: dict[str, Any],
        now: datetime,
    ) -> None:
        if "requester_id" in result:
            data = {**session.provider_data, "requester_id": result["requester_id"]}
            sql.update_session_if_status(
                tx.conn, session.id, [session.status], {"provider_data": data}
            )
        elif "ticket_id" in result:
            sql.update_session_if_status(
                tx.conn, session.id, [session.status], {"external_id": str(result["ticket_id"])}
            )

    def handle_webhook(
        self, body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any], now: datetime
    ) -> list[ProviderEvent]:
        secret = settings.get("zendesk_webhook_secret")
        if not secret:
            raise AuthenticationError(
                "the zendesk provider has no zendesk_webhook_secret set",
                field="X-Zendesk-Webhook-Signature",
            )
        lower = {k.lower(): v for k, v in headers.items()}
        stamp = lower.get("x-zendesk-webhook-signature-timestamp", "")
        given = lower.get("x-zendesk-webhook-signature", "")
        if (
            not stamp
            or not given
            or not hmac.compare_digest(given.encode(), signature(str(secret), stamp, body).encode())
        ):
            raise AuthenticationError(
                "the Zendesk webhook signature does not match the body",
                field="X-Zendesk-Webhook-Signature",
            )
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise AuthenticationError(
                "the signature timestamp is not a time",
                field="X-Zendesk-Webhook-Signature-Timestamp",
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if abs((now - when).total_seconds()) > 300:
            raise AuthenticationError(
                "the Zendesk webhook is more than 5 minutes old",
                field="X-Zendesk-Webhook-Signature-Timestamp",
            )
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidError(
                "the body is not valid JSON", field="body", code="malformed_json"
            ) from None
        if not isinstance(event, dict) or not str(event.get("ticketId") or ""):
            raise InvalidError("ticketId is required", field="ticketId")
        ticket = str(event["ticketId"])
        found = event.get("agent")
        agent: dict[str, Any] = found if isinstance(found, dict) else {}
        agent_id = str(agent.get("id") or "") or None
        agent_name = agent.get("name") if isinstance(agent.get("name"), str) else None
        kind = event.get("type")
        if kind == "ticketAssigned":
            return [AgentAssigned(ticket, agent_id or "agent", agent_name)]
        if kind == "ticketSolved":
            return [SessionStopped(ticket)]
        if kind == "newMessage":
            text = event.get("comment")
            if not isinstance(text, str) or not text.strip():
                raise InvalidError("comment is required for newMessage", field="comment")
            message_id = str(
                event.get("commentId")
                or lower.get("x-zendesk-webhook-invocation-id")
                or hashlib.sha256(body).hexdigest()[:32]
            )
            return [
                AgentMessage(
                    ticket, message_id, NewMessage(role=Role.HUMAN, text=text), agent_id, agent_name
                )
            ]
        raise InvalidError(
            f"unknown type {kind!r}: ticketAssigned, newMessage or ticketSolved", field="type"
        )
