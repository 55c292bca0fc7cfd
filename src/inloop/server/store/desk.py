"""SQL for the desk's queue: one page in priority-then-deadline order, and its counts.

The order is priority (urgent first), then the nearest deadline, then age for requests
with no deadline. Each half is read along its own index (``priority_order, due_at`` and
``priority_order, created_at``), at most a page from each, and the two are merged: the
first n rows of the merge are among the first n of each half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from inloop.domain.enums import Kind, Priority, Status
from inloop.domain.requests import Request
from inloop.server.store.requests import to_request
from inloop.server.store.schema import events, request_candidates, requests

COUNT_CAP = 1000


@dataclass(frozen=True)
class QueueFilter:
    status: Sequence[Status] = (Status.PENDING, Status.ASSIGNED)
    kind: Sequence[Kind] = ()
    priority: Sequence[Priority] = ()
    # A handle; "" for requests nobody holds.
    assigned_to: str | None = None
    q: str | None = None
    # Requests whose candidates include one of these refs, or held by ``holder``.
    refs: Sequence[str] | None = None
    holder: str | None = None


def conditions(where: QueueFilter, *, with_priority: bool = True) -> list[Any]:
    c = requests.c
    found: list[Any] = []
    if where.status:
        found.append(c.status.in_(list(where.status)))
    if where.kind:
        found.append(c.kind.in_(list(where.kind)))
    if where.priority and with_priority:
        found.append(c.priority.in_(list(where.priority)))
    if where.assigned_to == "":
        found.append(c.assigned_to.is_(None))
    elif where.assigned_to is not None:
        found.append(c.assigned_to == where.assigned_to)
    if where.refs is not None:
        mine = c.id.in_(
            select(request_candidates.c.request_id).where(
                request_candidates.c.ref.in_(sorted(where.refs))
            )
        )
        found.append(or_(mine, c.assigned_to == where.holder) if where.holder else mine)
    if where.q:
        escaped = where.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        found.append(or_(c.title.ilike(pattern, escape="\\"), c.prompt.ilike(pattern, escape="\\")))
    return found


def queue_page(
    conn: Connection, where: QueueFilter, *, offset: int, limit: int
) -> tuple[list[Request], bool]:
    """Rows ``offset`` to ``offset + limit`` of the queue, and whether more follow."""
    c = requests.c
    wanted = offset + limit + 1
    base = select(requests).where(*conditions(where))
    with_deadline = conn.execute(
        base.where(c.due_at.is_not(None)).order_by(c.priority_order, c.due_at, c.id).limit(wanted)
    ).all()
    without = conn.execute(
        base.where(c.due_at.is_(None)).order_by(c.priority_order, c.created_at, c.id).limit(wanted)
    ).all()
    merged = sorted(
        [*with_deadline, *without],
        key=lambda r: (r.priority_order, r.due_at is None, r.due_at or r.created_at, r.id),
    )
    page = merged[offset : offset + limit + 1]
    return [to_request(row) for row in page[:limit]], len(page) > limit


def count(conn: Connection, where: QueueFilter) -> int:
    """How many match, counted up to COUNT_CAP (the desk shows 1000+ beyond)."""
    capped = select(requests.c.id).where(*conditions(where)).limit(COUNT_CAP).subquery()
    return int(conn.execute(select(func.count()).select_from(capped)).scalar_one())


def count_by_priority(conn: Connection, where: QueueFilter) -> dict[Priority, int]:
    """Per priority, each counted up to COUNT_CAP, ignoring the view's priority filter."""
    counts: dict[Priority, int] = {}
    for priority in Priority:
        capped = (
            select(requests.c.id)
            .where(*conditions(where, with_priority=False), requests.c.priority == priority)
            .limit(COUNT_CAP)
            .subquery()
        )
        counts[priority] = int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
    return counts


def last_event_id(conn: Connection) -> int:
    """The newest event's id (0 with none): where a new live stream starts."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())
