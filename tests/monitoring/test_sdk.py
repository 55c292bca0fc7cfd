"""The SDK's monitoring calls: figures, /metrics and alerts on AsyncClient (over ASGI),
errors as the SDK's exceptions; SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

import inloop
from inloop.errors import InvalidError, NotFoundError, PermissionDeniedError
from inloop.server.services import Services
from tests.monitoring.known import EXPECTED, seed
from tests.support import ADMIN_TOKEN, FakeClock


async def test_async_client_figures_metrics_and_alerts(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    from inloop.server.app import create_app

    await seed(api, services, clock)
    await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                   "config": {"url": "https://ops.example/in"}})  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    async with inloop.AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
        figures = await client.stats(since="7d")
        assert figures.escalations.count == 2 and figures.sla_breaches is not None
        assert figures.sla_breaches.answered_late == 1
        assert [r.reason for r in figures.top_reasons] == [
            r["reason"]
            for r in EXPECTED["top_reasons"]  # type: ignore[attr-defined]
        ]
        assert "inloop_escalation_rate_ratio" in await client.metrics("7d")

        made = await client.create_alert("esc", "escalations >= 2 over 1d", "hook")
        assert (made.metric, made.threshold, made.state) == ("escalations", 2.0, "ok")
        (result,) = await client.evaluate_alerts()
        assert (result.name, result.changed, result.value) == ("esc", "fired", 2.0)
        assert [a.state for a in await client.list_alerts()] == ["firing"]
        changed = await client.update_alert(made.id, enabled=False)
        assert not changed.enabled and (await client.get_alert(made.id)).state == "firing"
        assert [e.type for e in await client.alert_events(made.id)] == [
            "created", "fired", "updated"]  # fmt: skip
        with pytest.raises(InvalidError) as bad:
            await client.create_alert("x", "escalation_rate > 2 over 1d", "hook")
        assert bad.value.field == "rule" and bad.value.code == "invalid_alert_rule"
        await client.delete_alert(made.id)
        with pytest.raises(NotFoundError):
            await client.get_alert(made.id)
        key = await api.post("/v1/keys", json={"name": "p", "scopes": ["metrics"]})
    async with inloop.AsyncClient(
        "http://inloop.test", key.json()["secret"], transport=transport
    ) as scraper:
        assert "inloop_requests_open" in await scraper.metrics()
        with pytest.raises(PermissionDeniedError):
            await scraper.stats()
