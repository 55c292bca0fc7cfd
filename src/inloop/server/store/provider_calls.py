"""SQL for the providers' outbox: calls in order per session, claimed when due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, or_, select, update

from inloop.server.store.schema import provider_calls

PENDING, SENDING, DONE, DEAD = "pending", "sending", "done", "dead"
_earlier = provider_calls.alias("earlier")


@dataclass(frozen=True)
class ProviderCall:
    id: int
    session_id: str
    provider: str
    op: str
    payload: dict[str, Any]
    status: str
    attempts: int


def add(
    conn: Connection,
    session_id: str,
    provider: str,
    op: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        insert(provider_calls),
        {
            "session_id": session_id,
            "provider": provider,
            "op": op,
            "payload": payload,
            "status": PENDING,
            "attempts": 0,
            "due_at": now,
            "created_at": now,
        },
    )


def claim(
    conn: Connection, now: datetime, lease_until: datetime, limit: int, *, skip_locked: bool
) -> list[ProviderCall]:
    """Due calls that are first in line for their session (an earlier call not yet done
    holds the later ones back: a comment never goes before its ticket), leased."""
    c = provider_calls.c
    ready = or_(c.status == PENDING, and_(c.status == SENDING, c.lease_until < now))
    blocked = exists().where(
        _earlier.c.session_id == c.session_id,
        _earlier.c.id < c.id,
        _earlier.c.status.in_([PENDING, SENDING]),
    )
    query = (
        select(provider_calls)
        .where(ready, c.due_at <= now, ~blocked)
        .order_by(c.due_at, c.id)
        .limit(limit)
        .with_for_update(skip_locked=skip_locked)
    )
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    conn.execute(
        update(provider_calls)
        .where(c.id.in_(ids))
        .values(status=SENDING, lease_until=lease_until, attempts=c.attempts + 1)
    )
    return [
        ProviderCall(r.id, r.session_id, r.provider, r.op, r.payload, SENDING, r.attempts + 1)
        for r in rows
    ]


def finish(conn: Connection, call_id: int, now: datetime) -> None:
    conn.execute(
        update(provider_calls)
        .where(provider_calls.c.id == call_id)
        .values(status=DONE, done_at=now, lease_until=None, last_error=None)
    )


def retry(conn: Connection, call_id: int, due_at: datetime, error: str) -> None:
    conn.execute(
        update(provider_calls)
        .where(provider_calls.c.id == call_id)
        .values(status=PENDING, due_at=due_at, lease_until=None, last_error=error[:2000])
    )


def bury(conn: Connection, call_id: int, now: datetime, error: str) -> None:
    """A dead letter: the call is not tried again, and neither are the session's later ones."""
    c = provider_calls.c
    session_id = conn.execute(select(c.session_id).where(c.id == call_id)).scalar_one()
    conn.execute(
        update(provider_calls)
        .where(c.id == call_id)
        .values(status=DEAD, done_at=now, lease_until=None, last_error=error[:2000])
    )
    conn.execute(
        update(provider_calls)
        .where(c.session_id == session_id, c.status == PENDING)
        .values(status=DEAD, done_at=now, last_error=f"after call {call_id} failed for good")
    )


def of_session(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(provider_calls)
        .where(provider_calls.c.session_id == session_id)
        .order_by(provider_calls.c.id)
    )
    return [dict(r._mapping) for r in rows]


def next_due(conn: Connection) -> datetime | None:
    value: datetime | None = conn.execute(
        select(provider_calls.c.due_at)
        .where(provider_calls.c.status == PENDING)
        .order_by(provider_calls.c.due_at)
        .limit(1)
    ).scalar()
    return value
