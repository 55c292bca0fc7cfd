"""Seed 004's escalation figures from agent sessions and handoff tickets: escalated
sessions over sessions, the tickets' reasons first among the top reasons, tickets by
priority, in /v1/stats, /metrics, an alert rule and the dashboard; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inloop.server.services import Services
from tests.monitoring.known import MANAGER_REASON, seed
from tests.support import FakeClock

REASONS = ["High-risk action detected", "High-risk action detected", "payment dispute"]


async def sessions(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """Ten sessions, three of them escalated with a ticket (two for the same reason)."""
    for n in range(10):
        made = await api.patch(f"/v1/sessions/sess_{n}/state",
                               json={"state": {"step": 1}, "reasoning": "start"})  # fmt: skip
        assert made.status_code == 200, made.text
    for n, reason in enumerate(REASONS):
        opened = await api.post("/v1/tickets", json={"session_id": f"sess_{n}", "reason": reason})
        assert opened.status_code == 201, opened.text
    clock.advance(minutes=1)


async def test_escalated_sessions_over_sessions_and_the_tickets_reasons(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await seed(api, services, clock)
    await sessions(api, clock)
    figures = (await api.get("/v1/stats", params={"since": "7d"})).json()
    assert figures["session_escalations"] == {"count": 3, "out_of": 10, "rate": 0.3}
    assert figures["escalations"]["count"] == 2  # the requests' own figure stands apart
    top: list[dict[str, Any]] = figures["top_reasons"]
    assert top[0] == {"reason": "High-risk action detected", "count": 2, "source": "ticket"}
    assert {"reason": "payment dispute", "count": 1, "source": "ticket"} in top
    assert {"reason": MANAGER_REASON, "count": 1, "source": "request"} in top
    assert figures["tickets"] == [
        {"priority": "urgent", "count": 1}, {"priority": "high", "count": 0},
        {"priority": "normal", "count": 2}]  # fmt: skip

    text = (await api.get("/metrics", params={"window": "7d"})).text
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    week = (("window", "7d"),)
    assert got[("inloop_session_escalation_rate_ratio", week)] == pytest.approx(0.3)
    assert got[("inloop_sessions_created", week)] == 10
    reason = (("reason", "High-risk action detected"), ("source", "ticket"), ("window", "7d"))
    assert got[("inloop_escalation_reasons", reason)] == 2
    assert got[("inloop_tickets", (("priority", "urgent"), ("window", "7d")))] == 1


async def test_the_seeds_rule_on_sessions_fires(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """``session_escalation_rate > 0.15 over 7d``: 3 of 10 sessions is a breach."""
    await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                   "config": {"url": "https://ops.example/in"}})  # fmt: skip
    made = await api.post("/v1/alerts", json={"name": "seed", "channel": "hook",
                          "rule": "session_escalation_rate > 0.15 over 7d"})  # fmt: skip
    assert made.status_code == 201, made.text
    await sessions(api, clock)
    (result,) = await services.alerts.evaluate()
    assert (result.changed, result.value) == ("fired", 0.3)


async def test_the_dashboard_shows_the_session_figures(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    from tests.desk.test_admin import browser_clients, make_user, sign_in

    await sessions(api, clock)
    await make_user(api, services, "root", admin=True)
    async with browser_clients(services) as desk:
        root = desk()
        assert await sign_in(root, "root") == 303
        page = (await root.get("/desk/dashboard")).text
    assert '<dd id="tile-sessions">30.0%</dd>' in page
    assert 'data-label="sessions escalated"' in page
    assert "<td>handoff ticket</td>" in page  # the reasons' table names their source
