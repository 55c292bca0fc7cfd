"""The dashboard's figures: what is open, how fast humans answer, how often policies and
escalations step in, and how loaded each human is. Read-only."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from inloop.domain.durations import parse_duration
from inloop.domain.enums import Presence, Priority, Scope, Status
from inloop.domain.errors import InvalidError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.routing import effective_presence
from inloop.server.services.clock import Clock
from inloop.server.services.lifecycle import Policy
from inloop.server.store import stats as sql
from inloop.server.store.database import Database

DEFAULT_WINDOW = "7d"
PERCENTILES = (0.5, 0.9, 0.99)
_BY_ORDER = {p.order: p for p in Priority}


class OpenByPriority(BaseModel):
    priority: Priority
    pending: int
    assigned: int
    total: int


class ResponseTimes(BaseModel):
    """Seconds from creation to a human's answer, for the requests answered in the window."""

    answered: int
    p50: float | None = Field(description="Median seconds; null when nothing was answered.")
    p90: float | None
    p99: float | None
    sample: int = Field(
        description="How many answers the percentiles were read from: all of them, or on "
        "SQLite beyond 5,000 in the window, an even sample of about 5,000."
    )


class Rate(BaseModel):
    count: int
    out_of: int
    rate: float | None = Field(description="count / out_of; null when out_of is 0.")


class HumanLoad(BaseModel):
    handle: str
    name: str
    presence: Presence
    capacity: int | None
    open_assigned: int
    answered: int = Field(description="Requests this human answered in the window.")
    utilisation: float | None = Field(
        description="open_assigned / capacity; null when uncapped (or the capacity is 0)."
    )


class Stats(BaseModel):
    window: str
    since: datetime
    until: datetime
    open: list[OpenByPriority] = Field(description="Urgent first, every priority present.")
    open_total: int
    response_times: ResponseTimes
    timeouts: Rate = Field(
        description="Resolved in the window by a policy (timed_out, auto_approved, "
        "auto_rejected), out of all resolved in the window."
    )
    escalations: Rate = Field(
        description="Created in the window and escalated at least once, out of all created."
    )
    load: list[HumanLoad] = Field(
        description="Every enabled user, by handle (for a non-admin, only themselves)."
    )


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
        span = parse_window(window)
        until = self.clock.now()
        since = until - span
        # Independent reads run side by side on the read pool (separate connections), so
        # the page waits for the slowest figure rather than for their sum.
        counts, (closed, percentiles), (created, escalated), load = await asyncio.gather(
            self.db.read(sql.open_counts),
            self._response_times(since, until),
            self.db.read(sql.escalations, since, until),
            self.db.read(sql.load_per_user, since, until, only),
        )
        (p50, p90, p99), read = percentiles
        open_ = _by_priority(counts)
        return Stats(
            window=window,
            since=since,
            until=until,
            open=open_,
            open_total=sum(o.total for o in open_),
            response_times=ResponseTimes(
                answered=closed.answered, p50=p50, p90=p90, p99=p99, sample=read
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
        )

    async def _response_times(
        self, since: datetime, until: datetime
    ) -> tuple[sql.Closed, tuple[list[float | None], int]]:
        closed = await self.db.read(sql.closed_between, since, until)
        percentiles = await self.db.read(
            sql.response_percentiles, since, until, PERCENTILES, answered=closed.answered
        )
        return closed, percentiles


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
