"""``GET /metrics``: Prometheus text that parses back to the known figures, for a metrics
or admin key only, cached per replica; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inloop.server.services import Services
from tests.monitoring.known import EXPECTED, create, seed
from tests.support import FakeClock


async def key(api: httpx.AsyncClient, *scopes: str) -> dict[str, str]:
    made = await api.post("/v1/keys", json={"name": "-".join(scopes), "scopes": list(scopes)})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['secret']}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_the_exposition_parses_back_to_the_figures(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await seed(api, services, clock)
    made = await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                          "config": {"url": "https://ops.example/in"}})  # fmt: skip
    assert made.status_code == 201, made.text
    await api.post("/v1/alerts", json={"name": "esc", "rule": "escalations > 1 over 1d",
                   "channel": "hook"})  # fmt: skip
    await services.alerts.evaluate()
    response = await api.get("/metrics", headers=await key(api, "metrics"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    d = (("window", "1d"),)
    assert got[("inloop_requests_created", d)] == 7
    assert got[("inloop_requests_escalated", d)] == 2
    assert got[("inloop_escalation_rate_ratio", d)] == pytest.approx(2 / 7)
    assert got[("inloop_timeout_rate_ratio", d)] == pytest.approx(0.4)
    for q, name in (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")):
        labels = (("quantile", q), ("window", "1d"))
        assert got[("inloop_response_seconds", labels)] == pytest.approx(EXPECTED[name], abs=0.01)
    assert got[("inloop_sla_breaches", (("kind", "answered_late"), ("window", "1d")))] == 1
    assert got[("inloop_sla_breaches", (("kind", "timed_out"), ("window", "1d")))] == 2
    for row in EXPECTED["timeouts_by_action"]:  # type: ignore[attr-defined]
        labels = (("action", row["action"]), ("window", "1d"))
        assert got[("inloop_timeouts", labels)] == row["count"]
    for row in EXPECTED["top_reasons"]:  # type: ignore[attr-defined]
        labels = (("reason", row["reason"]), ("source", "request"), ("window", "1d"))
        assert got[("inloop_escalation_reasons", labels)] == row["count"]
    assert got[("inloop_user_answered", (("handle", "alice"), ("window", "1d")))] == 3
    assert got[("inloop_user_capacity", (("handle", "alice"),))] == 4
    assert got[("inloop_user_open_assigned", (("handle", "alice"),))] == 0
    assert got[("inloop_requests_open", (("priority", "low"), ("status", "pending")))] == 1
    assert got[("inloop_alert_firing", (("alert", "esc"),))] == 1
    week = samples((await api.get("/metrics", params={"window": "7d"})).text)
    assert week[("inloop_requests_created", (("window", "7d"),))] == 7


async def test_only_a_metrics_or_admin_key_may_scrape(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/metrics", headers={"Authorization": ""})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthenticated")
    for scopes in (("agent",), ("responder",)):
        refused = await api.get("/metrics", headers=await key(api, *scopes))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "missing_scope")
    assert (await api.get("/metrics")).status_code == 200  # the admin token
    scraper = await key(api, "metrics")
    assert (await api.get("/v1/requests", headers=scraper)).status_code == 403
    bad = await api.get("/metrics", params={"window": "forever"}, headers=scraper)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "window")


async def test_scrapes_within_the_cache_period_share_one_computation(
    api: httpx.AsyncClient, services: Services
) -> None:
    services.metrics.cache = 3600.0
    first = (await api.get("/metrics")).text
    await create(api)
    assert (await api.get("/metrics")).text == first
    services.metrics.cache = 0.0
    services.metrics._rendered.clear()
    fresh = samples((await api.get("/metrics")).text)
    assert fresh[("inloop_requests_created", (("window", "1d"),))] == 1


def test_empty_figures_leave_rates_out_rather_than_report_zero() -> None:
    """No requests: the rate gauges have no sample (NaN or 0 would mislead an alert)."""
    from datetime import UTC, datetime

    from inloop.domain.monitoring import Rate, ResponseTimes, Stats
    from inloop.server.services.metrics import _Figures

    now = datetime(2026, 1, 5, tzinfo=UTC)
    empty = Stats(window="1d", since=now, until=now, open=[], open_total=0,
                  response_times=ResponseTimes(answered=0, p50=None, p90=None, p99=None, sample=0),
                  timeouts=Rate(count=0, out_of=0, rate=None),
                  escalations=Rate(count=0, out_of=0, rate=None), load=[])  # fmt: skip
    families: dict[str, Any] = {f.name: f for f in _Figures(empty, []).collect()}
    assert families["inloop_escalation_rate_ratio"].samples == []
    assert families["inloop_response_seconds"].samples == []
    assert families["inloop_requests_created"].samples[0].value == 0


async def test_label_values_are_escaped_and_parse_back(api: httpx.AsyncClient) -> None:
    """A reason with quotes, a backslash and a newline is one label value, intact."""
    reason = 'said "refund now" \\ twice\nthen left'
    request = await create(api, timeout="8h", escalation={"action": "escalate", "to": "team:l2"})
    done = await api.post(f"/v1/requests/{request['id']}/escalate", json={"reason": reason})
    assert done.status_code == 200, done.text
    got = samples((await api.get("/metrics")).text)
    reasons = [
        dict(labels)["reason"] for name, labels in got if name == "inloop_escalation_reasons"
    ]
    assert reasons == [f"escalated now by admin-token: {reason}: escalated to team:l2"]
