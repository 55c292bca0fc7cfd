"""The desk's dashboard draws the monitoring figures: escalation rate per day, top reasons
(escaped), SLA breaches, timeouts by action; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from inloop.server.services import Services
from tests.desk.test_admin import Desk, browser_clients, make_user, sign_in
from tests.monitoring.known import MANAGER_REASON, create, seed
from tests.support import FakeClock

XSS_REASON = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Desk]:
    async with browser_clients(services) as make:
        yield make


def figure(page: str, chart: str) -> str:
    """The chart's SVG and its table."""
    found = re.search(rf'<svg [^>]*id="{chart}".*?</svg>', page, re.S)
    table = re.search(rf'<table class="chart-data" id="{chart}-data">.*?</table>', page, re.S)
    assert found is not None and table is not None, chart
    return found[0] + table[0]


async def test_the_dashboard_shows_the_monitoring_charts(
    api: httpx.AsyncClient, services: Services, desk: Desk, clock: FakeClock
) -> None:
    await seed(api, services, clock)
    request = await create(api, timeout="8h", escalation={"action": "escalate", "to": "team:l2"})
    escalated = await api.post(f"/v1/requests/{request['id']}/escalate",
                               json={"reason": XSS_REASON})  # fmt: skip
    assert escalated.status_code == 200, escalated.text
    await make_user(api, services, "root", admin=True)
    root = desk()
    assert await sign_in(root, "root") == 303
    page = (await root.get("/desk/dashboard", params={"window": "7d"})).text

    trend = figure(page, "chart-trend")
    assert 'data-category="01-05"' in trend and 'data-value="0.4"' in trend  # 3 of 8 (rounded)
    assert "<td>37.5%</td>" in trend
    assert '<th scope="row">12-29</th><td>no data</td><td>no data</td>' in trend

    reasons = figure(page, "chart-reasons")
    assert MANAGER_REASON in reasons
    assert "<script>" not in page.split("</head>", 1)[1].replace('<script src="/desk/static', "")
    assert "&lt;script&gt;alert(" in reasons and "&lt;img src=x onerror=alert(1)&gt;" in reasons

    sla = figure(page, "chart-sla")
    assert 'data-label="answered late"' in sla and 'data-label="timed out"' in sla
    assert "<td>of 5 resolved</td>" in sla
    actions = figure(page, "chart-actions")
    for label, value in (("escalated", 1), ("queued", 1), ("timed out", 1), ("auto rejected", 1),
                         ("auto approved", 0)):  # fmt: skip
        assert f'data-value="{value}" data-label="{label}"' in actions, label
    tile = re.search(r'<dd id="tile-sla">([^<]*)</dd>', page)
    assert tile is not None and tile[1] == "60.0%"
    assert len(re.findall(r'<svg [^>]*role="img"', page)) == 8
