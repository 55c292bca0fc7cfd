"""SQL for the dashboard's figures: counts, percentiles and rates, computed in the database.

Each query reads an index range and nothing else (see ``ix_requests_resolved_at_resolution``
and ``ix_requests_created_at_level`` in the schema), so the dashboard stays fast with
hundreds of thousands of requests in the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import array

from inloop.domain.enums import OPEN_STATUSES, Resolution, Status
from inloop.server.store.schema import requests, users

# Ended by a policy rather than by a person: what "timed out" counts.
BY_POLICY = (Resolution.TIMED_OUT, Resolution.AUTO_APPROVED, Resolution.AUTO_REJECTED)
# Resolved (by anyone): a cancelled or transferred request was never answered either way.
RESOLVED = (Resolution.RESPONDED, *BY_POLICY)


@dataclass(frozen=True)
class OpenCount:
    priority_order: int
    status: str
    count: int


@dataclass(frozen=True)
class Outcomes:
    resolved: int
    by_policy: int
    created: int
    escalated: int


@dataclass(frozen=True)
class Load:
    handle: str
    name: str
    presence: str
    capacity: int | None
    last_active_at: datetime | None
    open_assigned: int
    answered: int


def open_counts(conn: Connection) -> list[OpenCount]:
    """Open requests by priority and status (``ix_requests_status_priority_order_...``)."""
    rows = conn.execute(
        select(requests.c.priority_order, requests.c.status, func.count())
        .where(requests.c.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(requests.c.priority_order, requests.c.status)
    )
    return [OpenCount(order, status, count) for order, status, count in rows]


def _answered_between(since: datetime, until: datetime) -> Any:
    return and_(
        requests.c.resolved_at >= since,
        requests.c.resolved_at <= until,
        requests.c.resolution == Resolution.RESPONDED.value,
    )


def _seconds_to_answer(dialect: str) -> Any:
    if dialect == "postgresql":
        return extract("epoch", requests.c.resolved_at - requests.c.created_at)
    # SQLite keeps timestamps as ISO text; julianday reads them (fractions included), as a
    # float of days whose last digits are noise: rounded to the millisecond.
    days = func.julianday(requests.c.resolved_at) - func.julianday(requests.c.created_at)
    return func.round(days * 86400, 3)


def response_percentiles(
    conn: Connection, since: datetime, until: datetime, fractions: Sequence[float]
) -> tuple[int, list[float | None]]:
    """How many requests a human answered in [since, until], and the time they took to
    be answered (seconds, from creation) at each fraction, interpolated between the two
    nearest values as PostgreSQL's ``percentile_cont`` does."""
    seconds = _seconds_to_answer(conn.dialect.name)
    window = _answered_between(since, until)
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            select(
                func.count(),
                func.percentile_cont(array([literal_column(repr(float(f))) for f in fractions]))
                .within_group(cast(seconds, Float))
                .label("p"),
            ).where(window)
        ).one()
        values = row.p or [None] * len(fractions)
        return row[0], [None if v is None else float(v) for v in values]
    # SQLite has no percentile function: number the sorted values once and keep the rows
    # either side of each fraction's position.
    ranked = (
        select(
            seconds.label("s"),
            (func.row_number().over(order_by=seconds) - 1).label("i"),
            func.count().over().label("n"),
        )
        .where(window)
        .subquery()
    )
    lows = [cast((ranked.c.n - 1) * f, Integer) for f in fractions]
    wanted = [ranked.c.i == low for low in lows] + [ranked.c.i == low + 1 for low in lows]
    rows = conn.execute(select(ranked.c.i, ranked.c.n, ranked.c.s).where(or_(*wanted)))
    at: dict[int, float] = {}
    total = 0
    for i, n, s in rows:
        at[i], total = float(s), n
    if total == 0:
        return 0, [None] * len(fractions)
    return total, [_interpolate(at, (total - 1) * f) for f in fractions]


def _interpolate(at: dict[int, float], position: float) -> float:
    low = math.floor(position)
    high = min(low + 1, max(at))
    fraction = position - low
    return at[low] + (at[high] - at[low]) * fraction


def outcomes(conn: Connection, since: datetime, until: datetime) -> Outcomes:
    """Requests resolved in [since, until] and how many of them a policy closed; requests
    created in it and how many of those were escalated (reached a level above 0)."""
    closed = conn.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((requests.c.resolution.in_([r.value for r in BY_POLICY]), 1))), 0
            ),
        ).where(
            requests.c.resolved_at >= since,
            requests.c.resolved_at <= until,
            requests.c.resolution.in_([r.value for r in RESOLVED]),
        )
    ).one()
    opened = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((requests.c.level > 0, 1))), 0),
        ).where(requests.c.created_at >= since, requests.c.created_at <= until)
    ).one()
    return Outcomes(
        resolved=closed[0], by_policy=int(closed[1]), created=opened[0], escalated=int(opened[1])
    )


# What a user holds open: an index range count per user (ix_requests_assigned_to_status).
_held = (
    select(func.count())
    .where(requests.c.assigned_to == users.c.handle, requests.c.status == Status.ASSIGNED.value)
    .correlate(users)
    .scalar_subquery()
)


def load_per_user(
    conn: Connection, since: datetime, until: datetime, only: str | None = None
) -> list[Load]:
    """Every enabled user (or only the one handle): what they hold open now and what they
    answered in the window."""
    by = requests.c.resolved_by == f"user:{only}" if only else requests.c.resolved_by.like("user:%")
    answered: dict[str, int] = {
        actor: count
        for actor, count in conn.execute(
            select(requests.c.resolved_by, func.count())
            .where(_answered_between(since, until), by)
            .group_by(requests.c.resolved_by)
        )
    }
    rows = conn.execute(
        select(
            users.c.handle,
            users.c.name,
            users.c.presence,
            users.c.capacity,
            users.c.last_active_at,
            _held,
        )
        .where(users.c.disabled.is_(False), *([users.c.handle == only] if only else []))
        .order_by(users.c.handle)
    )
    return [
        Load(
            handle=handle,
            name=name,
            presence=presence,
            capacity=capacity,
            last_active_at=last_active_at,
            open_assigned=open_assigned,
            answered=answered.get(f"user:{handle}", 0),
        )
        for handle, name, presence, capacity, last_active_at, open_assigned in rows
    ]
