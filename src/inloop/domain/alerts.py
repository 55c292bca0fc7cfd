"""Alert rules: ``escalation_rate > 0.15 over 7d``, parsed, explained, and judged against
the monitoring figures. Pure: the server evaluates them on its clock (services/alerts.py).

A rule is ``METRIC OP THRESHOLD over WINDOW [for DURATION]``. Rates take a fraction or a percentage
(``0.15``, ``15%``); response times a duration or seconds (``2h``, ``90m``, ``7200``);
counts a whole number. An alert is *firing* while its rule holds and *ok* otherwise: it
notifies when it starts firing (and, if asked, when it recovers), never on every
evaluation.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.durations import parse_duration
from inloop.domain.errors import InvalidError
from inloop.domain.identity import Name
from inloop.domain.monitoring import Stats

CODE = "invalid_alert_rule"
MAX_RULE = 200
Unit = Literal["rate", "seconds", "count"]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("escalation_rate", "rate", "requests escalated at least once / created"),
        Metric("session_escalation_rate", "rate", "agent sessions escalated to a human / created"),
        Metric("timeout_rate", "rate", "requests a policy closed / resolved"),
        Metric("sla_breach_rate", "rate", "requests answered late or timed out / resolved"),
        Metric("p50_response", "seconds", "median time to a human's answer"),
        Metric("p90_response", "seconds", "90th percentile of the time to an answer"),
        Metric("p99_response", "seconds", "99th percentile of the time to an answer"),
        Metric("escalations", "count", "requests created and escalated in the window"),
        Metric("timeouts", "count", "requests a policy closed in the window"),
        Metric("sla_breaches", "count", "requests answered late or timed out in the window"),
        Metric("open_requests", "count", "requests open now (the window is not used)"),
        Metric("tickets", "count", "handoff tickets opened in the window"),
    )
}
OPS = (">=", "<=", ">", "<")
_RULE = re.compile(
    r"\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)?\s*(?P<op>>=|<=|>|<|==|=|!=)?\s*"
    r"(?P<threshold>[^\s]+)?\s*(?P<over>[A-Za-z]+)?\s*(?P<window>[^\s]+)?\s*(?P<rest>.*)"
)


class AlertState(StrEnum):
    OK = "ok"
    FIRING = "firing"


@dataclass(frozen=True)
class Rule:
    """A parsed rule. ``threshold`` is in the metric's unit (a fraction, seconds, a count)."""

    metric: str
    op: str
    threshold: float
    window: str
    hold: str | None = None  # ``for 10m``: fire only once it has held this long

    @property
    def unit(self) -> Unit:
        return METRICS[self.metric].unit

    def holds(self, value: float | None) -> bool:
        """Whether the rule is breached by ``value``; no value (nothing to measure) is not."""
        if value is None:
            return False
        return {
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            "<=": value <= self.threshold,
        }[self.op]

    def text(self) -> str:
        held = f" for {self.hold}" if self.hold else ""
        return f"{self.metric} {self.op} {show(self.unit, self.threshold)} over {self.window}{held}"


def _invalid(message: str) -> InvalidError:
    return InvalidError(message, field="rule", code=CODE)


def parse_rule(text: str) -> Rule:
    """Parse ``METRIC OP THRESHOLD over WINDOW``; an InvalidError says what is wrong."""
    if len(text) > MAX_RULE:
        raise _invalid(f"the rule is {len(text)} characters long: at most {MAX_RULE}")
    example = "write METRIC OP THRESHOLD over WINDOW, such as 'escalation_rate > 0.15 over 7d'"
    if not text.strip():
        raise _invalid(f"the rule is empty: {example}")
    match = _RULE.fullmatch(text)
    assert match is not None  # every part is optional
    metric, op, threshold = match["metric"], match["op"], match["threshold"]
    if metric is None:
        raise _invalid(f"a rule starts with a metric name: {example}")
    if metric.lower() not in METRICS:
        close = difflib.get_close_matches(metric.lower(), METRICS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _invalid(f"unknown metric {metric!r}: {hint}the metrics are {', '.join(METRICS)}")
    found = METRICS[metric.lower()]
    if op is None:
        raise _invalid(f"after {found.name} comes a comparison: one of {', '.join(OPS)}")
    if op not in OPS:
        raise _invalid(f"{op!r} is not a comparison an alert can use: one of {', '.join(OPS)}")
    if threshold is None:
        raise _invalid(f"after {found.name} {op} comes a threshold ({_expects(found.unit)})")
    value = _threshold(found, threshold)
    over, window, rest = match["over"], match["window"], match["rest"]
    if over is None or over.lower() != "over":
        got = f" (not {over!r})" if over else ""
        raise _invalid(f"after the threshold comes 'over WINDOW', such as 'over 7d'{got}")
    if window is None:
        raise _invalid("'over' needs a window: a duration such as 1d, 7d or 24h")
    try:
        parse_duration(window)
    except ValueError as exc:
        raise _invalid(f"the window: {exc}") from None
    hold = _hold(rest) if rest else None
    return Rule(found.name, op, value, window, hold)


def _hold(rest: str) -> str:
    """``for DURATION``: how long the rule must hold before the alert fires."""
    word, _, duration = rest.partition(" ")
    if word.lower() != "for":
        raise _invalid(
            f"unexpected {rest!r} after the window: the rule ends there, or goes on with "
            "'for DURATION' (such as 'for 10m')"
        )
    duration = duration.strip()
    if not duration:
        raise _invalid("'for' needs a duration, such as 'for 10m'")
    if " " in duration:
        raise _invalid(f"unexpected {duration.split(' ', 1)[1]!r} after 'for': the rule ends there")
    try:
        parse_duration(duration)
    except ValueError as exc:
        raise _invalid(f"'for': {exc}") from None
    return duration


def _expects(unit: Unit) -> str:
    return {
        "rate": "a fraction such as 0.15 or a percentage such as 15%",
        "seconds": "a duration such as 2h or 90m, or seconds",
        "count": "a whole number",
    }[unit]


def _threshold(metric: Metric, text: str) -> float:
    wrong = _invalid(f"{text!r} is not a threshold for {metric.name}: {_expects(metric.unit)}")
    if metric.unit == "rate":
        percent = text.endswith("%")
        try:
            value = float(text[:-1] if percent else text)
        except ValueError:
            raise wrong from None
        value = value / 100 if percent else value
        if not 0 <= value <= 1:
            raise _invalid(f"{text!r} is not a rate: use a fraction from 0 to 1, or 0% to 100%")
        return value
    if metric.unit == "count":
        if not text.isdigit():
            raise wrong
        return float(int(text))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        return parse_duration(text).total_seconds()
    except ValueError:
        raise wrong from None


def show(unit: Unit, value: float) -> str:
    """A value as a rule writes it: 0.15, 2h, 12."""
    if unit == "count":
        return str(int(value))
    if unit == "rate":
        return f"{value:g}"
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{suffix}"
    return f"{value:g}s"


def describe(unit: Unit, value: float | None) -> str:
    """A measured value as a person reads it: 17.5%, 2.5 h, 12; "no data" for None."""
    if value is None:
        return "no data"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return str(int(value))
    for suffix, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size:
            return f"{value / size:.1f} {suffix}"
    return f"{value:.0f} s"


def measure(metric: str, stats: Stats) -> float | None:
    """The metric's value in ``stats`` (computed over the rule's window); None: no data."""
    times = stats.response_times
    breaches = stats.sla_breaches
    value: float | None = {
        "escalation_rate": stats.escalations.rate,
        "session_escalation_rate": stats.session_escalations.rate,
        "timeout_rate": stats.timeouts.rate,
        "sla_breach_rate": breaches.rate if breaches else None,
        "p50_response": times.p50,
        "p90_response": times.p90,
        "p99_response": times.p99,
        "escalations": stats.escalations.count,
        "timeouts": stats.timeouts.count,
        "sla_breaches": breaches.total if breaches else None,
        "open_requests": stats.open_total,
        "tickets": sum(t.count for t in stats.tickets),
    }[metric]
    return value


class NewAlert(BaseModel):
    """An alert rule and where to send its notice: a channel (by name or kind) and, for a
    channel that is not a webhook, the address on it (an email address, a phone ...)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    rule: str = Field(
        min_length=1, max_length=MAX_RULE, examples=["escalation_rate > 0.15 over 7d"]
    )
    channel: str = Field(min_length=1, max_length=100)
    to: str | None = Field(default=None, min_length=1, max_length=500)
    notify_recovery: bool = Field(default=False, description="Also send a notice on recovery.")
    enabled: bool = True


class AlertUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(default=None, min_length=1, max_length=MAX_RULE)
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    to: str | None = Field(default=None, min_length=1, max_length=500)
    notify_recovery: bool | None = None
    enabled: bool | None = None


class Alert(BaseModel):
    id: str
    name: str
    rule: str = Field(description="The rule as normalised: 'escalation_rate > 0.15 over 7d'.")
    metric: str
    op: str
    threshold: float = Field(description="In the metric's unit: a fraction, seconds or a count.")
    window: str
    hold: str | None = Field(
        default=None, description="The rule's 'for': how long it must hold before firing."
    )
    channel: str
    to: str | None = None
    notify_recovery: bool
    enabled: bool
    state: AlertState
    breached_since: datetime | None = Field(
        default=None, description="Since when the rule has held, while it waits out 'for'."
    )
    breaches: int = Field(description="How many times it started firing.")
    value: float | None = Field(default=None, description="The metric at the last evaluation.")
    evaluated_at: datetime | None = None
    next_eval_at: datetime
    fired_at: datetime | None = None
    recovered_at: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class AlertEventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    FIRED = "fired"
    RECOVERED = "recovered"


class AlertEvent(BaseModel):
    id: int
    alert_id: str
    type: AlertEventType
    actor: str
    at: datetime
    data: dict[str, Any]


class Evaluation(BaseModel):
    """What one evaluation of a rule found, and what it changed."""

    alert_id: str
    name: str
    value: float | None
    breached: bool
    state: AlertState
    changed: Literal["fired", "recovered"] | None = Field(
        default=None, description="Set when this evaluation (and no other) moved the state."
    )
