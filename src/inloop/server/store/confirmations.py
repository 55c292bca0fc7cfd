"""SQL for confirmations. The code's HMAC stays in the store: rows leave as ``Stored``,
which the service turns into the API's ``Confirmation``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from inloop.server.store.schema import confirmations


def insert_row(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(confirmations), row)


def get(conn: Connection, confirmation_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The row; with ``lock``, locked to the end of the transaction: the attempts counter
    of a code is read and written under it, so parallel guesses are counted, every one."""
    query = select(confirmations).where(confirmations.c.id == confirmation_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return dict(row._mapping) if row else None


def save(conn: Connection, confirmation_id: str, values: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(
        update(confirmations)
        .where(confirmations.c.id == confirmation_id)
        .values(values)
        .returning(*confirmations.c)
    ).one()
    return dict(row._mapping)


def list_rows(
    conn: Connection,
    *,
    session_id: str | None,
    created_by: str | None,
    status: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    c = confirmations.c
    query = select(confirmations).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    if session_id is not None:
        query = query.where(c.session_id == session_id)
    if created_by is not None:
        query = query.where(c.created_by == created_by)
    if status is not None:
        query = query.where(c.status == status)
    return [dict(r._mapping) for r in conn.execute(query)]


def pending_expired(conn: Connection, now: datetime, limit: int) -> list[str]:
    c = confirmations.c
    query = select(c.id).where(c.status == "pending", c.expires_at <= now).limit(limit)
    return [str(i) for i in conn.execute(query).scalars()]
