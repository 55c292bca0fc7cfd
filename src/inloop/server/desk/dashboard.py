"""The dashboard: the figures of ``StatsService`` as charts drawn on the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from inloop.domain.alerts import METRICS, Alert, describe
from inloop.domain.monitoring import Stats
from inloop.server.api.deps import ServicesDep
from inloop.server.desk import charts
from inloop.server.desk.auth import DeskRoute, DeskUser, render
from inloop.server.services.stats import DEFAULT_WINDOW

router = APIRouter(route_class=DeskRoute)
WINDOWS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}


def figures(stats: Stats) -> dict[str, charts.Chart]:
    """The dashboard's charts, each with its data table."""
    period = WINDOWS.get(stats.window, stats.window)
    open_chart = charts.column_chart(
        "chart-open",
        "Open requests by priority",
        f"{stats.open_total} open requests: "
        + ", ".join(f"{o.priority.value} {o.total}" for o in stats.open)
        + ". Each column splits into pending (waiting for someone) and assigned.",
        [o.priority.value for o in stats.open],
        [
            charts.Series("pending", [o.pending for o in stats.open]),
            charts.Series("assigned", [o.assigned for o in stats.open]),
        ],
    )
    times = stats.response_times
    points = [("p50", times.p50), ("p90", times.p90), ("p99", times.p99)]
    times_chart = charts.percentile_strip(
        "chart-response",
        f"Time to a human's answer, last {period}",
        f"{times.answered} requests answered by a human in the last {period}. "
        + ", ".join(
            f"{name} {charts.duration(value) if value is not None else 'none'}"
            for name, value in points
        )
        + ".",
        points,
    )
    rates = [
        charts.Bar(
            "timed out",
            stats.timeouts.rate or 0.0,
            note=f"{stats.timeouts.count} of {stats.timeouts.out_of} resolved",
        ),
        charts.Bar(
            "escalated",
            stats.escalations.rate or 0.0,
            note=f"{stats.escalations.count} of {stats.escalations.out_of} created",
        ),
    ]
    sessions = stats.session_escalations
    if sessions.out_of:
        rates.append(
            charts.Bar(
                "sessions escalated",
                sessions.rate or 0.0,
                note=f"{sessions.count} of {sessions.out_of} agent sessions",
            )
        )
    rates_chart = charts.bar_chart(
        "chart-rates",
        f"Timeout and escalation rates, last {period}",
        "Timed out counts requests a policy closed (timed out, auto-approved or "
        "auto-rejected) out of those resolved; escalated counts requests escalated at least "
        "once out of those created. "
        + "; ".join(f"{bar.label}: {charts.percent(bar.value)} ({bar.note})" for bar in rates),
        rates,
        charts.percent,
        scale_max=1.0,
        value_label="rate",
    )
    load = [
        charts.Bar(
            row.name if row.name == row.handle else f"{row.name} ({row.handle})",
            row.open_assigned,
            limit=row.capacity,
            note=f"{row.presence.value}, answered {row.answered} in {period}",
        )
        for row in stats.load
    ]
    load_chart = charts.bar_chart(
        "chart-load",
        "Load per human",
        "Open requests each human holds, against their capacity where they have one: "
        + "; ".join(f"{bar.label} {charts.plain(bar.value)}" for bar in load[:50]),
        load,
        value_label="open assigned",
        limit_label="capacity",
    )
    return {
        "open": open_chart,
        "times": times_chart,
        "rates": rates_chart,
        "load": load_chart,
        **monitoring_figures(stats, period),
    }


def monitoring_figures(stats: Stats, period: str) -> dict[str, charts.Chart]:
    """Escalation rate per day, top reasons, SLA breaches and timeouts by action."""
    days = stats.per_day
    trend = charts.column_chart(
        "chart-trend",
        f"Escalation rate per day, last {period}",
        "Requests created each UTC day that were escalated at least once, out of those "
        "created that day: "
        + "; ".join(
            f"{d.day:%b %d} {charts.percent(d.rate)} ({d.escalated} of {d.created})"
            for d in days
            if d.rate is not None
        )
        + ("." if any(d.rate is not None for d in days) else "no requests in this period."),
        [f"{d.day:%m-%d}" for d in days],
        [charts.Series("escalation rate", [d.rate or 0.0 for d in days])],
        charts.percent,
        label_every=max(1, len(days) // 8),
        scale_max=1.0,
        no_data=[i for i, d in enumerate(days) if d.rate is None],
    )
    reasons = [
        charts.Bar(r.reason, r.count, note="handoff ticket" if r.source == "ticket" else "request")
        for r in stats.top_reasons
    ]
    reasons_chart = charts.bar_chart(
        "chart-reasons",
        f"Top escalation reasons, last {period}",
        "How often each reason was given for an escalation: "
        + ("; ".join(f"{r.reason}: {r.count}" for r in stats.top_reasons) or "none")
        + ".",
        reasons,
        value_label="escalations",
        label_chars=32,
    )
    breaches = stats.sla_breaches
    sla = (
        [
            charts.Bar("answered late", breaches.answered_late,
                       note=f"of {breaches.out_of} resolved"),
            charts.Bar("timed out", breaches.timed_out, note=f"of {breaches.out_of} resolved"),
        ]
        if breaches is not None
        else []
    )  # fmt: skip
    sla_chart = charts.bar_chart(
        "chart-sla",
        f"SLA breaches, last {period}",
        "Requests resolved in the period that missed their deadline: answered by a human "
        "after it, or closed by a policy when it passed. "
        + "; ".join(f"{b.label}: {charts.plain(b.value)} ({b.note})" for b in sla),
        sla,
        value_label="requests",
    )
    actions = [charts.Bar(a.action.replace("_", " "), a.count) for a in stats.timeouts_by_action]
    actions_chart = charts.bar_chart(
        "chart-actions",
        f"Timeouts by action, last {period}",
        "What passed deadlines led to: escalation steps taken (escalated, queued) and "
        "requests a policy closed. "
        + "; ".join(f"{b.label}: {charts.plain(b.value)}" for b in actions),
        actions,
        value_label="timeouts",
    )
    return {"trend": trend, "reasons": reasons_chart, "sla": sla_chart, "actions": actions_chart}


def tiles(stats: Stats) -> list[tuple[str, str, str]]:
    """The headline figures: (id, label, value as read)."""
    p50 = stats.response_times.p50
    return [
        ("open", "Open", charts.plain(stats.open_total)),
        ("answered", "Answered", charts.plain(stats.response_times.answered)),
        ("p50", "Median answer", charts.duration(p50) if p50 is not None else "none"),
        ("timeouts", "Timeout rate", _rate(stats.timeouts.rate)),
        ("escalations", "Escalation rate", _rate(stats.escalations.rate)),
        ("sla", "SLA breaches", _rate(stats.sla_breaches.rate if stats.sla_breaches else None)),
    ] + (
        [("sessions", "Sessions escalated", _rate(stats.session_escalations.rate))]
        if stats.session_escalations.out_of
        else []
    )


def alert_value(alert: Alert) -> str:
    """The alert's last measured value as people read it."""
    if alert.evaluated_at is None:
        return "not evaluated yet"
    return describe(METRICS[alert.metric].unit, alert.value)


def _rate(value: float | None) -> str:
    return charts.percent(value) if value is not None else "none"


@router.get("/dashboard")
async def dashboard(
    request: Request,
    session: DeskUser,
    services: ServicesDep,
    window: Annotated[str, Query(max_length=40)] = DEFAULT_WINDOW,
) -> Response:
    stats = await services.stats.stats(session.principal, window)
    admin = session.principal.is_admin
    alerts = await services.alerts.list_alerts(session.principal) if admin else []
    return render(
        request,
        "dashboard.html",
        {
            "stats": stats,
            "charts": figures(stats),
            "tiles": tiles(stats),
            "windows": WINDOWS,
            "window": window,
            "alerts": [(a, alert_value(a)) for a in alerts],
        },
    )
