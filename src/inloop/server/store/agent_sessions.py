"""SQL for agent sessions and their history (state changes, turns, escalations, the steps
of confirmations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.agent_sessions import AgentSession, SessionEvent, SessionEventType
from inloop.server.store.schema import agent_session_events, agent_sessions

_by_id = select(agent_sessions).where(agent_sessions.c.id == bindparam("_id"))
_by_id_locked = _by_id.with_for_update()
_insert_event = insert(agent_session_events).returning(*agent_session_events.c)


def get(conn: Connection, session_id: str, *, lock: bool = False) -> AgentSession | None:
    """The session; with ``lock``, its row stays locked to the end of the transaction, so
    two updates of one session happen one after the other (PostgreSQL; SQLite has one
    writer anyway)."""
    row = conn.execute(_by_id_locked if lock else _by_id, {"_id": session_id}).first()
    return AgentSession.model_validate(row._mapping) if row else None


def get_or_create(conn: Connection, session_id: str, actor: str, now: datetime) -> AgentSession:
    """The session, locked; created empty (by ``actor``) if it did not exist. Two first
    writes racing both end up here: one inserts, the other finds its row."""
    found = get(conn, session_id, lock=True)
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            conn.execute(
                insert(agent_sessions),
                {
                    "id": session_id,
                    "state": {},
                    "metadata": {},
                    "version": 0,
                    "escalated": False,
                    "created_by": actor,
                    "created_at": now,
                    "updated_at": now,
                },
            )
    except IntegrityError:
        pass
    found = get(conn, session_id, lock=True)
    assert found is not None
    return found


def save(conn: Connection, session_id: str, values: dict[str, Any]) -> AgentSession:
    row = conn.execute(
        update(agent_sessions)
        .where(agent_sessions.c.id == session_id)
        .values(values)
        .returning(*agent_sessions.c)
    ).one()
    return AgentSession.model_validate(row._mapping)


def add_event(
    conn: Connection,
    session_id: str,
    type: SessionEventType,
    actor: str,
    now: datetime,
    data: dict[str, Any],
    reasoning: str | None = None,
) -> SessionEvent:
    row = conn.execute(
        _insert_event,
        {
            "session_id": session_id,
            "type": type.value,
            "actor": actor,
            "reasoning": reasoning,
            "data": data,
            "created_at": now,
        },
    ).one()
    return SessionEvent.model_validate(row._mapping)


def events(
    conn: Connection,
    session_id: str,
    *,
    types: list[SessionEventType] | None = None,
    after: int = 0,
    limit: int = 1000,
    last: bool = False,
) -> list[SessionEvent]:
    """The session's history in write order; ``last``: the latest ``limit`` of it."""
    c = agent_session_events.c
    query = select(agent_session_events).where(c.session_id == session_id, c.id > after)
    if types:
        query = query.where(c.type.in_([t.value for t in types]))
    query = query.order_by(c.id.desc() if last else c.id).limit(limit)
    found = [SessionEvent.model_validate(r._mapping) for r in conn.execute(query)]
    return found[::-1] if last else found


def list_sessions(
    conn: Connection, *, created_by: str | None, escalated: bool | None, limit: int
) -> list[AgentSession]:
    query = select(agent_sessions).order_by(agent_sessions.c.updated_at.desc()).limit(limit)
    if created_by is not None:
        query = query.where(agent_sessions.c.created_by == created_by)
    if escalated is not None:
        query = query.where(agent_sessions.c.escalated == escalated)
    return [AgentSession.model_validate(r._mapping) for r in conn.execute(query)]


def count_since(conn: Connection, since: datetime) -> int:
    """Sessions created since ``since`` (the denominator of an escalation rate)."""
    value: int = conn.execute(
        select(func.count()).select_from(agent_sessions).where(agent_sessions.c.created_at >= since)
    ).scalar_one()
    return value
