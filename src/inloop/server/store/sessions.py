"""SQL for desk passwords and sign-in sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from inloop.server.store.identity import user_row
from inloop.server.store.schema import desk_sessions, users


def password_of(conn: Connection, handle: str) -> Row[Any] | None:
    """(id, handle, disabled, password_hash) of the user, or None."""
    return conn.execute(select(users).where(users.c.handle == handle)).first()


def set_password(conn: Connection, handle: str, password_hash: str) -> str:
    """Store the hash and end the user's sessions; return the user's id."""
    user_id: str = user_row(conn, handle).id
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
    end_sessions_of(conn, user_id)
    return user_id


def insert_session(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(desk_sessions.insert().values(row))


def session_user(conn: Connection, session_id: str, now: datetime) -> Row[Any] | None:
    """The live session and its user's handle, or None (unknown, expired, user disabled)."""
    return conn.execute(
        select(desk_sessions, users.c.handle)
        .join(users, users.c.id == desk_sessions.c.user_id)
        .where(
            desk_sessions.c.id == session_id,
            desk_sessions.c.expires_at > now,
            users.c.disabled.is_(False),
        )
    ).first()


def extend_session(conn: Connection, session_id: str, expires_at: datetime) -> None:
    conn.execute(
        update(desk_sessions).where(desk_sessions.c.id == session_id).values(expires_at=expires_at)
    )


def end_session(conn: Connection, session_id: str) -> None:
    conn.execute(delete(desk_sessions).where(desk_sessions.c.id == session_id))


def end_sessions_of(conn: Connection, user_id: str, *, keep: str | None = None) -> None:
    query = delete(desk_sessions).where(desk_sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(desk_sessions.c.id != keep)
    conn.execute(query)


def purge_expired(conn: Connection, now: datetime) -> None:
    conn.execute(delete(desk_sessions).where(desk_sessions.c.expires_at <= now))


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
