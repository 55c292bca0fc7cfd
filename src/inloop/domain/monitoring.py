"""The monitoring figures: what is open, how fast humans answer, how often deadlines are
missed and policies or escalations step in, and how loaded each human is.

The server computes them (``services/stats.py``); the SDK, the CLI, ``/metrics`` and the
alert rules read them. Shared here so both sides parse the same shapes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from inloop.domain.enums import Presence, Priority


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
    sample: int = Field(description="How many answers the percentiles were read from: all of them.")


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


class ReasonCount(BaseModel):
    reason: str
    count: int
    source: Literal["ticket", "request"] = Field(
        default="request",
        description="ticket: the reason a handoff ticket was opened with; request: the "
        "reason of a request's escalation (a timeout's, or the one an escalation was given).",
    )


class PriorityCount(BaseModel):
    priority: str
    count: int


class ActionCount(BaseModel):
    action: str = Field(
        description="What a timeout led to: escalated, queued (the escalation steps taken "
        "in the window), timed_out, auto_approved, auto_rejected (requests a policy closed)."
    )
    count: int


class SlaBreaches(BaseModel):
    """Requests resolved in the window that missed their deadline."""

    answered_late: int = Field(
        description="Answered by a human after the deadline in force when they answered."
    )
    timed_out: int = Field(
        description="Closed by a policy when the deadline passed (timed_out, auto_approved, "
        "auto_rejected)."
    )
    total: int
    out_of: int = Field(description="Requests resolved in the window.")
    rate: float | None = Field(description="total / out_of; null when out_of is 0.")


class DayEscalations(BaseModel):
    day: date
    created: int
    escalated: int
    rate: float | None


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
    session_escalations: Rate = Field(
        default_factory=lambda: Rate(count=0, out_of=0, rate=None),
        description="Seed 004's escalation rate: agent sessions created in the window that "
        "were escalated to a human (a handoff ticket), out of all created in it.",
    )
    tickets: list[PriorityCount] = Field(
        default_factory=list,
        description="Handoff tickets opened in the window, by priority (urgent, high, normal).",
    )
    top_reasons: list[ReasonCount] = Field(
        default_factory=list,
        description="The most frequent reasons in the window, from handoff tickets and "
        "requests' escalations, most frequent first (at most 10).",
    )
    sla_breaches: SlaBreaches | None = None
    timeouts_by_action: list[ActionCount] = Field(
        default_factory=list, description="Every action, with zeros, in a fixed order."
    )
    per_day: list[DayEscalations] = Field(
        default_factory=list,
        description="Requests created and escalated per UTC day of the window, oldest first.",
    )
