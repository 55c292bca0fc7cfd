"""The desk's dashboard page over ASGI: its charts, its figures, who sees what; SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from inloop.server.services import Services
from tests.desk.test_admin import XSS, Desk, browser_clients, make_user, sign_in
from tests.support import FakeClock


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Desk]:
    async with browser_clients(services) as make:
        yield make


async def signed_in(
    api: httpx.AsyncClient, services: Services, desk: Desk, handle: str, *, admin: bool = False
) -> httpx.AsyncClient:
    await make_user(api, services, handle, admin=admin)
    client = desk()
    assert await sign_in(client, handle) == 303
    return client


def tile(page: httpx.Response, key: str) -> str:
    found = re.search(rf'<dd id="tile-{key}">([^<]*)</dd>', page.text)
    assert found is not None, key
    return found[1]


async def test_the_dashboard_draws_its_charts_from_the_figures(
    api: httpx.AsyncClient, services: Services, desk: Desk, clock: FakeClock
) -> None:
    root = await signed_in(api, services, desk, "root", admin=True)
    key = await api.post("/v1/keys", json={"name": "r", "scopes": ["responder"], "user": "root"})
    as_root = {"Authorization": f"Bearer {key.json()['secret']}"}
    for priority in ("urgent", "high", "high"):
        await api.post("/v1/requests", json={"prompt": "Ship?", "priority": priority})
    answered = (await api.post("/v1/requests", json={"prompt": "Refund?"})).json()
    clock.advance(minutes=3)
    await api.post(f"/v1/requests/{answered['id']}/respond", json={"response": "yes"},
                   headers=as_root)  # fmt: skip

    page = await root.get("/desk/dashboard")
    assert page.status_code == 200, page.text
    assert len(re.findall(r'<svg [^>]*role="img"', page.text)) == 8
    for chart in ("chart-open", "chart-response", "chart-rates", "chart-load", "chart-trend",
                  "chart-reasons", "chart-sla", "chart-actions"):  # fmt: skip
        assert f'id="{chart}"' in page.text and f'id="{chart}-data"' in page.text
    assert tile(page, "open") == "3"
    assert tile(page, "answered") == "1"
    assert tile(page, "p50") == "3.0 min"
    assert tile(page, "timeouts") == "0.0%"
    assert 'data-value="2" data-series="pending" data-category="high"' in page.text
    # Nothing is fetched from anywhere else: every src and href stays on this server.
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert url.startswith(("/", "#")), url


async def test_the_period_is_chosen_by_the_window(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await signed_in(api, services, desk, "root", admin=True)
    page = await root.get("/desk/dashboard", params={"window": "30d"})
    assert "last 30 days" in page.text
    assert '<a href="/desk/dashboard?window=30d" aria-current="page">' in page.text
    bad = await root.get("/desk/dashboard", params={"window": "<script>"})
    assert bad.status_code == 422
    assert "<script>" not in bad.text
    assert "not a duration" in bad.text


async def test_a_human_sees_the_totals_and_only_their_own_load(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    await make_user(api, services, "bob")
    alice = await signed_in(api, services, desk, "alice")
    page = await alice.get("/desk/dashboard")
    assert page.status_code == 200
    assert 'data-label="Alice (alice)"' in page.text
    assert 'data-label="Bob (bob)"' not in page.text
    assert "load shows only you" in page.text


async def test_names_are_escaped_in_the_charts(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await signed_in(api, services, desk, "root", admin=True)
    await make_user(api, services, "eve", name=XSS)
    page = await root.get("/desk/dashboard")
    assert XSS not in page.text
    assert "&lt;img src=x onerror=" in page.text


async def test_signed_out_is_sent_to_sign_in(desk: Desk) -> None:
    response = await desk().get("/desk/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/desk/login")
