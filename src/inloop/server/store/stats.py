"""SQL for the dashboard's figures: counts and rates computed in the database, and the
answer times that the percentiles are taken from (``services.closed_hours``).

Each query reads an index range and nothing else (see ``ix_requests_resolved_at`` and
``ix_requests_created_at_level`` in the schema), so the dashboard stays fast with
hundreds of thousands of requests in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
)

from inloop.domain.enums import OPEN_STATUSES, EventType, Resolution, Status
from inloop.server.store.schema import agent_sessions, events, requests, tickets, users

# Ended by a policy rather than by a person: what "timed out" counts.
BY_POLICY = (Resolution.TIMED_OUT, Resolution.AUTO_APPROVED, Resolution.AUTO_REJECTED)
# Resolved (by anyone): a cancelled or transferred request was never answered either way.
RESOLVED = (Resolution.RESPONDED, *BY_POLICY)
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


def _resolved_between(since: datetime, until: datetime, *, inclusive: bool = True) -> Any:
    """[since, until], or [since, until) when not ``inclusive`` (a range of whole hours)."""
    upper = requests.c.resolved_at <= until if inclusive else requests.c.resolved_at < until
    return and_(requests.c.resolved_at >= since, upper)


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

    def __add__(self, other: Closed) -> Closed:
        closes = {r: self.closes.get(r, 0) + other.closes.get(r, 0) for r in _POLICY_VALUES}
        return Closed(
            self.resolved + other.resolved,
            self.by_policy + other.by_policy,
            self.answered + other.answered,
            self.late + other.late,
            closes,
        )


NOTHING_CLOSED = Closed(0, 0, 0)
_POLICY_VALUES = tuple(r.value for r in BY_POLICY)


def _counting(*resolutions: Resolution) -> Any:
    matches = requests.c.resolution.in_([r.value for r in resolutions])
    return func.coalesce(func.sum(case((matches, 1))), 0)


_late = func.coalesce(
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
_CLOSED_COLUMNS = (
    func.count(),
    _counting(Resolution.RESPONDED),
    _late,
    *(_counting(r) for r in BY_POLICY),
)


def _closed(resolved: int, answered: int, late: int, *by_kind: int) -> Closed:
    closes = {r: int(n) for r, n in zip(_POLICY_VALUES, by_kind, strict=True)}
    return Closed(resolved, sum(closes.values()), int(answered), int(late), closes)


def closed_between(
    conn: Connection, since: datetime, until: datetime, *, inclusive: bool = True
) -> Closed:
    row = conn.execute(
        select(*_CLOSED_COLUMNS)
        .where(_resolved_between(since, until, inclusive=inclusive))
        .where(requests.c.resolution.in_([r.value for r in RESOLVED]))
    ).one()
    return _closed(*row)


def _hour_of_resolution(dialect: str) -> Any:
    """The hour a request was resolved in: hours since the epoch on PostgreSQL, the
    stored text's ``YYYY-MM-DD HH`` on SQLite (exact at the hour's first microsecond,
    which julianday arithmetic is not)."""
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", requests.c.resolved_at) / 3600), BigInteger)
    return func.substr(requests.c.resolved_at, 1, 13)


def _hour_number(key: Any) -> int:
    if isinstance(key, str):  # SQLite's "YYYY-MM-DD HH", UTC
        at = datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)
        return int(at.timestamp()) // 3600
    return int(key)


def closed_by_hour(conn: Connection, since: datetime, until: datetime) -> dict[int, Closed]:
    """What closed in each hour of [since, until) (whole hours), by hour number (hours
    since the epoch); hours in which nothing closed are left out."""
    hour = _hour_of_resolution(conn.dialect.name)
    rows = conn.execute(
        select(hour, *_CLOSED_COLUMNS)
        .where(_resolved_between(since, until, inclusive=False))
        .where(requests.c.resolution.in_([r.value for r in RESOLVED]))
        .group_by(hour)
    )
    return {_hour_number(key): _closed(*counts) for key, *counts in rows}


def answer_seconds_by_hour(
    conn: Connection, since: datetime, until: datetime
) -> dict[int, list[float]]:
    """How long each request a human answered in [since, until) (whole hours) took, in
    seconds from its creation, by the hour it was answered in, each hour's sorted."""
    hour = _hour_of_resolution(conn.dialect.name)
    seconds = _seconds_to_answer(conn.dialect.name)
    rows = conn.execute(
        select(hour, seconds).where(
            _resolved_between(since, until, inclusive=False),
            requests.c.resolution == Resolution.RESPONDED.value,
        )
    )
    found: dict[Any, list[float]] = {}
    for key, value in rows:
        found.setdefault(key, []).append(round(float(value), 3))
    return {_hour_number(key): sorted(values) for key, values in found.items()}


def answer_seconds(
    conn: Connection, since: datetime, until: datetime, *, inclusive: bool = True
) -> list[float]:
    """How long each request a human answered in the range took, sorted (seconds)."""
    seconds = _seconds_to_answer(conn.dialect.name)
    rows = conn.execute(
        select(seconds).where(
            _resolved_between(since, until, inclusive=inclusive),
            requests.c.resolution == Resolution.RESPONDED.value,
        )
    )
    return sorted(round(float(v), 3) for v in rows.scalars())


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
