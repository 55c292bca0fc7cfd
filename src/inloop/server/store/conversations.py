"""SQL for conversations, messages, their event log, handoff sessions and settings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.conversations import (
    Audience,
    Conversation,
    ConversationEvent,
    Message,
    MessageStatus,
)
from inloop.domain.handoffs import OPEN_SESSION, HandoffSession, SessionStatus
from inloop.server.store.schema import (
    conversation_events,
    conversations,
    handoff_sessions,
    handoff_settings,
    messages,
)

_CONVERSATION = [c for c in conversations.c if c.name != "token_hash"]
_by_id = select(*_CONVERSATION).where(conversations.c.id == bindparam("_id"))
_by_id_locked = _by_id.with_for_update()
_insert_message = insert(messages).returning(*messages.c)
_insert_event = insert(conversation_events).returning(conversation_events.c.id)
_session_if_status = (
    update(handoff_sessions)
    .where(
        handoff_sessions.c.id == bindparam("_id"),
        handoff_sessions.c.status.in_(bindparam("_allowed", expanding=True)),
    )
    .returning(*handoff_sessions.c)
)


# conversations


def insert_conversation(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert; False if a conversation with this id exists."""
    try:
        with conn.begin_nested():
            conn.execute(insert(conversations), row)
    except IntegrityError:
        return False
    return True


def get_conversation(
    conn: Connection, conversation_id: str, *, lock: bool = False
) -> Conversation | None:
    """The conversation; with ``lock``, its row is locked: every write to one conversation
    takes this lock first, so they happen one after another."""
    row = conn.execute(_by_id_locked if lock else _by_id, {"_id": conversation_id}).first()
    return Conversation.model_validate(row._mapping) if row else None


def token_hash(conn: Connection, conversation_id: str) -> str | None:
    value: str | None = conn.execute(
        select(conversations.c.token_hash).where(conversations.c.id == conversation_id)
    ).scalar()
    return value


def update_conversation(conn: Connection, conversation_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(values))


def list_conversations(
    conn: Connection, *, created_by: str | None, user_id: str | None, limit: int
) -> list[Conversation]:
    query = select(*_CONVERSATION).order_by(conversations.c.created_at.desc()).limit(limit)
    if created_by is not None:
        query = query.where(conversations.c.created_by == created_by)
    if user_id is not None:
        query = query.where(conversations.c.user_id == user_id)
    return [Conversation.model_validate(r._mapping) for r in conn.execute(query)]


# messages


def insert_message(conn: Connection, row: dict[str, Any]) -> Message | None:
    """Insert; None when this conversation has a message with the same external id."""
    if row.get("external_id") is None:
        return Message.model_validate(conn.execute(_insert_message, row).one()._mapping)
    try:
        with conn.begin_nested():
            found = conn.execute(_insert_message, row).one()
    except IntegrityError:
        return None
    return Message.model_validate(found._mapping)


def by_external_id(conn: Connection, conversation_id: str, external_id: str) -> Message | None:
    row = conn.execute(
        select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.external_id == external_id
        )
    ).first()
    return Message.model_validate(row._mapping) if row else None


def get_message(conn: Connection, message_id: int) -> Message | None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
    return Message.model_validate(row._mapping) if row else None


def message_of_request(conn: Connection, request_id: str) -> Message | None:
    row = conn.execute(select(messages).where(messages.c.request_id == request_id)).first()
    return Message.model_validate(row._mapping) if row else None


def list_messages(
    conn: Connection,
    conversation_id: str,
    *,
    after: int = 0,
    limit: int = 1000,
    customer_view: bool = False,
) -> list[Message]:
    """Messages in order. The customer's view leaves out what only humans see and what
    waits for approval."""
    query = select(messages).where(
        messages.c.conversation_id == conversation_id, messages.c.id > after
    )
    if customer_view:
        query = query.where(
            messages.c.audience == Audience.ALL, messages.c.status == MessageStatus.SENT
        )
    rows = conn.execute(query.order_by(messages.c.id).limit(limit))
    return [Message.model_validate(r._mapping) for r in rows]


def set_message(
    conn: Connection, message_id: int, values: dict[str, Any], *, if_status: MessageStatus
) -> Message | None:
    """Change a message still in ``if_status`` (approver mode decides once)."""
    row = conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.status == if_status)
        .values(values)
        .returning(*messages.c)
    ).first()
    return Message.model_validate(row._mapping) if row else None


# the agents' event log


def append_event(
    conn: Connection, conversation_id: str, type: str, data: dict[str, Any], now: datetime
) -> int:
    event_id: int = conn.execute(
        _insert_event,
        {"conversation_id": conversation_id, "type": type, "data": data, "created_at": now},
    ).scalar_one()
    return event_id


def list_events(
    conn: Connection,
    *,
    after: int,
    conversation_id: str | None,
    created_by: str | None,
    limit: int,
) -> list[ConversationEvent]:
    query = select(conversation_events).where(conversation_events.c.id > after)
    if conversation_id is not None:
        query = query.where(conversation_events.c.conversation_id == conversation_id)
    if created_by is not None:
        query = query.where(
            conversation_events.c.conversation_id.in_(
                select(conversations.c.id).where(conversations.c.created_by == created_by)
            )
        )
    rows = conn.execute(query.order_by(conversation_events.c.id).limit(limit))
    return [ConversationEvent.model_validate(r._mapping) for r in rows]


# handoff sessions


def insert_session(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert; False when the conversation has an open session already."""
    try:
        with conn.begin_nested():
            conn.execute(insert(handoff_sessions), row)
    except IntegrityError:
        return False
    return True


def _session(row: Any) -> HandoffSession | None:
    return HandoffSession.model_validate(row._mapping) if row else None


def get_session(conn: Connection, session_id: str) -> HandoffSession | None:
    return _session(
        conn.execute(select(handoff_sessions).where(handoff_sessions.c.id == session_id)).first()
    )


def open_session(conn: Connection, conversation_id: str) -> HandoffSession | None:
    return _session(
        conn.execute(
            select(handoff_sessions).where(
                handoff_sessions.c.conversation_id == conversation_id,
                handoff_sessions.c.status.in_(list(OPEN_SESSION)),
            )
        ).first()
    )


def last_session(conn: Connection, conversation_id: str) -> HandoffSession | None:
    return _session(
        conn.execute(
            select(handoff_sessions)
            .where(handoff_sessions.c.conversation_id == conversation_id)
            .order_by(handoff_sessions.c.created_at.desc(), handoff_sessions.c.id.desc())
            .limit(1)
        ).first()
    )


def session_of_request(conn: Connection, request_id: str) -> HandoffSession | None:
    return _session(
        conn.execute(
            select(handoff_sessions).where(handoff_sessions.c.request_id == request_id)
        ).first()
    )


def session_by_external(conn: Connection, provider: str, external_id: str) -> HandoffSession | None:
    return _session(
        conn.execute(
            select(handoff_sessions)
            .where(
                handoff_sessions.c.provider == provider,
                handoff_sessions.c.external_id == external_id,
            )
            .order_by(handoff_sessions.c.created_at.desc())
            .limit(1)
        ).first()
    )


def update_session_if_status(
    conn: Connection, session_id: str, allowed: Iterable[SessionStatus], values: dict[str, Any]
) -> HandoffSession | None:
    """Apply ``values`` only while the status is one of ``allowed``; None if it was not."""
    row = conn.execute(
        _session_if_status, {"_id": session_id, "_allowed": list(allowed), **values}
    ).first()
    return _session(row)


# settings


def get_settings(conn: Connection) -> dict[str, Any]:
    return {
        k: v["value"]
        for k, v in conn.execute(select(handoff_settings.c.key, handoff_settings.c.value))
    }


def set_settings(conn: Connection, values: dict[str, Any], unset: Iterable[str]) -> None:
    names = list(values) + list(unset)
    if names:
        conn.execute(delete(handoff_settings).where(handoff_settings.c.key.in_(names)))
    if values:
        # Wrapped, so that a null (a silenced message) is a stored value, not a missing one.
        conn.execute(
            insert(handoff_settings), [{"key": k, "value": {"value": v}} for k, v in values.items()]
        )
