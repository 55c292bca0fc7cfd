"""SQL for requests and their events. Plain functions over a connection or transaction."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, bindparam, delete, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.enums import EventType, Kind, Priority, Status
from inloop.domain.errors import InvalidError
from inloop.domain.identity import Principal
from inloop.domain.requests import Event, Request
from inloop.server.store import search
from inloop.server.store.hot import HotStatement
from inloop.server.store.schema import events, request_candidates, requests


@dataclass(frozen=True)
class RequestFilter:
    status: Sequence[Status] = ()
    kind: Sequence[Kind] = ()
    priority: Sequence[Priority] = ()
    assignee: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    assigned_to: str | None = None
    # Only what this principal may see: created by it, it is a candidate, or it holds it.
    visible_to: Principal | None = None


def to_request(row: Row[Any] | Mapping[str, Any]) -> Request:
    return Request.model_validate(row if isinstance(row, Mapping) else row._mapping)


# Statements built once: SQLAlchemy then reuses their compiled form on every call.
_insert = requests.insert()
# Every column: a request's row always names them all (model_dump plus the two derived).
_hot_insert = HotStatement(requests.insert(), column_keys=[c.name for c in requests.c])
_by_id = select(requests).where(requests.c.id == bindparam("request_id"))
_hot_by_id = HotStatement(_by_id)
# SQLite ignores FOR UPDATE: it has one writer anyway.
_hot_by_id_for_update = HotStatement(_by_id.with_for_update())
_insert_candidate = request_candidates.insert()
_hot_insert_candidate = HotStatement(request_candidates.insert(), column_keys=["request_id", "ref"])
_by_idempotency_key = select(requests).where(
    requests.c.created_by == bindparam("created_by"),
    requests.c.idempotency_key == bindparam("key"),
)
# One statement per (columns set, statuses allowed), built at first use: the SET clause
# takes the columns named by the values given, the statuses are an OR of equalities.
_updates_if_status: dict[tuple[frozenset[str], frozenset[Status]], HotStatement] = {}


def _update_if_status(columns: frozenset[str], allowed: frozenset[Status]) -> HotStatement:
    key = (columns, allowed)
    found = _updates_if_status.get(key)
    if found is None:
        statement = (
            update(requests)
            .where(
                requests.c.id == bindparam("_request_id"),
                or_(*(requests.c.status == status for status in sorted(allowed))),
            )
            .returning(*requests.c)
        )
        found = _updates_if_status[key] = HotStatement(statement, column_keys=sorted(columns))
    return found


def insert_request(conn: Connection, record: Request, fingerprint: str | None) -> bool:
    """Insert; False when a concurrent transaction stored the same idempotency key first."""
    row = record.model_dump()
    row.update(priority_order=record.priority.order, idempotency_hash=fingerprint)
    if record.idempotency_key is None:
        _hot_insert.rowcount(conn, row)
    else:  # the driver's own IntegrityError would not be SQLAlchemy's: the plain path
        try:
            with conn.begin_nested():
                conn.execute(_insert, row)
        except IntegrityError:
            return False
    _link_candidates(conn, record.id, record.candidates)
    return True


def set_candidates(conn: Connection, request_id: str, refs: list[str]) -> None:
    """Replace who may answer (the JSON column is set by the caller's update)."""
    conn.execute(delete(request_candidates).where(request_candidates.c.request_id == request_id))
    _link_candidates(conn, request_id, refs)


def _link_candidates(conn: Connection, request_id: str, refs: list[str]) -> None:
    if len(refs) == 1:
        _hot_insert_candidate.rowcount(conn, {"request_id": request_id, "ref": refs[0]})
    elif refs:
        conn.execute(
            _insert_candidate, [{"request_id": request_id, "ref": ref} for ref in set(refs)]
        )


def get_request(conn: Connection, request_id: str, *, lock: bool = False) -> Request | None:
    """The request; with ``lock``, row-locked until the transaction ends (PostgreSQL)."""
    statement = _hot_by_id_for_update if lock else _hot_by_id
    row = statement.first(conn, {"request_id": request_id})
    return to_request(row) if row else None


def assigned_to(conn: Connection, handle: str) -> list[Request]:
    """The open requests ``handle`` holds, locked for this transaction."""
    rows = conn.execute(
        select(requests)
        .where(requests.c.assigned_to == handle, requests.c.status == Status.ASSIGNED)
        .with_for_update()
    )
    return [to_request(row) for row in rows]


def get_requests(conn: Connection, ids: Iterable[str]) -> dict[str, Request]:
    rows = conn.execute(select(requests).where(requests.c.id.in_(set(ids))))
    return {row.id: to_request(row) for row in rows}


def find_by_idempotency_key(
    conn: Connection, created_by: str, key: str
) -> tuple[Request, str | None] | None:
    row = conn.execute(_by_idempotency_key, {"created_by": created_by, "key": key}).first()
    return (to_request(row), row.idempotency_hash) if row else None


def update_if_status(
    conn: Connection, request_id: str, allowed_from: Iterable[Status], values: dict[str, Any]
) -> Request | None:
    """Apply ``values`` only while the status is one of ``allowed_from``; None if it was not."""
    statement = _update_if_status(frozenset(values), frozenset(allowed_from))
    row = statement.first(conn, {"_request_id": request_id, **values})
    return to_request(row) if row else None


def list_requests(
    conn: Connection, where: RequestFilter, *, limit: int, cursor: str | None
) -> tuple[list[Request], str | None]:
    """One page, ordered by priority (urgent first) then age, and the cursor of the next."""
    order = (requests.c.priority_order, requests.c.created_at, requests.c.id)
    query = select(requests).where(*_conditions(where, sqlite=conn.dialect.name == "sqlite"))
    if cursor:
        query = query.where(tuple_(*order) > tuple_(*decode_cursor(cursor)))
    rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
    items = [to_request(r) for r in rows[:limit]]
    if len(rows) <= limit:
        return items, None
    last = rows[limit - 1]
    return items, encode_cursor(last.priority_order, last.created_at, last.id)


def _conditions(where: RequestFilter, *, sqlite: bool) -> list[Any]:
    c = requests.c
    conditions: list[Any] = []
    if where.status:
        conditions.append(c.status.in_(list(where.status)))
    if where.kind:
        conditions.append(c.kind.in_(list(where.kind)))
    if where.priority:
        conditions.append(c.priority.in_(list(where.priority)))
    if where.assignee:
        conditions.append(c.id.in_(_candidates_of([where.assignee])))
    if where.assigned_to:
        conditions.append(c.assigned_to == where.assigned_to)
    if where.visible_to is not None:
        seer = where.visible_to
        conditions.append(
            or_(
                c.created_by == seer.actor,
                c.id.in_(_candidates_of(sorted(seer.refs))),
                *([c.assigned_to == seer.handle] if seer.handle else []),
            )
        )
    if where.conversation_id:
        conditions.append(c.conversation_id == where.conversation_id)
    if where.user_id:
        conditions.append(c.user_id == where.user_id)
    if where.created_after:
        conditions.append(c.created_at > where.created_after)
    if where.created_before:
        conditions.append(c.created_at < where.created_before)
    if where.q:
        conditions.append(search.contains(where.q, sqlite=sqlite))
    return conditions


def _candidates_of(refs: list[str]) -> Any:
    return select(request_candidates.c.request_id).where(request_candidates.c.ref.in_(refs))


_PRIORITIES = len(Priority)
_MAX_ID = 40  # the id column's width


def encode_cursor(priority_order: int, created_at: datetime, request_id: str) -> str:
    raw = orjson.dumps([priority_order, created_at.isoformat(), request_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        order, created_at, request_id = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        # Each field is bounded as encode_cursor makes it, so none can overflow a column.
        if type(order) is not int or not 0 <= order < _PRIORITIES:
            raise ValueError("priority order out of range")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= _MAX_ID:
            raise ValueError("bad request id")
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("naive created_at")
        return order, when.astimezone(UTC), request_id
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidError(
            "cursor is not one this server gave out: pass next_cursor from the previous page",
            field="cursor",
            code="invalid_cursor",
        ) from exc


def list_events(
    conn: Connection,
    *,
    request_id: str | None = None,
    after_id: int = 0,
    types: Sequence[EventType] = (),
    conversation_id: str | None = None,
    limit: int = 1000,
) -> list[Event]:
    query = select(events).where(events.c.id > after_id)
    if request_id is not None:
        query = query.where(events.c.request_id == request_id)
    if types:
        query = query.where(events.c.type.in_(list(types)))
    if conversation_id is not None:
        query = query.join(requests, requests.c.id == events.c.request_id).where(
            and_(requests.c.conversation_id == conversation_id)
        )
    rows = conn.execute(query.order_by(events.c.id).limit(limit))
    return [Event.model_validate(row._mapping) for row in rows]


def get_events(conn: Connection, ids: Sequence[int]) -> list[Event]:
    rows = conn.execute(select(events).where(events.c.id.in_(list(ids))).order_by(events.c.id))
    return [Event.model_validate(row._mapping) for row in rows]
