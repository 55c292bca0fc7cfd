"""Seed 004's "Monitoring Escalations", line by line on Inloop.

The seed lists a week of ``session.escalated`` traces, groups them by reason, divides by
the sessions of the week and alerts the team when the rate passes 15%, on every run. Here
the server keeps the figures, and the alert is a rule it watches, notifying once per
breach (docs/monitoring.md).

    INLOOP_URL=http://127.0.0.1:8000 INLOOP_TOKEN=<admin key> \\
        uv run python examples/analyze_escalations.py --channel ops-mail --to oncall@example.com
"""

from __future__ import annotations

import argparse

import inloop


def analyze_escalations(client: inloop.Client) -> float | None:
    """Analyze why agents are escalating"""
    # Get all escalated sessions from last 7 days, grouped by reason: the server's figures
    figures = client.stats(since="7d")

    # Calculate escalation rate: escalated sessions / sessions of the last 7 days
    escalation_rate = figures.session_escalations.rate

    print(f"Escalation rate: {escalation_rate:.1%}" if escalation_rate is not None
          else "Escalation rate: no sessions in the last 7 days")  # fmt: skip
    print("Top escalation reasons:")
    for reason in figures.top_reasons:
        print(f"  {reason.reason}: {reason.count}")
    return escalation_rate


def alert_team(client: inloop.Client, channel: str, to: str | None) -> inloop.Alert:
    """Alert if escalation rate is too high (more than 15%): once per breach, not per run."""
    for existing in client.list_alerts():
        if existing.name == "high-escalation-rate":
            return existing
    return client.create_alert(
        "high-escalation-rate", "session_escalation_rate > 0.15 over 7d", channel, to=to
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", help="where the alert goes (a channel's name or kind)")
    parser.add_argument("--to", help="the address on that channel (not for a webhook)")
    args = parser.parse_args()
    with inloop.Client() as client:
        analyze_escalations(client)
        if args.channel:
            alert = alert_team(client, args.channel, args.to)
            print(f"Alert {alert.name}: {alert.rule} ({alert.state})")


if __name__ == "__main__":
    main()
