"""``/metrics``: the monitoring figures in Prometheus' text format, for a ``metrics`` (or
admin) key.

The figures are gauges over a window (``window`` label, ``1d`` unless the scrape asks for
another), written with ``prometheus_client``'s exposition code. A scrape is cheap: the
figures are indexed aggregates (``store/stats.py``), and the rendered text is kept for
``cache`` seconds per window on each replica, so Prometheus servers scraping several
replicas every few seconds cost one computation per replica per period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from inloop.domain.alerts import Alert, AlertState
from inloop.domain.enums import Scope
from inloop.domain.identity import Principal
from inloop.domain.monitoring import Stats
from inloop.server.services.stats import StatsService, parse_window
from inloop.server.store import alerts as alerts_sql
from inloop.server.store.database import Database

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
DEFAULT_WINDOW = "1d"
MAX_WINDOWS = 8  # distinct windows kept in the cache


class MetricsService:
    def __init__(self, db: Database, stats: StatsService, *, cache: float = 15.0) -> None:
        self.db = db
        self.stats = stats
        self.cache = cache
        self._rendered: dict[str, tuple[float, bytes]] = {}
        self._lock = asyncio.Lock()

    async def scrape(self, principal: Principal, window: str = DEFAULT_WINDOW) -> bytes:
        """The exposition text; refused without the metrics or admin scope."""
        principal.require(Scope.METRICS)
        parse_window(window)
        found = self._rendered.get(window)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        async with self._lock:  # concurrent scrapes wait for one computation
            found = self._rendered.get(window)
            if found is not None and found[0] > time.monotonic():
                return found[1]
            stats = await self.stats.figures(window)
            alerts = await self.db.read(alerts_sql.list_rules)
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Figures(stats, alerts))
            body = generate_latest(registry)
            if len(self._rendered) >= MAX_WINDOWS:
                self._rendered.clear()
            self._rendered[window] = (time.monotonic() + self.cache, body)
            return body


class _Figures(Collector):
    def __init__(self, stats: Stats, alerts: list[Alert]) -> None:
        self.stats = stats
        self.alerts = alerts

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        w = [s.window]
        open_ = GaugeMetricFamily(
            "inloop_requests_open", "Requests open now.", labels=["priority", "status"]
        )
        for row in s.open:
            open_.add_metric([row.priority.value, "pending"], row.pending)
            open_.add_metric([row.priority.value, "assigned"], row.assigned)
        yield open_

        def gauge(name: str, doc: str, value: float | None, unit: str = "") -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=["window"], unit=unit)
            if value is not None:
                family.add_metric(w, value)
            return family

        yield gauge(
            "inloop_requests_created", "Requests created in the window.", s.escalations.out_of
        )
        yield gauge(
            "inloop_requests_escalated",
            "Requests created in the window and escalated at least once.",
            s.escalations.count,
        )
        yield gauge(
            "inloop_escalation_rate",
            "Escalated / created in the window (absent when nothing was created).",
            s.escalations.rate,
            "ratio",
        )
        yield gauge(
            "inloop_requests_resolved", "Requests resolved in the window.", s.timeouts.out_of
        )
        yield gauge(
            "inloop_timeout_rate",
            "Closed by a policy / resolved in the window (absent when nothing was resolved).",
            s.timeouts.rate,
            "ratio",
        )
        answer = GaugeMetricFamily(
            "inloop_response",
            "Time from creation to a human's answer, for the window's answers, by quantile.",
            labels=["window", "quantile"],
            unit="seconds",
        )
        times = s.response_times
        for q, value in (("0.5", times.p50), ("0.9", times.p90), ("0.99", times.p99)):
            if value is not None:
                answer.add_metric([s.window, q], value)
        yield answer
        yield gauge(
            "inloop_requests_answered", "Requests a human answered in the window.", times.answered
        )
        if s.sla_breaches is not None:
            breaches = GaugeMetricFamily(
                "inloop_sla_breaches",
                "Requests resolved in the window that missed their deadline, by kind.",
                labels=["window", "kind"],
            )
            breaches.add_metric([s.window, "answered_late"], s.sla_breaches.answered_late)
            breaches.add_metric([s.window, "timed_out"], s.sla_breaches.timed_out)
            yield breaches
        actions = GaugeMetricFamily(
            "inloop_timeouts",
            "What the window's timeouts led to, by action.",
            labels=["window", "action"],
        )
        for step in s.timeouts_by_action:
            actions.add_metric([s.window, step.action], step.count)
        yield actions
        reasons = GaugeMetricFamily(
            "inloop_escalation_reasons",
            "The window's most frequent escalation reasons (at most 10), from handoff "
            "tickets (source ticket) and requests' escalations (source request).",
            labels=["window", "source", "reason"],
        )
        for reason in s.top_reasons:
            reasons.add_metric([s.window, reason.source, reason.reason[:200]], reason.count)
        yield reasons
        sessions = s.session_escalations
        yield gauge(
            "inloop_sessions_created", "Agent sessions created in the window.", sessions.out_of
        )
        yield gauge(
            "inloop_sessions_escalated",
            "Agent sessions created in the window and escalated to a human.",
            sessions.count,
        )
        yield gauge(
            "inloop_session_escalation_rate",
            "Escalated / created agent sessions in the window (seed 004's escalation rate).",
            sessions.rate,
            "ratio",
        )
        opened = GaugeMetricFamily(
            "inloop_tickets",
            "Handoff tickets opened in the window, by priority.",
            labels=["window", "priority"],
        )
        for ticket in s.tickets:
            opened.add_metric([s.window, ticket.priority], ticket.count)
        yield opened
        held = GaugeMetricFamily(
            "inloop_user_open_assigned", "Open requests each human holds.", labels=["handle"]
        )
        capacity = GaugeMetricFamily(
            "inloop_user_capacity", "Each capped human's capacity.", labels=["handle"]
        )
        answered = GaugeMetricFamily(
            "inloop_user_answered",
            "Requests each human answered in the window.",
            labels=["window", "handle"],
        )
        for user in s.load:
            held.add_metric([user.handle], user.open_assigned)
            answered.add_metric([s.window, user.handle], user.answered)
            if user.capacity is not None:
                capacity.add_metric([user.handle], user.capacity)
        yield held
        yield capacity
        yield answered
        firing = GaugeMetricFamily(
            "inloop_alert_firing", "1 while an alert rule is breached, else 0.", labels=["alert"]
        )
        for alert in self.alerts:
            if alert.enabled:
                firing.add_metric([alert.name], 1.0 if alert.state == AlertState.FIRING else 0.0)
        yield firing
