"""Set-based SQL for the scheduler: lock many requests, close many, log many events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from inloop.domain.enums import OPEN_STATUSES
from inloop.domain.requests import Event, Request
from inloop.server.store.database import Tx
from inloop.server.store.schema import events, requests

# One multi-row INSERT ... RETURNING; rows come back in no set order, so each carries its
# request id to be matched (emit_many takes one event per request).
_insert_events = events.insert().returning(events.c.id, events.c.request_id)


def lock_requests(conn: Connection, ids: Sequence[str]) -> dict[str, Request]:
    """The requests, row-locked until the transaction ends (PostgreSQL), by id."""
    if not ids:
        return {}
    result = conn.execute(
        select(requests).where(requests.c.id.in_(sorted(set(ids)))).with_for_update()
    )
    keys = list(result.keys())  # once, rather than a mapping view per row
    found = (Request.model_validate(dict(zip(keys, row, strict=True))) for row in result)
    return {request.id: request for request in found}


def close_open(conn: Connection, ids: Sequence[str], values: dict[str, Any]) -> set[str]:
    """Set ``values`` on those of ``ids`` still open, in one statement; the ids changed."""
    rows = conn.execute(
        update(requests)
        .where(
            requests.c.id.in_(bindparam("_ids", expanding=True)),
            requests.c.status.in_(bindparam("_open", expanding=True)),
        )
        .returning(requests.c.id),
        {"_ids": list(ids), "_open": list(OPEN_STATUSES), **values},
    )
    return set(rows.scalars())


def emit_many(tx: Tx, items: Sequence[tuple[dict[str, Any], Request]]) -> None:
    """Append one audit event for each of many requests in one statement; published
    after the commit, in the order given. Each event is a row of the events table
    without its id (the fields of ``NewEvent``), built by trusted code."""
    if not items:
        return
    rows = [row for row, _ in items]
    ids = dict(
        (request_id, event_id) for event_id, request_id in tx.conn.execute(_insert_events, rows)
    )
    if len(ids) != len(rows):
        raise ValueError("emit_many takes one event per request")
    tx.published.extend(
        # model_construct: these rows were just written from typed values, not read back
        (Event.model_construct(id=ids[row["request_id"]], **row), request)
        for row, request in items
    )
