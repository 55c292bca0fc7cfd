"""SQL for durable timers: schedule, cancel, claim what is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from inloop.server.store.hot import HotStatement
from inloop.server.store.schema import timers

# Built once and run on the cursor (store/hot.py): a timer is set with most requests.
_insert = HotStatement(
    insert(timers), column_keys=["kind", "due_at", "request_id", "user_handle", "data"]
)


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    due_at: datetime
    request_id: str | None
    user_handle: str | None
    data: dict[str, Any]


def add(
    conn: Connection,
    kind: str,
    due_at: datetime,
    *,
    request_id: str | None = None,
    user_handle: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    row = {
        "kind": kind, "due_at": due_at, "request_id": request_id, "user_handle": user_handle,
        "data": data or {},
    }  # fmt: skip
    _insert.rowcount(conn, row)


def claim_due(conn: Connection, now: datetime, limit: int) -> list[Timer]:
    """Due timers, oldest first, locked for this transaction; other replicas skip them."""
    query = (
        select(timers)
        .where(timers.c.due_at <= now)
        .order_by(timers.c.due_at)  # the index order itself: no sort of a large backlog
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Timer(*row) for row in conn.execute(query)]  # columns in the dataclass's order


def delete_ids(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(delete(timers).where(timers.c.id.in_(ids)))


def next_due(conn: Connection) -> datetime | None:
    """The earliest due time; an index lookup (``ix_timers_due_at``), not a scan."""
    value: datetime | None = conn.execute(select(func.min(timers.c.due_at))).scalar()
    return value
