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


async def test_admins_see_the_alert_rules_and_where_each_stands(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    """Firing, ok and off rules, escaped; a non-admin sees no alert section."""
    await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                   "config": {"url": "https://ops.example/in"}})  # fmt: skip
    for name, rule in (("busy", "open_requests >= 1 over 1d"), ("calm", "timeouts > 5 over 1d")):
        made = await api.post("/v1/alerts", json={"name": name, "rule": rule, "channel": "hook"})
        assert made.status_code == 201, made.text
    idle = await api.post("/v1/alerts", json={"name": "idle", "rule": "tickets > 1 over 1d",
                          "channel": "hook", "enabled": False})  # fmt: skip
    assert idle.status_code == 201, idle.text
    await create(api, prompt="<script>x</script>")
    await services.alerts.evaluate()
    await make_user(api, services, "root", admin=True)
    root = desk()
    assert await sign_in(root, "root") == 303
    page = (await root.get("/desk/dashboard")).text
    section = page.split('id="alerts"', 1)[1]
    busy = re.search(r'<tr id="alert-busy".*?</tr>', section, re.S)
    calm = re.search(r'<tr id="alert-calm".*?</tr>', section, re.S)
    off = re.search(r'<tr id="alert-idle".*?</tr>', section, re.S)
    assert busy is not None and calm is not None and off is not None
    assert "firing" in busy[0] and "<code>open_requests &gt;= 1 over 1d</code>" in busy[0]
    assert "<td>1</td>" in busy[0]  # the value, and one breach
    assert ">ok<" in calm[0] and "<td>0</td>" in calm[0]
    assert "off" in off[0] and "not evaluated yet" in off[0]

    await make_user(api, services, "ann")
    ann = desk()
    assert await sign_in(ann, "ann") == 303
    assert 'id="alerts"' not in (await ann.get("/desk/dashboard")).text
