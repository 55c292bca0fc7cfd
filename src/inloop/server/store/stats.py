"""SQL for the dashboard's figures: counts, percentiles and rates, computed in the database.

Each query reads an index range and nothing else (see ``ix_requests_resolved_at_resolution``
and ``ix_requests_created_at_level`` in the schema), so the dashboard stays fast with
hundreds of thousands of requests in the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import array

from inloop.domain.enums import OPEN_STATUSES, EventType, Resolution, Status
from inloop.server.store.schema import agent_sessions, events, requests, tickets, users

# Ended by a policy rather than by a person: what "timed out" counts.
BY_POLICY = (Resolution.TIMED_OUT, Resolution.AUTO_APPROVED, Resolution.AUTO_REJECTED)
# Resolved (by anyone): a cancelled or transferred request was never answered either way.
RESOLVED = (Resolution.RESPONDED, *BY_POLICY)
# Beyond this many answers in a window, SQLite reads the percentiles from a sample.
SAMPLE = 5_000
# The actor of what the scheduler does (services.lifecycle.SYSTEM).
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class OpenCount:
    priority_order: int
    status: str
    count: int


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


def _resolved_between(since: datetime, until: datetime) -> Any:
    return and_(requests.c.resolved_at >= since, requests.c.resolved_at <= until)


def _seconds_to_answer(dialect: str) -> Any:
    if dialect == "postgresql":
        return extract("epoch", requests.c.resolved_at - requests.c.created_at)
    # SQLite keeps timestamps as ISO text; julianday reads them (fractions included) as a
    # float of days whose last digits are noise (rounded to the millisecond once read).
    return (func.julianday(requests.c.resolved_at) - func.julianday(requests.c.created_at)) * 86400


@dataclass(frozen=True)
class Closed:
    """The requests closed in a window: one aggregate pass over ``ix_requests_resolved_at``
    (which holds the deadline too, so late answers are counted from the index alone)."""

    resolved: int  # answered by a human or closed by a policy (not cancelled, transferred)
    by_policy: int
    answered: int
    late: int = 0  # answered after the deadline in force when answered
    closes: dict[str, int] = field(default_factory=dict)  # by_policy, by resolution


def closed_between(conn: Connection, since: datetime, until: datetime) -> Closed:
    def counting(*resolutions: Resolution) -> Any:
        matches = requests.c.resolution.in_([r.value for r in resolutions])
        return func.coalesce(func.sum(case((matches, 1))), 0)

    late = func.coalesce(
        func.sum(
            case(
                (
                    and_(
                        requests.c.resolution == Resolution.RESPONDED.value,
                        requests.c.due_at.is_not(None),
                        requests.c.resolved_at > requests.c.due_at,
                    ),
                    1,
                )
            )
        ),
        0,
    )
    resolved, answered, late_count, *by_kind = conn.execute(
        select(
            func.count(), counting(Resolution.RESPONDED), late, *(counting(r) for r in BY_POLICY)
        )
        .where(_resolved_between(since, until))
        .where(requests.c.resolution.in_([r.value for r in RESOLVED]))
    ).one()
    closes = {r.value: int(n) for r, n in zip(BY_POLICY, by_kind, strict=True)}
    return Closed(resolved, sum(closes.values()), int(answered), int(late_count), closes)


def escalations(conn: Connection, since: datetime, until: datetime) -> tuple[int, int]:
    """Requests created in [since, until], and how many of them were escalated (reached a
    level above 0), from ``ix_requests_created_at_level``."""
    created, escalated = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((requests.c.level > 0, 1))), 0)).where(
            requests.c.created_at >= since, requests.c.created_at <= until
        )
    ).one()
    return created, int(escalated)


def response_percentiles(
    conn: Connection,
    since: datetime,
    until: datetime,
    fractions: Sequence[float],
    *,
    answered: int,
    sample: int = SAMPLE,
) -> tuple[list[float | None], int]:
    """The time requests answered by a human in [since, until] took to be answered
    (seconds from creation) at each fraction, interpolated between the two nearest values
    as PostgreSQL's ``percentile_cont`` does; and how many answers that was read from.

    ``answered`` is how many there are (from :func:`closed_between`). PostgreSQL reads
    them all. SQLite has no percentile function and sorts the values itself: beyond
    ``sample`` answers it reads every k-th row (by rowid, which follows the order rows
    were written in, not how long they took), so the cost stays that of ``sample`` rows.
    """
    if answered == 0:
        return [None] * len(fractions), 0
    seconds = _seconds_to_answer(conn.dialect.name)
    window = and_(
        _resolved_between(since, until), requests.c.resolution == Resolution.RESPONDED.value
    )
    if conn.dialect.name == "postgresql":
        values = conn.execute(
            select(
                func.percentile_cont(
                    array([literal_column(repr(float(f))) for f in fractions])
                ).within_group(cast(seconds, Float))
            ).where(window)
        ).scalar()
        return [None if v is None else float(v) for v in values or []], answered
    query = select(seconds).where(window).order_by(seconds)
    if answered > sample:
        step = math.ceil(answered / sample)
        query = query.where(literal_column("requests.rowid") % step == 0)
    ordered = [round(float(v), 3) for v in conn.execute(query).scalars()]
    if not ordered:
        return [None] * len(fractions), 0
    return [_interpolate(ordered, (len(ordered) - 1) * f) for f in fractions], len(ordered)


def _interpolate(ordered: list[float], position: float) -> float:
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# What a user holds open: an index range count per user (ix_requests_assigned_to_status).
_held = (
    select(func.count())
    .where(requests.c.assigned_to == users.c.handle, requests.c.status == Status.ASSIGNED.value)
    .correlate(users)
    .scalar_subquery()
)


def _answered(since: datetime, until: datetime) -> Any:
    """What a user answered in the window: an index range count (ix_requests_resolved_by)."""
    return (
        select(func.count())
        .where(
            requests.c.resolved_by == literal("user:") + users.c.handle,
            requests.c.resolution == Resolution.RESPONDED.value,
            _resolved_between(since, until),
        )
        .correlate(users)
        .scalar_subquery()
    )


def load_per_user(
    conn: Connection, since: datetime, until: datetime, only: str | None = None
) -> list[Load]:
    """Every enabled user (or only the one handle): what they hold open now, and what they
    answered in [since, until]."""
    rows = conn.execute(
        select(
            users.c.handle,
            users.c.name,
            users.c.presence,
            users.c.capacity,
            users.c.last_active_at,
            _held,
            _answered(since, until),
        )
        .where(users.c.disabled.is_(False), *([users.c.handle == only] if only else []))
        .order_by(users.c.handle)
    )
    return [Load(*row) for row in rows]


def _events_between(since: datetime, until: datetime, *types: EventType) -> Any:
    return and_(
        events.c.type.in_([t.value for t in types]), events.c.at >= since, events.c.at <= until
    )


def escalation_reasons(
    conn: Connection, since: datetime, until: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """The reasons of the escalations in [since, until], most frequent first
    (``ix_events_type_at``: only the window's escalation events are read)."""
    reason = func.coalesce(events.c.reason, "unknown")
    rows = conn.execute(
        select(reason, func.count().label("n"))
        .where(_events_between(since, until, EventType.ESCALATED))
        .group_by(reason)
        .order_by(literal_column("n").desc(), reason)
        .limit(limit)
    )
    return [(text, count) for text, count in rows]


def timeout_steps(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    """Escalation steps the system took in [since, until] (a deadline passed), by event
    type: escalated, queued. Escalations a person asked for are not counted."""
    rows = conn.execute(
        select(events.c.type, func.count())
        .where(_events_between(since, until, EventType.ESCALATED, EventType.QUEUED))
        .where(events.c.actor == SYSTEM_ACTOR)
        .group_by(events.c.type)
    )
    return {kind: count for kind, count in rows}


def escalations_per_day(
    conn: Connection, since: datetime, until: datetime
) -> list[tuple[str, int, int]]:
    """(UTC day, created, escalated) for each day of [since, until]: one range count per
    day on ``ix_requests_created_at_level`` (a covering index), which reads the same rows
    as a GROUP BY of the whole window without sorting them by day."""
    count = select(func.count(), func.coalesce(func.sum(case((requests.c.level > 0, 1))), 0))
    start = since.astimezone(UTC)
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    found = []
    while day <= until:
        low, high = max(day, since), day + timedelta(days=1)
        upper = requests.c.created_at < high if high <= until else requests.c.created_at <= until
        created, escalated = conn.execute(count.where(requests.c.created_at >= low, upper)).one()
        found.append((day.date().isoformat(), created, int(escalated)))
        day = high
    return found


def session_escalations(conn: Connection, since: datetime, until: datetime) -> tuple[int, int]:
    """Agent sessions created in [since, until], and how many of them were escalated to a
    human (a handoff ticket opened), from ``ix_agent_sessions_created_at``: seed 004's
    escalation rate."""
    created, escalated = conn.execute(
        select(
            func.count(), func.coalesce(func.sum(case((agent_sessions.c.escalated, 1))), 0)
        ).where(agent_sessions.c.created_at >= since, agent_sessions.c.created_at <= until)
    ).one()
    return created, int(escalated)


def ticket_reasons(
    conn: Connection, since: datetime, until: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """The reasons of the handoff tickets opened in [since, until], most frequent first
    (``ix_tickets_created_at``)."""
    rows = conn.execute(
        select(tickets.c.reason, func.count().label("n"))
        .where(tickets.c.created_at >= since, tickets.c.created_at <= until)
        .group_by(tickets.c.reason)
        .order_by(literal_column("n").desc(), tickets.c.reason)
        .limit(limit)
    )
    return [(text, count) for text, count in rows]


def tickets_by_priority(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    rows = conn.execute(
        select(tickets.c.priority, func.count())
        .where(tickets.c.created_at >= since, tickets.c.created_at <= until)
        .group_by(tickets.c.priority)
    )
    return {priority: count for priority, count in rows}
