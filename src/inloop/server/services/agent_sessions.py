"""Agent sessions: the state an agent keeps between turns (seed 004's ``sb.sessions``),
its turns, and the history of every change with its reasoning and actor.

Every write locks the session's row first (``store.agent_sessions.get_or_create``), so two
updates of one session, from any replicas, merge one after the other: no key is lost.
Tickets and confirmations change a session through ``change_state`` and ``record``, in
their own transactions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from inloop.domain.agent_sessions import (
    AgentSession,
    NewTurn,
    SessionEvent,
    SessionEventType,
    StateUpdate,
    Turn,
    check_session_id,
    merge,
    turn_of,
)
from inloop.domain.enums import Scope
from inloop.domain.errors import InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.server.services.clock import Clock
from inloop.server.store import agent_sessions as sql
from inloop.server.store.database import Database, Tx

MAX_PAGE = 1000


class AgentSessionService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # reads

    async def get(self, principal: Principal, session_id: str) -> AgentSession:
        """The session; NotFoundError (``session_not_found``) if it was never written."""
        principal.require(Scope.AGENT)
        check_session_id(session_id)
        return await self.db.read(lambda conn: self.existing(conn, principal, session_id))

    async def history(
        self, principal: Principal, session_id: str, *, after: int = 0, limit: int = MAX_PAGE
    ) -> list[SessionEvent]:
        """State changes, turns, escalations and confirmation steps, oldest first."""
        principal.require(Scope.AGENT)
        check_session_id(session_id)
        _check_limit(limit)

        def read(conn: Connection) -> list[SessionEvent]:
            self.existing(conn, principal, session_id)
            return sql.events(conn, session_id, after=after, limit=limit)

        return await self.db.read(read)

    async def turns(
        self,
        principal: Principal,
        session_id: str,
        *,
        after: int = 0,
        limit: int = MAX_PAGE,
        last: bool = False,
    ) -> list[Turn]:
        """The turns, oldest first (``last``: the latest ``limit`` of them)."""
        principal.require(Scope.AGENT)
        check_session_id(session_id)
        _check_limit(limit)

        def read(conn: Connection) -> list[Turn]:
            self.existing(conn, principal, session_id)
            found = sql.events(
                conn, session_id, types=[SessionEventType.TURN], after=after, limit=limit, last=last
            )
            return [turn_of(e) for e in found]

        return await self.db.read(read)

    async def list_sessions(
        self, principal: Principal, *, escalated: bool | None = None, limit: int = 50
    ) -> list[AgentSession]:
        """The caller's sessions (every one for an admin), most recently changed first."""
        principal.require(Scope.AGENT)
        if not 1 <= limit <= 500:
            raise InvalidError("limit must be between 1 and 500", field="limit")
        created_by = None if principal.is_admin else principal.actor
        return await self.db.read(
            sql.list_sessions, created_by=created_by, escalated=escalated, limit=limit
        )

    def existing(self, conn: Connection, principal: Principal, session_id: str) -> AgentSession:
        found = sql.get(conn, session_id)
        if found is None:
            raise NotFoundError(
                f"no session {session_id!r}: a session starts with its first update_state "
                "or add_turn",
                field="session_id",
                code="session_not_found",
            )
        _check_owner(principal, found)
        return found

    # writes

    async def update_state(
        self, principal: Principal, session_id: str, update: StateUpdate
    ) -> AgentSession:
        """Merge ``update.state`` into the session's state (created on first use), and
        record what changed with the reasoning."""
        principal.require(Scope.AGENT)
        check_session_id(session_id)

        def apply(tx: Tx) -> AgentSession:
            session = self.open(tx, principal, session_id)
            return self.change_state(
                tx,
                session,
                update.state,
                principal.actor,
                update.reasoning,
                metadata=update.metadata,
            )

        return await self.db.write(apply)

    async def add_turn(self, principal: Principal, session_id: str, new: NewTurn) -> Turn:
        principal.require(Scope.AGENT)
        check_session_id(session_id)

        def apply(tx: Tx) -> Turn:
            session = self.open(tx, principal, session_id)
            data = {"input": new.input, "output": new.output, "metadata": new.metadata}
            event = self.record(
                tx, session, SessionEventType.TURN, principal.actor, data, new.reasoning
            )
            return turn_of(event)

        return await self.db.write(apply)

    # the building blocks, inside a caller's transaction

    def open(self, tx: Tx, principal: Principal, session_id: str) -> AgentSession:
        """The session, locked (created if new), after checking the caller may write it."""
        session = sql.get_or_create(tx.conn, session_id, principal.actor, self.clock.now())
        _check_owner(principal, session)
        return session

    def change_state(
        self,
        tx: Tx,
        session: AgentSession,
        changes: dict[str, Any],
        actor: str,
        reasoning: str | None,
        *,
        metadata: dict[str, Any] | None = None,
        escalated: bool | None = None,
        data: dict[str, Any] | None = None,
    ) -> AgentSession:
        """Merge ``changes`` into a locked session's state and record the change."""
        now = self.clock.now()
        state, diff = merge(session.state, changes)
        values: dict[str, Any] = {
            "state": state,
            "version": session.version + 1,
            "updated_at": now,
        }
        if metadata:
            values["metadata"] = {**session.metadata, **metadata}
        if escalated is not None:
            values["escalated"] = escalated
        saved = sql.save(tx.conn, session.id, values)
        event = {"changes": diff, "version": saved.version, **(data or {})}
        sql.add_event(
            tx.conn, session.id, SessionEventType.STATE_CHANGED, actor, now, event, reasoning
        )
        return saved

    def record(
        self,
        tx: Tx,
        session: AgentSession,
        type: SessionEventType,
        actor: str,
        data: dict[str, Any],
        reasoning: str | None = None,
    ) -> SessionEvent:
        """Append to a session's history (and mark it changed)."""
        now = self.clock.now()
        sql.save(tx.conn, session.id, {"updated_at": now})
        return sql.add_event(tx.conn, session.id, type, actor, now, data, reasoning)


def _check_owner(principal: Principal, session: AgentSession) -> None:
    if principal.is_admin or session.created_by == principal.actor:
        return
    raise PermissionDeniedError(
        f"session {session.id!r} belongs to another agent",
        field="session_id",
        code="session_not_yours",
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
