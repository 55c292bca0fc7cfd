"""SQL for runs, their event inboxes and ``ctx.once`` records."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.errors import InvalidError
from inloop.domain.runs import Run, RunEvent, RunEventStatus, RunStatus
from inloop.server.store.hot import HotStatement
from inloop.server.store.schema import run_events, run_once, runs

_EVENT_COLUMNS = [
    c for c in run_events.c if c.name not in ("reply_type", "lease_owner", "lease_until")
]
_insert_run = HotStatement(runs.insert(), column_keys=[c.name for c in runs.c])
_insert_events = run_events.insert()
_insert_event = HotStatement(
    run_events.insert(), column_keys=[c.name for c in run_events.c if c.name != "id"]
)
_lock_run = HotStatement(
    select(runs.c.status, runs.c.created_by)
    .where(runs.c.id == bindparam("run_id"))
    .with_for_update()
)
_run_by_id = select(runs).where(runs.c.id == bindparam("run_id"))
_done_if_pending = HotStatement(
    update(run_events)
    .where(run_events.c.id == bindparam("_id"), run_events.c.status == RunEventStatus.PENDING)
    .values(
        status=bindparam("_status"),
        step=bindparam("_step"),
        done_at=bindparam("_now"),
        lease_owner=None,
        lease_until=None,
    )
    .returning(run_events.c.run_id, run_events.c.agent)
)


# JSON scalars are stored wrapped ({"value": ...}): SQLite's JSON column has numeric
# affinity, so a bare 1 or 2.5 would come back as a number rather than JSON text.


def _wrap(value: Any) -> dict[str, Any]:
    return {"value": value}


def _unwrap(stored: Any) -> Any:
    return stored["value"] if isinstance(stored, dict) else None


# The hot statements are built once, with bind parameters, and run as HotStatements
# (store/hot.py): no expanding IN lists, so a set of statuses is an OR of equalities, and
# a list of ids has a one-id form beside the general one. Bind names start with "_" so
# they cannot clash with the columns a SET names.
_OPEN_RUN = (RunStatus.RUNNING, RunStatus.PAUSED)
_OPEN_EVENT = (RunEventStatus.PENDING, RunEventStatus.WAITING)


def _one_of(column: Any, values: Iterable[str]) -> Any:
    return or_(*(column == value for value in values))


_set_run = HotStatement(
    update(runs)
    .where(runs.c.id == bindparam("_id"), _one_of(runs.c.status, _OPEN_RUN))
    .values(
        status=bindparam("_status"),
        result=bindparam("_result"),
        error=bindparam("_error"),
        updated_at=bindparam("_now"),
        finished_at=bindparam("_finished"),
    )
)
_set_status = HotStatement(
    update(runs)
    .where(runs.c.id == bindparam("_id"), _one_of(runs.c.status, _OPEN_RUN))
    .values(status=bindparam("_status"), updated_at=bindparam("_now"))
)


def _take_waiting_where(request_ids: Any) -> Any:
    return (
        update(run_events)
        .where(request_ids, run_events.c.status == RunEventStatus.WAITING)
        .values(status=RunEventStatus.DONE, done_at=bindparam("_now"))
        .returning(
            run_events.c.id,
            run_events.c.run_id,
            run_events.c.agent,
            run_events.c.payload,
            run_events.c.reply_type,
            run_events.c.request_id,
        )
    )


_take_waiting = _take_waiting_where(run_events.c.request_id.in_(bindparam("_ids", expanding=True)))
_take_waiting_one = HotStatement(_take_waiting_where(run_events.c.request_id == bindparam("_id")))
_resume_runs = (
    update(runs)
    .where(runs.c.id.in_(bindparam("_ids", expanding=True)), runs.c.status == RunStatus.PAUSED)
    .values(status=RunStatus.RUNNING, updated_at=bindparam("_now"))
)
_resume_run = HotStatement(
    update(runs)
    .where(runs.c.id == bindparam("_id"), runs.c.status == RunStatus.PAUSED)
    .values(status=RunStatus.RUNNING, updated_at=bindparam("_now"))
)
_open_statuses = HotStatement(
    select(run_events.c.status)
    .where(run_events.c.run_id == bindparam("_run_id"), _one_of(run_events.c.status, _OPEN_EVENT))
    .distinct()
)
_cancel_open_events = HotStatement(
    update(run_events)
    .where(
        run_events.c.run_id == bindparam("_run_id"),
        _one_of(run_events.c.status, _OPEN_EVENT),
    )
    .values(
        status=RunEventStatus.CANCELLED,
        done_at=bindparam("_now"),
        lease_owner=None,
        lease_until=None,
    )
    .returning(run_events.c.request_id)
)


_lease = (
    update(run_events)
    .where(run_events.c.id.in_(bindparam("_ids", expanding=True)))
    .values(
        lease_owner=bindparam("_owner"),
        lease_until=bindparam("_until"),
        attempts=run_events.c.attempts + 1,
    )
    .returning(*_EVENT_COLUMNS)
)


def to_run(row: Any) -> Run:
    data = dict(row._mapping)
    data["result"] = _unwrap(data["result"])
    return Run.model_validate(data)


def to_event(row: Any) -> RunEvent:
    return RunEvent.model_validate(row._mapping)


def insert_run(conn: Connection, run: Run) -> None:
    _insert_run.rowcount(conn, {**run.model_dump(), "result": None})


def get_run(conn: Connection, run_id: str, *, lock: bool = False) -> Run | None:
    statement = _run_by_id.with_for_update() if lock else _run_by_id
    row = conn.execute(statement, {"run_id": run_id}).first()
    return to_run(row) if row else None


def lock_run(conn: Connection, run_id: str) -> tuple[RunStatus, str]:
    """The run's status and creator, row-locked until the transaction ends (PostgreSQL)."""
    row = _lock_run.first(conn, {"run_id": run_id})
    assert row is not None, run_id
    return RunStatus(row["status"]), row["created_by"]


def finish_run(
    conn: Connection,
    run_id: str,
    status: RunStatus,
    now: datetime,
    *,
    result: Any = None,
    error: str | None = None,
) -> bool:
    """Close a run that is still open; False if it was closed already."""
    params = {
        "_id": run_id, "_status": status, "_result": _wrap(result), "_error": error,
        "_now": now, "_finished": now,
    }  # fmt: skip
    return _set_run.rowcount(conn, params) == 1


def set_status(conn: Connection, run_id: str, status: RunStatus, now: datetime) -> bool:
    """Move an open run between running and paused."""
    params = {"_id": run_id, "_status": status, "_now": now}
    return _set_status.rowcount(conn, params) == 1


def append(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert events, in the order given (ids ascend with it)."""
    if len(rows) == 1:
        _insert_event.rowcount(conn, rows[0])
    elif rows:
        conn.execute(_insert_events, list(rows))


def event_row(
    run_id: str,
    agent: str,
    type: str,
    payload: dict[str, Any],
    status: RunEventStatus,
    now: datetime,
    **extra: Any,
) -> dict[str, Any]:
    row = {
        "run_id": run_id,
        "agent": agent,
        "type": type,
        "payload": payload,
        "status": status,
        "step": None,
        "emitted_by": None,
        "request_id": None,
        "reply_type": None,
        "lease_owner": None,
        "lease_until": None,
        "attempts": 0,
        "created_at": now,
        "done_at": None,
    }
    row.update(extra)
    return row


def mark_done(
    conn: Connection, event_id: int, step: str, status: RunEventStatus, now: datetime
) -> tuple[str, str] | None:
    """Consume a pending event: (run id, agent), or None if it is no longer pending."""
    row = _done_if_pending.first(
        conn, {"_id": event_id, "_status": status, "_step": step, "_now": now}
    )
    return (row["run_id"], row["agent"]) if row else None


def get_event(conn: Connection, event_id: int) -> RunEvent | None:
    row = conn.execute(select(*_EVENT_COLUMNS).where(run_events.c.id == event_id)).first()
    return to_event(row) if row else None


def has_pending(conn: Connection, run_id: str) -> tuple[bool, bool]:
    """(any event pending, any event waiting) for the run."""
    found = {r["status"] for r in _open_statuses.rows(conn, {"_run_id": run_id})}
    return RunEventStatus.PENDING in found, RunEventStatus.WAITING in found


def take_waiting(
    conn: Connection, request_ids: Sequence[str], now: datetime
) -> list[tuple[int, str, str, dict[str, Any], str, str]]:
    """Mark done the request events waiting on these requests (one UPDATE ... RETURNING):
    (event id, run id, agent, payload, reply type, request id) of each."""
    if not request_ids:
        return []
    if len(request_ids) == 1:
        found = _take_waiting_one.rows(conn, {"_id": request_ids[0], "_now": now})
        return [tuple(row.values()) for row in found]
    rows = conn.execute(_take_waiting, {"_ids": list(request_ids), "_now": now})
    return [tuple(row) for row in rows]


def resume_runs(conn: Connection, run_ids: Sequence[str], now: datetime) -> None:
    """Paused runs whose human answered are running again."""
    if len(run_ids) == 1:
        _resume_run.rowcount(conn, {"_id": run_ids[0], "_now": now})
    else:
        conn.execute(_resume_runs, {"_ids": list(run_ids), "_now": now})


def cancel_open_events(conn: Connection, run_id: str, now: datetime) -> list[str]:
    """Cancel the run's pending and waiting events; the ids of the requests they waited on."""
    params = {"_run_id": run_id, "_now": now}
    return [r["request_id"] for r in _cancel_open_events.rows(conn, params) if r["request_id"]]


def claim(
    conn: Connection,
    agents: Sequence[str],
    worker: str,
    now: datetime,
    until: datetime,
    limit: int,
    *,
    skip_locked: bool,
) -> list[RunEvent]:
    """Lease up to ``limit`` pending events of these agents, oldest first: those with no
    lease, or whose lease ran out (its worker died or stalled)."""
    query = (
        select(run_events.c.id)
        .where(
            run_events.c.agent.in_(list(agents)),
            run_events.c.status == RunEventStatus.PENDING,
            or_(run_events.c.lease_until.is_(None), run_events.c.lease_until < now),
        )
        .order_by(run_events.c.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    rows = conn.execute(_lease, {"_ids": ids, "_owner": worker, "_until": until})
    return sorted((to_event(r) for r in rows), key=lambda e: e.id)


def renew(conn: Connection, ids: Sequence[int], worker: str, until: datetime) -> list[int]:
    """Extend the leases this worker still holds on these pending events; their ids."""
    rows = conn.execute(
        update(run_events)
        .where(
            run_events.c.id.in_(list(ids)),
            run_events.c.status == RunEventStatus.PENDING,
            run_events.c.lease_owner == worker,
        )
        .values(lease_until=until)
        .returning(run_events.c.id)
    )
    return sorted(rows.scalars())


def list_events(conn: Connection, run_id: str) -> list[RunEvent]:
    rows = conn.execute(
        select(*_EVENT_COLUMNS).where(run_events.c.run_id == run_id).order_by(run_events.c.id)
    )
    return [to_event(r) for r in rows]


def list_runs(
    conn: Connection,
    *,
    agent: str | None,
    status: Iterable[RunStatus],
    created_by: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Run], str | None]:
    """Newest first; the cursor of the next page, or None."""
    query = select(runs)
    if agent is not None:
        query = query.where(runs.c.agent == agent)
    if created_by is not None:
        query = query.where(runs.c.created_by == created_by)
    statuses = list(status)
    if statuses:
        query = query.where(runs.c.status.in_(statuses))
    order = (runs.c.created_at, runs.c.id)
    if cursor:
        query = query.where(tuple_(*order) < tuple_(*_decode(cursor)))
    rows = conn.execute(query.order_by(*(c.desc() for c in order)).limit(limit + 1)).all()
    items = [to_run(r) for r in rows[:limit]]
    if len(rows) <= limit:
        return items, None
    last = items[-1]
    return items, _encode(last.created_at, last.id)


def _encode(created_at: datetime, run_id: str) -> str:
    raw = f"{created_at.isoformat()}|{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, run_id = raw.split("|", 1)
        if len(run_id) > 40:
            raise ValueError(run_id)
        return datetime.fromisoformat(at), run_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidError(
            "cursor is not one this server gave out: pass next_cursor from the previous page",
            field="cursor",
            code="invalid_cursor",
        ) from None


def get_once(conn: Connection, run_id: str, key: str) -> tuple[bool, Any]:
    row = conn.execute(
        select(run_once.c.value).where(run_once.c.run_id == run_id, run_once.c.key == key)
    ).first()
    return (True, _unwrap(row.value)) if row else (False, None)


def record_once(conn: Connection, run_id: str, key: str, value: Any, now: datetime) -> bool:
    """Record the first value for the key; False if one was recorded already."""
    try:
        with conn.begin_nested():
            conn.execute(
                run_once.insert().values(
                    run_id=run_id, key=key, value=_wrap(value), recorded_at=now
                )
            )
    except IntegrityError:
        return False
    return True
