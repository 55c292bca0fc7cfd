"""The monitoring figures (the dashboard, ``/v1/stats``, ``/metrics``, the alert rules):
what is open, how fast humans answer, how often deadlines are missed and policies or
escalations step in, and how loaded each human is. Read-only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from inloop.domain.durations import parse_duration
from inloop.domain.enums import Priority, Scope, Status
from inloop.domain.errors import InvalidError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.monitoring import (
    ActionCount,
    DayEscalations,
    HumanLoad,
    OpenByPriority,
    PriorityCount,
    Rate,
    ReasonCount,
    ResponseTimes,
    SlaBreaches,
    Stats,
)
from inloop.domain.routing import effective_presence
from inloop.server.services.clock import Clock
from inloop.server.services.closed_hours import ClosedHours, percentiles
from inloop.server.services.lifecycle import Policy
from inloop.server.store import stats as sql
from inloop.server.store.database import Database

log = logging.getLogger(__name__)
DEFAULT_WINDOW = "7d"
WARM_WINDOW = timedelta(days=30)  # the dashboard's longest window
PERCENTILES = (0.5, 0.9, 0.99)
_BY_ORDER = {p.order: p for p in Priority}
TOP_REASONS = 10
# The order of timeouts by action: escalation steps taken, then closes by a policy.
ACTIONS = ("escalated", "queued", "timed_out", "auto_approved", "auto_rejected")
__all__ = ["DEFAULT_WINDOW", "Stats", "StatsService", "parse_window"]


def parse_window(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidError(str(exc), field="window", code="validation_error") from None


class StatsService:
    def __init__(self, db: Database, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.closed = ClosedHours(db)
        self._warming: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the past hours of the longest window the desk offers in the background,
        so that the first dashboard after a start does not wait for them."""
        self._warming = asyncio.create_task(self._warm(), name="inloop-stats-warm")

    async def stop(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming

    async def _warm(self) -> None:
        until = self.clock.now()
        try:
            await self.closed.between(until - WARM_WINDOW, until)
        except Exception:  # the first page reads them instead
            log.exception("reading the past hours' figures at start failed")

    async def stats(self, principal: Principal, window: str = DEFAULT_WINDOW) -> Stats:
        """Admins see everyone's load; a responder acting for a user sees the totals and
        only their own load. Other callers are refused."""
        only: str | None = None
        if not principal.is_admin:
            principal.require(Scope.RESPONDER)
            if principal.handle is None:
                raise PermissionDeniedError(
                    "the figures are for admins, or responders acting for a user",
                    code="forbidden",
                )
            only = principal.handle
        return await self.figures(window, only=only)

    async def figures(self, window: str, *, only: str | None = None) -> Stats:
        """The figures over the ``window`` ending now, for a caller already authorised
        (``/metrics``, the alert evaluator); ``only`` limits the load to one handle."""
        span = parse_window(window)
        until = self.clock.now()
        since = until - span
        # Independent reads run side by side on the read pool (separate connections), so
        # the page waits for the slowest figure rather than for their sum.
        counts, window_closed, load, events, per_day = await asyncio.gather(
            self.db.read(sql.open_counts),
            self.closed.between(since, until),
            self.db.read(sql.load_per_user, since, until, only),
            self.db.read(_from_events, since, until),
            self.db.read(sql.escalations_per_day, since, until),
        )
        reasons, steps, sessions, ticket_reasons, ticket_counts = events
        closed, answer_times = window_closed.counts, window_closed.seconds
        p50, p90, p99 = percentiles(answer_times, PERCENTILES)
        created = sum(day[1] for day in per_day)
        escalated = sum(day[2] for day in per_day)
        open_ = _by_priority(counts)
        timed_out, late = closed.by_policy, closed.late
        return Stats(
            window=window,
            since=since,
            until=until,
            open=open_,
            open_total=sum(o.total for o in open_),
            response_times=ResponseTimes(
                answered=closed.answered, p50=p50, p90=p90, p99=p99, sample=len(answer_times)
            ),
            timeouts=_rate(closed.by_policy, closed.resolved),
            escalations=_rate(escalated, created),
            load=[
                HumanLoad(
                    handle=row.handle,
                    name=row.name,
                    presence=effective_presence(
                        row.presence, row.last_active_at, until, self.policy.away_after
                    ),
                    capacity=row.capacity,
                    open_assigned=row.open_assigned,
                    answered=row.answered,
                    utilisation=row.open_assigned / row.capacity if row.capacity else None,
                )
                for row in load
            ],
            session_escalations=_rate(sessions[1], sessions[0]),
            tickets=[
                PriorityCount(priority=p, count=ticket_counts.get(p, 0))
                for p in ("urgent", "high", "normal")
            ],
            top_reasons=_top(ticket_reasons, reasons),
            sla_breaches=SlaBreaches(
                answered_late=late,
                timed_out=timed_out,
                total=late + timed_out,
                out_of=closed.resolved,
                rate=(late + timed_out) / closed.resolved if closed.resolved else None,
            ),
            timeouts_by_action=[
                ActionCount(action=a, count=steps.get(a, closed.closes.get(a, 0))) for a in ACTIONS
            ],
            per_day=_days(since, until, per_day),
        )


def _by_priority(counts: list[sql.OpenCount]) -> list[OpenByPriority]:
    """Every priority, urgent first, with zeros where nothing is open."""
    found = {(c.priority_order, c.status): c.count for c in counts}
    rows = []
    for order in sorted(_BY_ORDER):
        pending = found.get((order, Status.PENDING.value), 0)
        assigned = found.get((order, Status.ASSIGNED.value), 0)
        rows.append(
            OpenByPriority(
                priority=_BY_ORDER[order],
                pending=pending,
                assigned=assigned,
                total=pending + assigned,
            )
        )
    return rows


def _rate(count: int, out_of: int) -> Rate:
    return Rate(count=count, out_of=out_of, rate=count / out_of if out_of else None)


_Reasons = list[tuple[str, int]]


def _from_events(
    conn: Connection, since: datetime, until: datetime
) -> tuple[_Reasons, dict[str, int], tuple[int, int], _Reasons, dict[str, int]]:
    """The figures read from audit events (``ix_events_type_at``), agent sessions and
    tickets (their ``created_at`` indexes): small ranges, one after another."""
    return (
        sql.escalation_reasons(conn, since, until, TOP_REASONS),
        sql.timeout_steps(conn, since, until),
        sql.session_escalations(conn, since, until),
        sql.ticket_reasons(conn, since, until, TOP_REASONS),
        sql.tickets_by_priority(conn, since, until),
    )


def _top(tickets: _Reasons, requests: _Reasons) -> list[ReasonCount]:
    """Tickets' and escalations' reasons together, most frequent first (tickets first on
    a tie: the reason an agent gave)."""
    merged = [ReasonCount(reason=r, count=n, source="ticket") for r, n in tickets]
    merged += [ReasonCount(reason=r, count=n, source="request") for r, n in requests]
    merged.sort(key=lambda r: (-r.count, r.source != "ticket", r.reason))
    return merged[:TOP_REASONS]


def _days(
    since: datetime, until: datetime, rows: list[tuple[str, int, int]]
) -> list[DayEscalations]:
    """Every UTC day from ``since`` to ``until``, with zeros where nothing was created."""
    found = {day: (created, escalated) for day, created, escalated in rows}
    out = []
    day = since.astimezone(UTC).date()
    while day <= until.astimezone(UTC).date():
        created, escalated = found.get(day.isoformat(), (0, 0))
        out.append(
            DayEscalations(
                day=day,
                created=created,
                escalated=escalated,
                rate=escalated / created if created else None,
            )
        )
        day += timedelta(days=1)
    return out
