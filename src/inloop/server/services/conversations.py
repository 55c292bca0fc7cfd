"""Conversations: opening them, their messages both ways, the customer's chat token, and
the agents' event log (long-poll and stream).

Who may speak is decided here, by the server: while a handoff session is open the AI
agent's messages are refused (409 ``ai_muted``); in approver mode they wait for a human
to approve or edit them (``ConsultService``). Every write to a conversation locks its row
first, so a message and a handoff starting at the same time are ordered, not interleaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from typing import Any

from inloop.domain.conversations import (
    Conversation,
    ConversationEvent,
    ConversationEventType,
    ConversationUpdate,
    Message,
    NewConversation,
    NewMessage,
    Role,
    is_command,
)
from inloop.domain.enums import Scope
from inloop.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from inloop.domain.handoffs import HandoffSession
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.server.services.chatlog import ChatLog, ConversationHub
from inloop.server.services.clock import Clock
from inloop.server.services.handoffs import HandoffService
from inloop.server.store import conversations as sql
from inloop.server.store.database import Database, Tx

RECHECK_SECONDS = 2.0  # a change on another replica (SQLite has no NOTIFY) is seen this late
MAX_WAIT = 600.0


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConversationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hub: ConversationHub,
        log: ChatLog,
        handoffs: HandoffService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub
        self.log = log
        self.handoffs = handoffs
        #: Set by ConsultService: takes an AI message in approver mode, returns it pending.
        self.approver: Any = None

    # conversations

    async def create(self, principal: Principal, new: NewConversation) -> tuple[Conversation, bool]:
        """Open a conversation; the chat URL (with a fresh token) is in the answer. With an
        id the caller made before, the same conversation comes back (False: not created)."""
        principal.require(Scope.AGENT)
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        row: dict[str, Any] = {
            "id": new.id or new_id("conv", now),
            "user_id": new.user_id,
            "user_name": new.user_name,
            "user_email": new.user_email,
            "customer": new.customer,
            "metadata": new.metadata,
            "accepts": sorted({t.value for t in new.accepts}),
            "approver_mode": new.approver_mode,
            "approver_auto_accept_seconds": new.approver_auto_accept_seconds,
            "run_id": new.run_id,
            "token_hash": token_digest(token),
            "created_by": principal.actor,
            "created_at": now,
            "updated_at": now,
        }

        def insert(tx: Tx) -> tuple[Conversation, bool]:
            if sql.insert_conversation(tx.conn, row):
                found = sql.get_conversation(tx.conn, row["id"])
                assert found is not None
                return found.model_copy(update={"chat_url": chat_url(found.id, token)}), True
            existing = sql.get_conversation(tx.conn, row["id"])
            assert existing is not None
            if existing.created_by != principal.actor:
                raise ConflictError(
                    f"conversation id {row['id']!r} is taken by another agent",
                    field="id",
                    code="conversation_exists",
                )
            return existing, False

        return await self.db.write(insert)

    async def get(self, principal: Principal, conversation_id: str) -> Conversation:
        def read(conn: Any) -> Conversation:
            conversation = _existing(sql.get_conversation(conn, conversation_id), conversation_id)
            self.handoffs.check_sees(conn, principal, conversation)
            return conversation

        return await self.db.read(read)

    async def list_conversations(
        self, principal: Principal, *, user_id: str | None, limit: int
    ) -> list[Conversation]:
        principal.require(Scope.AGENT)
        created_by = None if principal.is_admin else principal.actor
        return await self.db.read(
            lambda conn: sql.list_conversations(
                conn, created_by=created_by, user_id=user_id, limit=limit
            )
        )

    async def update(
        self, principal: Principal, conversation_id: str, update: ConversationUpdate
    ) -> Conversation:
        principal.require(Scope.AGENT)
        values = update.model_dump(exclude_unset=True)
        now = self.clock.now()

        def apply(tx: Tx) -> Conversation:
            self.handoffs.agents_conversation(tx, principal, conversation_id)
            sql.update_conversation(tx.conn, conversation_id, {**values, "updated_at": now})
            self.log.touched(tx, conversation_id)
            found = sql.get_conversation(tx.conn, conversation_id)
            assert found is not None
            return found

        return await self.db.write(apply)

    async def new_token(self, principal: Principal, conversation_id: str) -> Conversation:
        """A new chat link for the customer; the old one stops working."""
        principal.require(Scope.AGENT)
        token = secrets.token_urlsafe(32)

        def apply(tx: Tx) -> Conversation:
            conversation = self.handoffs.agents_conversation(tx, principal, conversation_id)
            sql.update_conversation(tx.conn, conversation_id, {"token_hash": token_digest(token)})
            return conversation.model_copy(update={"chat_url": chat_url(conversation.id, token)})

        return await self.db.write(apply)

    async def customer(self, conversation_id: str, token: str | None) -> Conversation:
        """The conversation the chat page's token opens; any mismatch reads as not found."""
        stored = await self.db.read(sql.token_hash, conversation_id) if token else None
        if not token or stored is None or not hmac.compare_digest(stored, token_digest(token)):
            raise AuthenticationError(
                "this chat link is not valid (or was replaced): ask for a new one", field="token"
            )
        found = await self.db.read(sql.get_conversation, conversation_id)
        return _existing(found, conversation_id)

    # messages

    async def post(
        self, principal: Principal, conversation_id: str, new: NewMessage
    ) -> tuple[Message, bool]:
        """An agent writes: the AI's own message (``role: agent``), or a customer's message
        it relays from its channel (``role: user``). The boolean: newly stored."""
        principal.require(Scope.AGENT)
        if new.role not in (Role.AGENT, Role.USER):
            raise InvalidError(
                "an agent sends role agent (its own messages) or user (a customer's, relayed); "
                "human agents write from the desk or their helpdesk",
                field="role",
                code="invalid_message",
            )
        now = self.clock.now()

        def write(tx: Tx) -> tuple[Message, bool]:
            conversation = self.handoffs.agents_conversation(tx, principal, conversation_id)
            if new.external_id is not None:
                known = sql.by_external_id(tx.conn, conversation.id, new.external_id)
                if known is not None:
                    return known, False
            if new.role == Role.USER:
                return self.from_customer(tx, conversation, new, now, author=principal.actor), True
            session = sql.open_session(tx.conn, conversation.id)
            if session is not None:
                raise ConflictError(
                    f"conversation {conversation.id} is handed off to a human (session "
                    f"{session.id}, {session.status.value}): the AI agent's messages are refused "
                    "until the session ends",
                    field="conversation_id",
                    code="ai_muted",
                )
            wrong = new.types() - set(conversation.accepts)
            if wrong:
                raise InvalidError(
                    f"the customer's channel cannot show {', '.join(sorted(wrong))} messages "
                    f"(it accepts {', '.join(conversation.accepts)})",
                    field="type",
                    code="incompatible_message_type",
                )
            if self.approver is not None and self.approver.applies(tx, conversation):
                return self.approver.hold(tx, conversation, new, now, author=principal.actor), True
            stored = self.log.message(
                tx,
                conversation,
                Role.AGENT,
                new.content(),
                now,
                author=principal.actor,
                author_name=new.author_name,
                external_id=new.external_id,
                metadata=new.metadata,
            )
            assert stored is not None  # the external id was checked under the row lock
            return stored, True

        return await self.db.write(write)

    async def post_as_customer(self, conversation: Conversation, new: NewMessage) -> Message:
        """The chat page's customer writes."""
        now = self.clock.now()

        def write(tx: Tx) -> Message:
            locked = sql.get_conversation(tx.conn, conversation.id, lock=True)
            assert locked is not None
            if new.external_id is not None:
                known = sql.by_external_id(tx.conn, locked.id, new.external_id)
                if known is not None:
                    return known
            return self.from_customer(tx, locked, new, now, author=f"customer:{locked.user_id}")

        return await self.db.write(write)

    def from_customer(
        self, tx: Tx, conversation: Conversation, new: NewMessage, now: Any, *, author: str
    ) -> Message:
        """Store a customer's message and send it where it goes now: to the human of an open
        session (or end it, with the close command), else to the AI, or start a handoff
        when they ask for a human."""
        session = sql.open_session(tx.conn, conversation.id)
        stored = self.log.message(
            tx,
            conversation,
            Role.USER,
            new.content(),
            now,
            author=author,
            author_name=conversation.user_name,
            external_id=new.external_id,
            session_id=session.id if session else None,
            metadata=new.metadata,
        )
        assert stored is not None
        if session is not None:
            self.handoffs.customer_wrote(tx, conversation, session, stored, now)
            return stored
        settings = self.handoffs.settings_tx(tx.conn)
        asked = settings.get("user_handoff_command")
        if asked and is_command(new.text, asked):
            self.handoffs.start_tx(
                tx,
                conversation,
                title=f"{conversation.user_name or conversation.user_id} asked for a human",
                description="The customer asked to talk to a human.",
                user_id=conversation.user_id,
                user_email=conversation.user_email,
                overrides={},
                created_by=conversation.created_by,
                now=now,
            )
            return stored
        self.log.event(
            tx,
            conversation.id,
            ConversationEventType.MESSAGE,
            {
                "message_id": stored.id,
                "role": "user",
                "type": stored.type.value,
                "content": stored.content,
                "external_id": stored.external_id,
            },
            now,
        )
        return stored

    async def messages(
        self, principal: Principal, conversation_id: str, *, after: int, limit: int
    ) -> list[Message]:
        def read(conn: Any) -> list[Message]:
            conversation = _existing(sql.get_conversation(conn, conversation_id), conversation_id)
            self.handoffs.check_sees(conn, principal, conversation)
            return sql.list_messages(conn, conversation_id, after=after, limit=limit)

        return await self.db.read(read)

    async def human_view(
        self, principal: Principal, conversation_id: str, *, after: int = 0
    ) -> tuple[Conversation, HandoffSession | None, list[Message]]:
        """What the desk's live view shows: the conversation, its latest session, and the
        whole transcript (what only humans see and what awaits approval included)."""

        def read(conn: Any) -> tuple[Conversation, HandoffSession | None, list[Message]]:
            conversation = _existing(sql.get_conversation(conn, conversation_id), conversation_id)
            self.handoffs.check_sees(conn, principal, conversation)
            session = sql.last_session(conn, conversation_id)
            found = sql.list_messages(conn, conversation_id, after=after, limit=100_000)
            return conversation, session, found

        return await self.db.read(read)

    async def customer_messages(self, conversation_id: str, after: int) -> list[Message]:
        return await self.db.read(
            lambda conn: sql.list_messages(
                conn, conversation_id, after=after, limit=500, customer_view=True
            )
        )

    # the agents' event log

    async def events(
        self,
        principal: Principal,
        *,
        after: int,
        conversation_id: str | None,
        wait: float,
        limit: int = 100,
    ) -> list[ConversationEvent]:
        """Events after ``after`` (the caller keeps its cursor: nothing is lost across its
        restarts); with ``wait``, parked until one comes."""
        principal.require(Scope.AGENT)
        if not 0 <= wait <= MAX_WAIT:
            raise InvalidError(f"wait must be between 0 and {MAX_WAIT:g} seconds", field="wait")
        if not 1 <= limit <= 1000:
            raise InvalidError("limit must be between 1 and 1000", field="limit")
        created_by = None if principal.is_admin else principal.actor
        if conversation_id is not None:
            await self.get(principal, conversation_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            with self.hub.waiter(conversation_id) as changed:
                found = await self.db.read(
                    lambda conn: sql.list_events(
                        conn,
                        after=after,
                        conversation_id=conversation_id,
                        created_by=created_by,
                        limit=limit,
                    )
                )
                left = deadline - loop.time()
                if found or left <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed, min(left, RECHECK_SECONDS))

    async def changed(self, conversation_id: str, timeout: float) -> None:
        """Returns when the conversation changes, or after ``timeout`` seconds."""
        with self.hub.waiter(conversation_id) as changed, contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed, timeout)


def chat_url(conversation_id: str, token: str) -> str:
    """The customer's link (a path: the server's address goes in front)."""
    from urllib.parse import quote

    return f"/chat/{quote(conversation_id, safe='')}?token={token}"


def _existing(conversation: Conversation | None, conversation_id: str) -> Conversation:
    if conversation is None:
        raise NotFoundError(f"no conversation with id {conversation_id!r}", field="id")
    return conversation


__all__ = ["ConversationService", "PermissionDeniedError", "chat_url", "token_digest"]
