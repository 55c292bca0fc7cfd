"""Conversations and live handoff over HTTP: ``client.start_hitl`` / ``client.stop_hitl``
and ``client.conversations`` (open, send, read, consult, the event log), sync and async.

``start_hitl`` takes seed 000's inputs in snake_case; ``configuration_overrides`` takes
Botpress's eleven keys, where ``inloop.NULL`` silences a message (None means "not given").
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from enum import Enum
from typing import Any, Final, TypedDict, TypeVar

import httpx

from inloop.client._calls import Call, json_body, one, query, read, segment
from inloop.domain.conversations import Conversation, ConversationEvent, Message
from inloop.domain.handoffs import HandoffSession
from inloop.errors import UsageError
from inloop.models import Request

T = TypeVar("T")


class Null(Enum):
    """The type of ``NULL``: a configuration value that silences its message."""

    NULL = "NULL"

    def __repr__(self) -> str:
        return "NULL"


NULL: Final = Null.NULL


class ConfigurationOverrides(TypedDict, total=False):
    """Per-handoff overrides of the HITL keys (see docs/handoff.md for each one's meaning)."""

    on_hitl_handoff_message: str | Null
    on_human_agent_assigned_message: str | Null
    on_hitl_stopped_message: str | Null
    on_user_hitl_cancelled_message: str | Null
    on_incompatible_msg_type_message: str | Null
    on_user_hitl_close_message: str | Null
    on_agent_assigned_timeout_message: str | Null
    user_hitl_close_command: str
    agent_assigned_timeout_seconds: int
    use_human_agent_info: bool
    flow_on_hitl_stopped: bool


def overrides_body(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides as JSON: NULL becomes null, None (not given) is left out."""
    body: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is NULL:
            body[key] = None
        elif value is not None:
            body[key] = value
    return body


def _list(model: type[Any]) -> Callable[[httpx.Response], list[Any]]:
    return lambda response: [read(model, item) for item in response.json()["items"]]


def _maybe_session(response: httpx.Response) -> HandoffSession | None:
    body = response.json()
    return None if body is None else read(HandoffSession, body)


def start_hitl_call(conversation_id: str, fields: dict[str, Any]) -> Call[HandoffSession]:
    body = json_body({k: v for k, v in fields.items() if k != "configuration_overrides"})
    body["configuration_overrides"] = overrides_body(fields.get("configuration_overrides"))
    path = f"/v1/conversations/{segment(conversation_id)}/handoff"
    return Call("POST", path, one(HandoffSession), body=body)


def stop_hitl_call(conversation_id: str, reason: str | None) -> Call[HandoffSession]:
    path = f"/v1/conversations/{segment(conversation_id)}/handoff/stop"
    return Call("POST", path, one(HandoffSession), body=json_body({"reason": reason}))


def create_call(fields: Mapping[str, Any]) -> Call[Conversation]:
    return Call("POST", "/v1/conversations", one(Conversation), body=json_body(fields))


def get_call(conversation_id: str) -> Call[Conversation]:
    return Call("GET", f"/v1/conversations/{segment(conversation_id)}", one(Conversation))


def update_call(conversation_id: str, fields: Mapping[str, Any]) -> Call[Conversation]:
    path = f"/v1/conversations/{segment(conversation_id)}"
    return Call("PATCH", path, one(Conversation), body=json_body(fields))


def send_call(conversation_id: str, fields: Mapping[str, Any]) -> Call[Message]:
    if sum(fields.get(k) is not None for k in ("text", "url", "items")) == 0:
        raise UsageError("send a text, an image or file url, or items (a bloc)")
    path = f"/v1/conversations/{segment(conversation_id)}/messages"
    return Call("POST", path, one(Message), body=json_body(fields))


def messages_call(conversation_id: str, after: int) -> Call[list[Message]]:
    path = f"/v1/conversations/{segment(conversation_id)}/messages"
    return Call("GET", path, _list(Message), params={"after": after})


def handoff_call(conversation_id: str) -> Call[HandoffSession | None]:
    path = f"/v1/conversations/{segment(conversation_id)}/handoff"
    return Call("GET", path, _maybe_session)


def consult_call(conversation_id: str, fields: Mapping[str, Any]) -> Call[Request]:
    path = f"/v1/conversations/{segment(conversation_id)}/consults"
    return Call("POST", path, one(Request), body=json_body(fields))


def events_call(
    after: int, conversation_id: str | None, wait: float
) -> Call[list[ConversationEvent]]:
    params = query({"after": after, "conversation_id": conversation_id, "wait": wait})
    return Call(
        "GET", "/v1/conversation-events", _list(ConversationEvent), params=params, holds_for=wait
    )


def _message_fields(
    text: str | None,
    type: str | None,
    url: str | None,
    name: str | None,
    items: Sequence[Mapping[str, Any]] | None,
    role: str,
    external_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    kind = type or ("bloc" if items else "text")
    return {
        "role": role, "type": kind, "text": text, "url": url, "name": name, "items": items,
        "external_id": external_id, "metadata": metadata,
    }  # fmt: skip


class Conversations:
    """``client.conversations`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def create(
        self,
        user_id: str,
        *,
        id: str | None = None,
        user_name: str | None = None,
        user_email: str | None = None,
        customer: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        accepts: Sequence[str] | None = None,
        approver_mode: bool | None = None,
        approver_auto_accept_seconds: int | None = None,
        run_id: str | None = None,
    ) -> Conversation:
        """Open a conversation; ``.chat_url`` is the customer's chat page (shown once)."""
        fields = {k: v for k, v in locals().items() if k != "self"}
        result: Conversation = self._send(create_call(fields))
        return result

    def get(self, id: str) -> Conversation:
        result: Conversation = self._send(get_call(id))
        return result

    def update(self, id: str, **fields: Any) -> Conversation:
        result: Conversation = self._send(update_call(id, fields))
        return result

    def send(
        self,
        conversation_id: str,
        text: str | None = None,
        *,
        type: str | None = None,
        url: str | None = None,
        name: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        role: str = "agent",
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Message:
        """The AI's message (or, ``role="user"``, a customer's, relayed from your channel).
        Raises ConflictError (code ``ai_muted``) while a human has the conversation."""
        fields = _message_fields(text, type, url, name, items, role, external_id, metadata)
        result: Message = self._send(send_call(conversation_id, fields))
        return result

    def messages(self, conversation_id: str, *, after: int = 0) -> builtins.list[Message]:
        """The whole transcript, in order."""
        result: builtins.list[Message] = self._send(messages_call(conversation_id, after))
        return result

    def handoff(self, conversation_id: str) -> HandoffSession | None:
        """The latest handoff session (open or ended), or None."""
        result: HandoffSession | None = self._send(handoff_call(conversation_id))
        return result

    def consult(
        self,
        conversation_id: str,
        prompt: str,
        *,
        options: Sequence[str] | None = None,
        title: str | None = None,
        context: Mapping[str, Any] | None = None,
        priority: str | None = None,
        assignee: str | None = None,
    ) -> Request:
        """Ask a HILA (the customer sees nothing); wait with ``client.wait(request.id)``."""
        fields = {k: v for k, v in locals().items() if k not in ("self", "conversation_id")}
        result: Request = self._send(consult_call(conversation_id, fields))
        return result

    def events(
        self, *, after: int = 0, conversation_id: str | None = None, wait: float = 0
    ) -> builtins.list[ConversationEvent]:
        """One page of the event log after the ``after`` cursor (a long-poll with ``wait``)."""
        result: builtins.list[ConversationEvent] = self._send(
            events_call(after, conversation_id, wait)
        )
        return result

    def listen(
        self, *, after: int = 0, conversation_id: str | None = None, poll: float = 30
    ) -> Iterator[ConversationEvent]:
        """Every event from the ``after`` cursor on, as they come (keep ``event.id``)."""
        while True:
            for event in self.events(after=after, conversation_id=conversation_id, wait=poll):
                after = event.id
                yield event


class AsyncConversations:
    """``client.conversations`` of an ``AsyncClient``; see ``Conversations``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def create(
        self,
        user_id: str,
        *,
        id: str | None = None,
        user_name: str | None = None,
        user_email: str | None = None,
        customer: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        accepts: Sequence[str] | None = None,
        approver_mode: bool | None = None,
        approver_auto_accept_seconds: int | None = None,
        run_id: str | None = None,
    ) -> Conversation:
        fields = {k: v for k, v in locals().items() if k != "self"}
        result: Conversation = await self._send(create_call(fields))
        return result

    async def get(self, id: str) -> Conversation:
        result: Conversation = await self._send(get_call(id))
        return result

    async def update(self, id: str, **fields: Any) -> Conversation:
        result: Conversation = await self._send(update_call(id, fields))
        return result

    async def send(
        self,
        conversation_id: str,
        text: str | None = None,
        *,
        type: str | None = None,
        url: str | None = None,
        name: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        role: str = "agent",
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Message:
        fields = _message_fields(text, type, url, name, items, role, external_id, metadata)
        result: Message = await self._send(send_call(conversation_id, fields))
        return result

    async def messages(self, conversation_id: str, *, after: int = 0) -> builtins.list[Message]:
        result: builtins.list[Message] = await self._send(messages_call(conversation_id, after))
        return result

    async def handoff(self, conversation_id: str) -> HandoffSession | None:
        result: HandoffSession | None = await self._send(handoff_call(conversation_id))
        return result

    async def consult(
        self,
        conversation_id: str,
        prompt: str,
        *,
        options: Sequence[str] | None = None,
        title: str | None = None,
        context: Mapping[str, Any] | None = None,
        priority: str | None = None,
        assignee: str | None = None,
    ) -> Request:
        fields = {k: v for k, v in locals().items() if k not in ("self", "conversation_id")}
        result: Request = await self._send(consult_call(conversation_id, fields))
        return result

    async def events(
        self, *, after: int = 0, conversation_id: str | None = None, wait: float = 0
    ) -> builtins.list[ConversationEvent]:
        result: builtins.list[ConversationEvent] = await self._send(
            events_call(after, conversation_id, wait)
        )
        return result

    async def listen(
        self, *, after: int = 0, conversation_id: str | None = None, poll: float = 30
    ) -> AsyncIterator[ConversationEvent]:
        while True:
            for event in await self.events(after=after, conversation_id=conversation_id, wait=poll):
                after = event.id
                yield event


class SyncHandoff:
    """``start_hitl`` and ``stop_hitl`` of the blocking ``Client``."""

    _send: Callable[[Call[Any]], Any]

    def start_hitl(
        self,
        *,
        title: str,
        conversation_id: str,
        user_id: str,
        description: str | None = None,
        user_email: str | None = None,
        configuration_overrides: ConfigurationOverrides | None = None,
    ) -> HandoffSession:
        """Hand the conversation to a human agent (seed 000's ``startHitl``). While the
        session is open the server refuses the AI's messages. Raises ConflictError (code
        ``handoff_active``) if one is open already."""
        fields = {k: v for k, v in locals().items() if k not in ("self", "conversation_id")}
        result: HandoffSession = self._send(start_hitl_call(conversation_id, fields))
        return result

    def stop_hitl(self, *, conversation_id: str, reason: str | None = None) -> HandoffSession:
        """End the open session (end reason ``stop_called``); the AI speaks again."""
        result: HandoffSession = self._send(stop_hitl_call(conversation_id, reason))
        return result


class AsyncHandoff:
    """``start_hitl`` and ``stop_hitl`` of the ``AsyncClient``."""

    _send: Callable[[Call[Any]], Awaitable[Any]]

    async def start_hitl(
        self,
        *,
        title: str,
        conversation_id: str,
        user_id: str,
        description: str | None = None,
        user_email: str | None = None,
        configuration_overrides: ConfigurationOverrides | None = None,
    ) -> HandoffSession:
        fields = {k: v for k, v in locals().items() if k not in ("self", "conversation_id")}
        result: HandoffSession = await self._send(start_hitl_call(conversation_id, fields))
        return result

    async def stop_hitl(self, *, conversation_id: str, reason: str | None = None) -> HandoffSession:
        result: HandoffSession = await self._send(stop_hitl_call(conversation_id, reason))
        return result


__all__ = [
    "NULL",
    "AsyncConversations",
    "AsyncHandoff",
    "ConfigurationOverrides",
    "Conversations",
    "Null",
    "SyncHandoff",
    "T",
]
