"""The monitoring figures of ``GET /v1/stats`` on a known data set; SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from inloop.server.services import Services
from tests.monitoring.known import EXPECTED, MANAGER_REASON, create, seed
from tests.support import FakeClock


async def test_the_known_data_set_gives_the_known_figures(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Escalation rate, top reasons, percentiles, SLA breaches, timeouts by action, load."""
    await seed(api, services, clock)
    response = await api.get("/v1/stats", params={"since": "7d"})
    assert response.status_code == 200, response.text
    figures = response.json()
    times = figures["response_times"]
    assert times["answered"] == EXPECTED["answered"]
    assert times["p50"] == pytest.approx(EXPECTED["p50"], abs=0.01)
    assert times["p90"] == pytest.approx(EXPECTED["p90"], abs=0.01)
    assert times["p99"] == pytest.approx(EXPECTED["p99"], abs=0.01)
    assert figures["timeouts"] == EXPECTED["timeouts"]
    assert figures["escalations"] == pytest.approx(EXPECTED["escalations"])
    assert figures["sla_breaches"] == EXPECTED["sla_breaches"]
    assert figures["timeouts_by_action"] == EXPECTED["timeouts_by_action"]
    assert figures["top_reasons"] == EXPECTED["top_reasons"]
    (alice,) = figures["load"]
    assert (alice["handle"], alice["answered"], alice["open_assigned"], alice["capacity"]) == (
        "alice",
        3,
        0,
        4,
    )
    days = figures["per_day"]
    assert len(days) == 8 and days[0]["day"] == "2025-12-29"
    assert days[-1] == {"day": "2026-01-05", "created": 7, "escalated": 2, "rate": 2 / 7}
    assert all(d["created"] == 0 and d["rate"] is None for d in days[:-1])


async def test_the_window_moves_with_the_clock(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Two days later a 1d window holds nothing of it, a 7d window all of it; the most
    frequent reason comes first."""
    await seed(api, services, clock)
    clock.advance(days=1)
    for _ in range(2):
        await create(api, timeout="1h", escalation={"action": "escalate", "to": "role:manager"})
        clock.advance(minutes=1)
    clock.advance(hours=1)
    await services.scheduler.run_due()
    clock.advance(days=1, minutes=1)
    recent = (await api.get("/v1/stats", params={"since": "1d"})).json()
    assert recent["escalations"] == {"count": 0, "out_of": 0, "rate": None}
    assert recent["top_reasons"] == [] and recent["sla_breaches"]["out_of"] == 0
    week = (await api.get("/v1/stats", params={"since": "7d"})).json()
    assert week["escalations"]["count"] == 4 and week["escalations"]["out_of"] == 9
    assert week["top_reasons"][0] == {"reason": MANAGER_REASON, "count": 3, "source": "request"}
    assert [d["escalated"] for d in week["per_day"][-3:]] == [2, 2, 0]


async def test_a_bad_since_is_a_clear_error(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/stats", params={"since": "a week"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "since")
    assert "not a duration" in error["message"]
