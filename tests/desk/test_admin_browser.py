"""The admin pages and the dashboard in a real browser (Chromium, headless) against a real
``inloop serve``: an admin creates a user and an API key whose secret is shown once, then
revokes it; a non-admin is refused; the dashboard's charts load nothing from elsewhere.

Set ``INLOOP_SCREENSHOTS=<dir>`` to save the screenshots used in the docs there.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from inloop.domain.enums import Priority
from inloop.domain.ids import new_id
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import requests
from tests.support import Databases, ServerProcess

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"


def seed(url: str, now: datetime) -> None:
    """A week of work, written straight to the table (the server's clock is the real one):
    open requests of every priority, answers after minutes to hours, a few timeouts."""
    rng = random.Random(4)
    rows: list[dict[str, Any]] = []
    people = ["alice", "bob", "carol"]
    for i in range(160):
        created = now - timedelta(hours=rng.uniform(1, 6 * 24))
        priority = rng.choice([Priority.URGENT] + [Priority.HIGH] * 3 + [Priority.MEDIUM] * 5)
        row: dict[str, Any] = {
            "id": new_id("req", created),
            "kind": "approval",
            "status": "pending",
            "title": f"Refund order #{i}",
            "prompt": "Refund?",
            "options": [{"value": "approve"}, {"value": "reject"}],
            "priority": priority.value,
            "priority_order": priority.order,
            "metadata": {},
            "created_by": "key:seed",
            "created_at": created,
            "updated_at": created,
            "level": 1 if rng.random() < 0.1 else 0,
            "resolution": None,
            "resolved_at": None,
            "resolved_by": None,
            "assigned_to": None,
        }
        fate = rng.random()
        if fate < 0.7:
            resolved = created + timedelta(minutes=rng.lognormvariate(3, 1))
            handle = rng.choice(people)
            row |= {"status": "resolved", "resolution": "responded", "resolved_at": resolved,
                    "resolved_by": f"user:{handle}"}  # fmt: skip
        elif fate < 0.78:
            row |= {"status": "resolved", "resolution": "timed_out", "resolved_by": "policy",
                    "resolved_at": created + timedelta(hours=4)}  # fmt: skip
        elif fate < 0.86:
            row |= {"status": "assigned", "assigned_to": rng.choice(people)}
        rows.append(row)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(requests.insert(), rows)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("admin-browser")
    url = databases.sqlite(workdir / "inloop.db")
    process = ServerProcess(url, workdir).start()
    with process.client() as api:
        for handle, name, roles, capacity in [
            ("root", "Rosa Admin", ["admin"], None),
            ("alice", "Alice Archer", [], 8),
            ("bob", "Bob Baker", [], 5),
            ("carol", "Carol Chen", [], None),
        ]:
            body = {"handle": handle, "name": name, "roles": roles}
            api.post("/v1/users", json=body).raise_for_status()
            if capacity:
                api.patch(f"/v1/users/{handle}", json={"capacity": capacity}).raise_for_status()
            api.post(f"/v1/users/{handle}/password", json={"password": PASSWORD}).raise_for_status()
    seed(url, datetime.now(UTC))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def signed_in(browser: Any, server: ServerProcess, handle: str, **options: Any) -> Any:
    page = browser.new_context(**options).new_page()
    page.goto(f"{server.url}/desk/login")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/desk**")
    return page


def screenshot(page: Any, name: str) -> None:
    target = os.environ.get("INLOOP_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)


def test_an_admin_creates_a_user_and_a_key_shown_once_then_revokes_it(
    browser: Any, server: ServerProcess
) -> None:
    page = signed_in(browser, server, "root")
    page.goto(f"{server.url}/desk/admin/users")
    page.get_by_label("Handle").fill("dora")
    page.get_by_label("Name").fill("Dora <b>Doe</b>")
    page.locator("#roles").fill("ops")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_url(f"{server.url}/desk/admin/users")
    assert page.locator("#notice").inner_text().strip() == "User dora created."
    row = page.locator("#user-dora")
    assert "Dora <b>Doe</b>" in row.inner_text()  # shown as typed: text, not markup
    assert row.locator("b").count() == 0
    page.reload()
    assert page.locator("#notice").count() == 0

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("billing agent")
    page.get_by_label("agent", exact=True).check()
    page.get_by_label("Acts for").select_option("dora")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(f"{server.url}/desk/admin/keys")
    secret = page.locator("#new-secret").input_value()
    key_id = secret.split(".")[0]
    assert key_id.startswith("ak_")
    with httpx.Client(base_url=server.url) as client:
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.json()["actor"] == "user:dora"
        page.reload()
        assert page.locator("#new-secret").count() == 0
        assert secret not in page.content()
        page.locator(f"#key-{key_id}").get_by_role("button", name="Revoke").click()
        page.wait_for_url(f"{server.url}/desk/admin/keys")
        assert "revoked" in page.locator(f"#key-{key_id}").inner_text()
        after = client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert after.status_code == 401
    page.context.close()


def test_a_non_admin_gets_403_on_admin_pages(browser: Any, server: ServerProcess) -> None:
    page = signed_in(browser, server, "alice")
    assert page.locator("header nav").get_by_role("link", name="Admin").count() == 0
    for path in ("/desk/admin/users", "/desk/admin/keys", "/desk/admin/teams"):
        response = page.goto(f"{server.url}{path}")
        assert response is not None and response.status == 403
        assert page.get_by_role("heading", name="Not allowed").is_visible()
    page.context.close()


def test_the_dashboard_draws_its_charts_with_nothing_from_elsewhere(
    browser: Any, server: ServerProcess
) -> None:
    page = signed_in(browser, server, "root", viewport={"width": 1280, "height": 900})
    origin = urlsplit(server.url).netloc
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{server.url}/desk/dashboard")
    page.wait_for_load_state("networkidle")
    charts = page.locator('svg[role="img"]')
    assert charts.count() == 8
    for i in range(8):
        assert charts.nth(i).is_visible()
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 200
    assert page.locator("#chart-open rect[data-value]").count() >= 4
    assert page.locator("#chart-load rect[data-value]").count() >= 4  # a bar per human
    for chart in ("#chart-trend", "#chart-reasons", "#chart-sla", "#chart-actions"):
        assert page.locator(chart).is_visible(), chart
    assert page.locator("#tile-open").inner_text() != "0"
    assert fetched, "the page made no requests at all?"
    assert all(urlsplit(url).netloc == origin for url in fetched), fetched
    # The figures are there as a table too, for screen readers and for reading numbers.
    page.locator("#figure-load summary").click()
    assert page.locator("#chart-load-data").get_by_text("Alice Archer (alice)").is_visible()
    page.locator("#figure-load summary").click()
    screenshot(page, "dashboard.png")
    page.goto(f"{server.url}/desk/admin/users")
    screenshot(page, "admin-users.png")
    page.context.close()


def test_the_dashboard_fits_a_phone(browser: Any, server: ServerProcess) -> None:
    """At 390 px wide nothing scrolls sideways: the charts shrink to the screen."""
    page = signed_in(browser, server, "root", viewport={"width": 390, "height": 844})
    for path in ("/desk/dashboard", "/desk/admin/users", "/desk/admin/keys"):
        page.goto(f"{server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.context.close()
