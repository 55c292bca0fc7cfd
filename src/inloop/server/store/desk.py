"""SQL for the desk's queue: one page in priority-then-deadline order, and its counts.

The order is priority (urgent first), then the nearest deadline, then age for requests
with no deadline. For each status, each half is read along its own index (``status,
priority_order, due_at`` and ``status, priority_order, created_at``), at most a page from
each, and the pieces are merged: the first n rows of the merge are among the first n of
each piece. No query sorts: each walks its index and stops after a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select
from sqlalchemy.dialects import postgresql

from inloop.domain.enums import Kind, Priority, Status
from inloop.domain.requests import Request
from inloop.server.store import search
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


def conditions(
    where: QueueFilter,
    *,
    with_priority: bool = True,
    with_status: bool = True,
    sqlite: bool = False,
) -> list[Any]:
    c = requests.c
    found: list[Any] = []
    if where.status and with_status:
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
        refs = sorted(where.refs)
        if "*" in refs:
            # Most open requests match: check each row's own list of candidates as the
            # index walk meets it (a subquery here is hashed whole by PostgreSQL).
            mine: Any = _names_any(refs, sqlite)
        else:
            # Few match (a team's requests): start from them.
            mine = c.id.in_(
                select(request_candidates.c.request_id).where(request_candidates.c.ref.in_(refs))
            )
        found.append(or_(mine, c.assigned_to == where.holder) if where.holder else mine)
    if where.q:
        found.append(search.contains(where.q, sqlite=sqlite, indexed=False))
    return found


def _names_any(refs: list[str], sqlite: bool) -> Any:
    """The row's candidates (its JSON column) include one of ``refs``."""
    if not sqlite:
        return requests.c.candidates.op("?|")(postgresql.array(refs))
    each = func.json_each(requests.c.candidates).table_valued("value")
    return exists().select_from(each).where(each.c.value.in_(refs))


def queue_page(
    conn: Connection, where: QueueFilter, *, offset: int, limit: int
) -> tuple[list[Request], bool]:
    """Rows ``offset`` to ``offset + limit`` of the queue, and whether more follow."""
    c = requests.c
    wanted = offset + limit + 1
    sqlite = conn.dialect.name == "sqlite"
    if where.q and search.few(conn, where.q):
        # Few matches: start from the index, sort them, then read the page's rows.
        joined, matches = search.from_index(where.q)
        ids = list(
            conn.execute(
                select(c.id)
                .select_from(joined)
                .where(matches, *conditions(replace(where, q=None), sqlite=sqlite))
                .order_by(
                    c.priority_order,
                    c.due_at.is_(None),
                    func.coalesce(c.due_at, c.created_at),
                    c.id,
                )
                .offset(offset)
                .limit(limit + 1)
            ).scalars()
        )
        rows = {r.id: r for r in conn.execute(select(requests).where(c.id.in_(ids[:limit])))}
        return [to_request(rows[i]) for i in ids[:limit] if i in rows], len(ids) > limit
    base = select(requests).where(*conditions(where, with_status=False, sqlite=sqlite))
    found: list[Any] = []
    for status in where.status or list(Status):
        one = base.where(c.status == status)
        found += conn.execute(
            one.where(c.due_at.is_not(None))
            .order_by(c.priority_order, c.due_at, c.id)
            .limit(wanted)
        ).all()
        found += conn.execute(
            one.where(c.due_at.is_(None))
            .order_by(c.priority_order, c.created_at, c.id)
            .limit(wanted)
        ).all()
    merged = sorted(
        found,
        key=lambda r: (r.priority_order, r.due_at is None, r.due_at or r.created_at, r.id),
    )
    page = merged[offset : offset + limit + 1]
    return [to_request(row) for row in page[:limit]], len(page) > limit


def count(conn: Connection, where: QueueFilter) -> int:
    """How many match, counted up to COUNT_CAP (the desk shows 1000+ beyond)."""
    sqlite = conn.dialect.name == "sqlite"
    query = select(requests.c.id)
    if where.q and search.few(conn, where.q):
        joined, matches = search.from_index(where.q)
        query = query.select_from(joined).where(matches)
        where = replace(where, q=None)
    capped = query.where(*conditions(where, sqlite=sqlite)).limit(COUNT_CAP).subquery()
    return int(conn.execute(select(func.count()).select_from(capped)).scalar_one())


def count_by_priority(conn: Connection, where: QueueFilter) -> dict[Priority, int]:
    """Per priority, each counted up to COUNT_CAP, ignoring the view's priority filter and
    its text search (a search over every row would cost a full scan per count)."""
    counts: dict[Priority, int] = {}
    unsearched = QueueFilter(**{**where.__dict__, "q": None})
    for priority in Priority:
        capped = (
            select(requests.c.id)
            .where(
                *conditions(unsearched, with_priority=False, sqlite=conn.dialect.name == "sqlite"),
                requests.c.priority_order == priority.order,
            )
            .limit(COUNT_CAP)
            .subquery()
        )
        counts[priority] = int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
    return counts


def last_event_id(conn: Connection) -> int:
    """The newest event's id (0 with none): where a new live stream starts."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())
