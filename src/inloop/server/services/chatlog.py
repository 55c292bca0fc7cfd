"""Writing to a conversation inside a transaction: messages, the agents' event log, and
the wake-ups of whoever watches it (the chat page, the desk, agents' long-polls).

The database is the truth; wake-ups only say "look again". In this process they are
futures resolved after the commit; other replicas hear a NOTIFY on PostgreSQL (sent in
the transaction, so delivered at its commit) through ``PgRelay``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from inloop.domain.conversations import (
    Audience,
    Conversation,
    ConversationEventType,
    Message,
    MessageStatus,
    Part,
    Role,
)
from inloop.server.store import conversations as sql
from inloop.server.store.database import NOTIFY_CHANNEL, Database, Tx

ANY = "*"


class ConversationHub:
    """Futures resolved when a conversation changes (or, for ``*``, any conversation)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def changed(self, conversation_ids: Iterable[str]) -> None:
        for key in {*conversation_ids, ANY}:
            for future in self._waiters.pop(key, ()):
                if not future.done():
                    future.set_result(None)

    @contextmanager
    def waiter(self, conversation_id: str | None) -> Iterator[asyncio.Future[None]]:
        key = conversation_id or ANY
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, set()).add(future)
        try:
            yield future
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[key]


class ChatLog:
    """The one way messages and conversation events are written."""

    def __init__(self, db: Database, hub: ConversationHub) -> None:
        self.db = db
        self.hub = hub
        self._touched: weakref.WeakKeyDictionary[Tx, set[str]] = weakref.WeakKeyDictionary()

    def touched(self, tx: Tx, conversation_id: str) -> None:
        """Wake the watchers of this conversation once the transaction commits."""
        touched = self._touched.setdefault(tx, set())
        if conversation_id in touched:
            return
        touched.add(conversation_id)
        tx.after_commit(lambda: self.hub.changed([conversation_id]))
        if self.db.dialect == "postgresql":
            payload = orjson.dumps({"origin": self.db.origin, "conversations": [conversation_id]})
            tx.conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload.decode())))

    def message(
        self,
        tx: Tx,
        conversation: Conversation,
        role: Role,
        part: Part | dict[str, Any] | str,
        now: datetime,
        *,
        author: str | None = None,
        author_name: str | None = None,
        audience: Audience = Audience.ALL,
        status: MessageStatus = MessageStatus.SENT,
        external_id: str | None = None,
        session_id: str | None = None,
        request_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Message | None:
        """Store a message; None if its external id was stored before (see ``replayed``)."""
        if isinstance(part, str):
            part = Part(text=part)
        elif isinstance(part, dict):
            part = Part.model_validate(part)
        row = {
            "conversation_id": conversation.id,
            "role": role,
            "author": author,
            "author_name": author_name,
            "type": part.type,
            "content": part.model_dump(exclude_none=True),
            "audience": audience,
            "status": status,
            "external_id": external_id,
            "session_id": session_id,
            "request_id": request_id,
            "metadata": metadata or {},
            "created_at": now,
        }
        stored = sql.insert_message(tx.conn, row)
        if stored is not None:
            self.touched(tx, conversation.id)
        return stored

    def system(
        self,
        tx: Tx,
        conversation: Conversation,
        text: str | None,
        now: datetime,
        *,
        audience: Audience = Audience.ALL,
        session_id: str | None = None,
    ) -> Message | None:
        """A message Inloop sends on the AI's behalf (handoff notices); None if silenced."""
        if text is None or not text.strip():
            return None
        return self.message(
            tx,
            conversation,
            Role.SYSTEM,
            text,
            now,
            author="system",
            audience=audience,
            session_id=session_id,
        )

    def event(
        self,
        tx: Tx,
        conversation_id: str,
        type: ConversationEventType,
        data: dict[str, Any],
        now: datetime,
    ) -> int:
        event_id = sql.append_event(tx.conn, conversation_id, type, data, now)
        self.touched(tx, conversation_id)
        return event_id
