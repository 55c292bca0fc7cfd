"""``inloop stats`` and ``inloop alerts``: the monitoring figures in the terminal, and the
alert rules that watch them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import connect, done, echo_json
from inloop.cli._context import stdout as out
from inloop.client import Client
from inloop.domain.alerts import METRICS, Alert, AlertEvent, describe
from inloop.domain.monitoring import Stats

alerts = typer.Typer(
    help="Alert rules such as 'escalation_rate > 0.15 over 7d': notify once per breach.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
AlertRef = Annotated[str, typer.Argument(help="The alert's id or name.")]
BAR = 30
_SPARKS = "▁▂▃▄▅▆▇█"


def stats(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="How far back to look: 24h, 7d, 30d ...")
    ] = "7d",
    as_json: JsonFlag = False,
) -> None:
    """The monitoring figures: escalation rate and reasons, response times, SLA breaches,
    timeouts by action, load per human, and escalations per day as a chart."""
    with connect(ctx) as client:
        figures = client.stats(since)
    if as_json:
        echo_json(figures)
        return
    show_stats(figures)


def _pct(value: float | None) -> str:
    return describe("rate", value) if value is not None else "none"


def _time(value: float | None) -> str:
    return describe("seconds", value) if value is not None else "none"


def show_stats(s: Stats) -> None:
    console = out()
    console.print(
        f"[bold]Inloop figures[/] over the last {escape(s.window)} "
        f"({s.since:%Y-%m-%d %H:%M} to {s.until:%Y-%m-%d %H:%M} UTC)",
        highlight=False,
    )
    headline = Table("Figure", "Value", "Of", title="Headline", title_justify="left")
    e, t, times = s.escalations, s.timeouts, s.response_times
    sessions = s.session_escalations
    if sessions.out_of:
        headline.add_row(
            "Session escalation rate",
            _pct(sessions.rate),
            f"{sessions.count} of {sessions.out_of} agent sessions escalated to a human",
        )
    headline.add_row("Escalation rate", _pct(e.rate), f"{e.count} of {e.out_of} created")
    headline.add_row("Timeout rate", _pct(t.rate), f"{t.count} of {t.out_of} resolved")
    if s.sla_breaches is not None:
        b = s.sla_breaches
        headline.add_row(
            "SLA breaches",
            _pct(b.rate),
            f"{b.total} of {b.out_of} resolved ({b.answered_late} answered late, "
            f"{b.timed_out} timed out)",
        )
    for name, value in (("p50", times.p50), ("p90", times.p90), ("p99", times.p99)):
        headline.add_row(f"Response {name}", _time(value), f"{times.answered} answered")
    headline.add_row("Open now", str(s.open_total), "")
    opened = sum(t.count for t in s.tickets)
    if opened:
        by = ", ".join(f"{t.count} {t.priority}" for t in s.tickets if t.count)
        headline.add_row("Handoff tickets", str(opened), by)
    console.print(headline)

    reasons = Table("Reason", "Count", "From", title="Top escalation reasons", title_justify="left")
    for r in s.top_reasons:
        reasons.add_row(escape(r.reason), str(r.count), r.source)
    if not s.top_reasons:
        reasons.add_row("(none in this period)", "", "")
    console.print(reasons)

    actions = Table("Action", "Count", title="Timeouts by action", title_justify="left")
    for a in s.timeouts_by_action:
        actions.add_row(a.action.replace("_", " "), str(a.count))
    console.print(actions)

    load = Table(
        "Human", "Presence", "Open", "Capacity", "Answered", title="Load per human",
        title_justify="left",
    )  # fmt: skip
    for h in s.load:
        load.add_row(
            escape(h.handle), h.presence.value, str(h.open_assigned),
            str(h.capacity) if h.capacity is not None else "-", str(h.answered),
        )  # fmt: skip
    console.print(load)
    console.print(escalations_chart(s), highlight=False)


def escalations_chart(s: Stats) -> str:
    """Escalations per day as bars, and the daily rate as a sparkline (Rich markup)."""
    days = s.per_day[-31:]
    if not days:
        return ""
    top = max((d.escalated for d in days), default=0) or 1
    lines = ["[bold]Escalations per day[/] (UTC)"]
    for d in days:
        width = round(BAR * d.escalated / top)
        bar = "█" * width if d.escalated else ""
        rate = f" ({describe('rate', d.rate)})" if d.rate is not None else ""
        lines.append(f"{d.day:%m-%d} [blue]{bar:<{BAR}}[/] {d.escalated} of {d.created}{rate}")
    rates = [d.rate for d in days]
    known = [r for r in rates if r is not None]
    if known:
        high = max(known) or 1.0
        spark = "".join(
            " " if r is None else _SPARKS[min(len(_SPARKS) - 1, int(r / high * (len(_SPARKS) - 1)))]
            for r in rates
        )
        lines.append(f"rate  [blue]{spark}[/]  peak {describe('rate', high)}")
    return "\n".join(lines)


# inloop alerts


def _resolve(client: Client, ref: str) -> str:
    if ref.startswith("alr_"):
        return ref
    for found in client.list_alerts():
        if found.name == ref:
            return found.id
    return ref  # the server says it is not there


def _alerts_table(items: list[Alert]) -> None:
    table = Table("Name", "Rule", "State", "Last value", "Breaches", "Notify", "Enabled", "Id")
    for a in items:
        value = describe(METRICS[a.metric].unit, a.value) if a.evaluated_at else "-"
        state = "[red]firing[/]" if a.state == "firing" else "ok"
        target = a.channel + (f" → {a.to}" if a.to else "")
        table.add_row(
            escape(a.name), escape(a.rule), state, value, str(a.breaches), escape(target),
            "yes" if a.enabled else "no", a.id,
        )  # fmt: skip
    out().print(table)


def _events_table(items: list[AlertEvent]) -> None:
    table = Table("At", "Event", "By", "Details")
    for e in items:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items())
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.type.value, escape(e.actor), escape(details))
    out().print(table)


@alerts.command("ls")
def list_alerts(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the alert rules and where each stands."""
    with connect(ctx) as client:
        items = client.list_alerts()
    echo_json(items) if as_json else _alerts_table(items)


@alerts.command("show")
def show_alert(ctx: typer.Context, ref: AlertRef, as_json: JsonFlag = False) -> None:
    """One alert rule and its audit trail."""
    with connect(ctx) as client:
        alert_id = _resolve(client, ref)
        found, trail = client.get_alert(alert_id), client.alert_events(alert_id)
    if as_json:
        echo_json({"alert": found, "events": trail})
        return
    _alerts_table([found])
    _events_table(trail)


@alerts.command("add")
def add_alert(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the alert.")],
    rule: Annotated[str, typer.Argument(help="METRIC OP THRESHOLD over WINDOW.")],
    channel: Annotated[str, typer.Option("--channel", help="The channel (name or kind).")],
    to: Annotated[str | None, typer.Option("--to", help="The address (not for a webhook).")] = None,
    recovery: Annotated[
        bool, typer.Option("--notify-recovery", help="Also notify when it recovers.")
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
) -> None:
    """Add an alert, e.g. ``inloop alerts add esc 'escalation_rate > 0.15 over 7d'
    --channel ops-mail --to oncall@example.com``."""
    with connect(ctx) as client:
        made = client.create_alert(
            name, rule, channel, to=to, notify_recovery=recovery, enabled=not disabled
        )
    done(f"Added alert {made.name} ({made.id}): {made.rule}")


@alerts.command("set")
def set_alert(
    ctx: typer.Context,
    ref: AlertRef,
    rule: Annotated[str | None, typer.Option("--rule", help="A new rule.")] = None,
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    to: Annotated[str | None, typer.Option("--to")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Switch it on or off.")
    ] = None,
    recovery: Annotated[bool | None, typer.Option("--notify-recovery/--no-notify-recovery")] = None,
) -> None:
    """Change an alert's rule, where it notifies, or switch it on or off."""
    with connect(ctx) as client:
        changed = client.update_alert(
            _resolve(client, ref), rule=rule, channel=channel, to=to, enabled=enabled,
            notify_recovery=recovery,
        )  # fmt: skip
    done(f"Alert {changed.name}: {changed.rule} ({'on' if changed.enabled else 'off'})")


@alerts.command("rm")
def remove_alert(ctx: typer.Context, ref: AlertRef) -> None:
    """Delete an alert (its audit trail stays)."""
    with connect(ctx) as client:
        client.delete_alert(_resolve(client, ref))
    done(f"Deleted alert {ref}")


@alerts.command("check")
def check_alerts(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Evaluate every enabled rule now; those that start firing notify."""
    with connect(ctx) as client:
        results = client.evaluate_alerts()
        found = {a.id: a for a in client.list_alerts()}
    if as_json:
        echo_json(results)
        return
    table = Table("Alert", "Value", "Breached", "State", "Changed")
    for r in results:
        unit = METRICS[found[r.alert_id].metric].unit if r.alert_id in found else "count"
        table.add_row(
            escape(r.name), describe(unit, r.value), "yes" if r.breached else "no",
            r.state.value, r.changed or "",
        )  # fmt: skip
    out().print(table)
