"""SQL for the outbox: enqueue (once per key), claim due rows, record attempts, replay."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from inloop.domain.deliveries import Attempt, Delivery, DeliveryStatus
from inloop.domain.errors import InvalidError
from inloop.server.store.schema import deliveries, delivery_attempts, inbound_messages

OPEN = [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
NOTIFY = "request.notify"
UPDATE = "request.update"


def row(
    *,
    key: str,
    channel: str,
    kind: str,
    topic: str,
    now: datetime,
    address: str | None = None,
    payload: dict[str, Any] | None = None,
    sealed: str | None = None,
    request_id: str | None = None,
    user: str | None = None,
    parent_id: int | None = None,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """A new delivery's row, due at once unless ``due_at`` says later."""
    return {
        "key": key,
        "channel": channel,
        "kind": kind,
        "address": address,
        "topic": topic,
        "payload": payload,
        "sealed": sealed,
        "sensitive": sealed is not None,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "replays": 0,
        "due_at": due_at or now,
        "created_at": now,
        "updated_at": now,
        "request_id": request_id,
        "user_handle": user,
        "parent_id": parent_id,
    }


def insert_new(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows whose key is new, in one statement; {key: id} of those inserted."""
    if not rows:
        return {}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(deliveries)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(deliveries.c.key, deliveries.c.id)
    )
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        result = conn.execute(statement, list(rows[start : start + 500]))
        inserted.update((key, id_) for key, id_ in result)
    return inserted


def to_delivery(found: Row[Any]) -> Delivery:
    data = dict(found._mapping)
    data["user"] = data.pop("user_handle")
    data.pop("sealed", None)
    data.pop("ref_key", None)
    if data.get("sensitive"):
        data["payload"] = None
    return Delivery.model_validate(data)


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery with what the dispatcher needs to send it."""

    delivery: Delivery
    payload: dict[str, Any] | None
    sealed: str | None


def claim_due(
    conn: Connection, now: datetime, limit: int, lease_until: datetime, *, skip_locked: bool
) -> list[Claimed]:
    """Due deliveries, oldest first, marked sending until ``lease_until``: a dispatcher
    that dies while sending leaves them due again when the lease runs out."""
    query = (
        select(deliveries.c.id)
        .where(deliveries.c.status.in_(OPEN), deliveries.c.due_at <= now)
        .order_by(deliveries.c.due_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    rows = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING.value,
            attempts=deliveries.c.attempts + 1,
            due_at=lease_until,
            updated_at=now,
        )
        .returning(*deliveries.c)
    ).all()
    claimed = [Claimed(to_delivery(r), r.payload, r.sealed) for r in rows]
    claimed.sort(key=lambda c: c.delivery.id)
    return claimed


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to, for :func:`record`."""

    delivery_id: int
    attempt: int
    replay: int
    started_at: datetime
    duration_ms: int
    status: DeliveryStatus  # delivered, pending (retry at due_at), dead, skipped
    due_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    ref: dict[str, Any] | None = None
    ref_key: str | None = None
    logged: bool = True  # a deferral (an update waiting for its message) is no attempt


_record = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("_id"),
        deliveries.c.status == DeliveryStatus.SENDING.value,
        deliveries.c.attempts == bindparam("_attempt"),
        deliveries.c.replays == bindparam("_replay"),
    )
    .returning(deliveries.c.id)
)


def record(conn: Connection, outcomes: Sequence[Outcome], now: datetime) -> set[int]:
    """Store the outcomes of attempts; the ids whose row took it (a row that was claimed
    again after our lease ran out, or replayed meanwhile, keeps its newer state)."""
    taken: set[int] = set()
    for out in outcomes:
        values: dict[str, Any] = {
            "status": out.status.value,
            "due_at": out.due_at,
            "updated_at": now,
            "last_error": out.error,
        }
        if out.status == DeliveryStatus.DELIVERED:
            values.update(delivered_at=now, ref=out.ref, ref_key=out.ref_key)
        if out.status != DeliveryStatus.PENDING:
            values["sealed"] = None  # a sensitive payload is erased once it is done with
        if not out.logged:
            values["attempts"] = out.attempt - 1
        found = conn.execute(
            _record,
            {"_id": out.delivery_id, "_attempt": out.attempt, "_replay": out.replay, **values},
        ).first()
        if found is not None:
            taken.add(out.delivery_id)
    attempts = [
        {
            "delivery_id": o.delivery_id,
            "attempt": o.attempt,
            "replay": o.replay,
            "at": o.started_at,
            "duration_ms": o.duration_ms,
            "outcome": "delivered"
            if o.status == DeliveryStatus.DELIVERED
            else "dead"
            if o.status in (DeliveryStatus.DEAD, DeliveryStatus.SKIPPED)
            else "failed",
            "status_code": o.status_code,
            "error": o.error,
            "response": o.response,
        }
        for o in outcomes
        if o.logged
    ]
    if attempts:
        conn.execute(delivery_attempts.insert(), attempts)
    return taken


def get(conn: Connection, delivery_id: int) -> Delivery | None:
    found = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return None if found is None else to_delivery(found)


def by_key(conn: Connection, key: str) -> Delivery | None:
    found = conn.execute(select(deliveries).where(deliveries.c.key == key)).first()
    return None if found is None else to_delivery(found)


def get_many(conn: Connection, ids: Sequence[int]) -> dict[int, Row[Any]]:
    if not ids:
        return {}
    rows = conn.execute(select(deliveries).where(deliveries.c.id.in_(sorted(set(ids))))).all()
    return {r.id: r for r in rows}


def attempts_of(conn: Connection, delivery_id: int) -> list[Attempt]:
    rows = conn.execute(
        select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id == delivery_id)
        .order_by(delivery_attempts.c.id)
    )
    return [Attempt.model_validate(dict(r._mapping)) for r in rows]


@dataclass(frozen=True)
class DeliveryFilter:
    status: Sequence[DeliveryStatus] = ()
    channel: str | None = None
    request_id: str | None = None
    topic: str | None = None


def list_deliveries(
    conn: Connection, where: DeliveryFilter, *, limit: int, cursor: str | None
) -> tuple[list[Delivery], str | None]:
    """Newest first, a page at a time (the cursor is the last id seen)."""
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit + 1)
    if where.status:
        query = query.where(deliveries.c.status.in_([s.value for s in where.status]))
    if where.channel:
        query = query.where(deliveries.c.channel == where.channel)
    if where.request_id:
        query = query.where(deliveries.c.request_id == where.request_id)
    if where.topic:
        query = query.where(deliveries.c.topic == where.topic)
    if cursor:
        query = query.where(deliveries.c.id < _cursor(cursor))
    rows = conn.execute(query).all()
    page = [to_delivery(r) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode() if more else None
    return page, next_cursor


def _cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except ValueError:
        raise InvalidError("cursor is not one this server gave out", field="cursor") from None


def replay(conn: Connection, ids: Sequence[int], now: datetime) -> list[int]:
    """Send these again from the start of their retries; those open are left alone."""
    if not ids:
        return []
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(ids)), deliveries.c.status.not_in(OPEN))
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            replays=deliveries.c.replays + 1,
            due_at=now,
            updated_at=now,
            last_error=None,
        )
        .returning(deliveries.c.id)
    )
    return sorted(result.scalars())


def dead_ids(conn: Connection, channel: str | None, limit: int) -> list[int]:
    query = select(deliveries.c.id).where(deliveries.c.status == DeliveryStatus.DEAD.value)
    if channel:
        query = query.where(deliveries.c.channel == channel)
    return list(conn.execute(query.order_by(deliveries.c.id).limit(limit)).scalars())


def skip_pending_notices(conn: Connection, request_ids: Sequence[str], now: datetime) -> None:
    """Notices of closed requests that never went out are no longer needed."""
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.request_id.in_(list(request_ids)),
            deliveries.c.topic == NOTIFY,
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.SKIPPED.value, due_at=None, updated_at=now)
    )


def sent_notices(conn: Connection, request_ids: Sequence[str]) -> list[Row[Any]]:
    """Notices of these requests that went out (or are going): what an update edits."""
    return list(
        conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.key,
                deliveries.c.channel,
                deliveries.c.kind,
                deliveries.c.address,
                deliveries.c.request_id,
                deliveries.c.user_handle,
            ).where(
                deliveries.c.request_id.in_(list(request_ids)),
                deliveries.c.topic == NOTIFY,
                deliveries.c.status.in_(
                    [DeliveryStatus.SENDING.value, DeliveryStatus.DELIVERED.value]
                ),
            )
        )
    )


def request_of_ref(conn: Connection, ref_key: str) -> tuple[str | None, int] | None:
    """The request (and delivery) whose message the platform knows by ``ref_key``."""
    found = conn.execute(
        select(deliveries.c.request_id, deliveries.c.id)
        .where(deliveries.c.ref_key == ref_key)
        .order_by(deliveries.c.id)
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1])


def notice_for(conn: Connection, request_id: str, channel: str, address: str) -> Row[Any] | None:
    """The delivered notice of a request to an address, for an update in place."""
    return conn.execute(
        select(deliveries)
        .where(
            deliveries.c.request_id == request_id,
            deliveries.c.channel == channel,
            deliveries.c.address == address,
            deliveries.c.topic == NOTIFY,
        )
        .order_by(deliveries.c.id.desc())
        .limit(1)
    ).first()


def next_due(conn: Connection) -> datetime | None:
    """The earliest due time of an open delivery, along the partial index."""
    value: datetime | None = conn.execute(
        select(func.min(deliveries.c.due_at)).where(deliveries.c.status.in_(OPEN))
    ).scalar()
    return value


def seen_inbound(conn: Connection, channel: str, message_id: str, now: datetime) -> bool:
    """Note a callback's message id; True if it was handled before (a replay)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(
        dialect.insert(inbound_messages)
        .values(channel=channel, message_id=message_id[:300], received_at=now)
        .on_conflict_do_nothing()
        .returning(inbound_messages.c.message_id)
    ).first()
    return inserted is None


def forget_inbound(conn: Connection, before: datetime) -> None:
    conn.execute(delete(inbound_messages).where(inbound_messages.c.received_at < before))
