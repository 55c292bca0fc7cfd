"""A workflow run's page in the desk: the graph drawn on the server with the current node
and the path marked, escaped, under the desk's CSP; who may see it. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inloop.server.services import Services
from tests.desk import desk_support
from tests.desk.desk_support import make_user, sign_in
from tests.workflows.conftest import Harness

XSS = "<script>window.__xss=1</script>"
FLOW = {
    "name": "desk_page",
    "nodes": [
        {"id": "check", "type": "function", "function": "tests.workflows.functions:count"},
        {"id": "approve", "type": "human", "prompt": "Approve {{item}}?", "assignee": "user:bob"},
        {"id": "done", "type": "end"},
        {"id": "odd", "type": "end"},
    ],
    "edges": [
        {"from": "check", "to": "odd", "when": f"item == '{XSS}'"},
        {"from": "check", "to": "approve"},
        {"from": "approve", "to": "done"},
    ],
}


@pytest.fixture
def browser(services: Services) -> Any:
    from inloop.server.app import create_app

    desk_support.fast_hashing(services)
    app = create_app(services.settings, services=services)
    return lambda: httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://inloop.test"
    )


async def test_the_run_page_draws_where_the_run_is(
    harness: Harness, api: httpx.AsyncClient, services: Services, browser: Any
) -> None:
    await make_user(api, services, "admin_ann", roles=["admin"])
    await make_user(api, services, "bob")
    await make_user(api, services, "carol")
    run_id = await harness.start(FLOW, {"item": f"a chair {XSS}"})
    request = await harness.open_request(run_id)
    async with browser() as admin:
        await sign_in(admin, "admin_ann")
        page = await admin.get(f"/desk/workflows/runs/{run_id}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'role="img"' in html
    assert 'class="node human current" data-node="approve"' in html
    assert 'class="node function visited" data-node="check"' in html
    assert 'class="node end pending" data-node="done"' in html
    assert 'class="edge taken" data-from="check" data-to="approve"' in html
    assert f'href="/desk/requests/{request.id}"' in html
    assert XSS not in html and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "edges[1]" in html and "(default)" in html  # the path table says how it left check
    assert 'id="vars-h"' in html  # admins see the variables

    async with browser() as bob:  # the human it asked may see it, without the variables
        await sign_in(bob, "bob")
        assert (await bob.get(f"/desk/workflows/runs/{run_id}")).status_code == 200
        request_page = await bob.get(f"/desk/requests/{request.id}")
        assert f'href="/desk/workflows/runs/{run_id}"' in request_page.text
        assert 'id="vars-h"' not in (await bob.get(f"/desk/workflows/runs/{run_id}")).text
    async with browser() as carol:  # someone it never asked may not
        await sign_in(carol, "carol")
        assert (await carol.get(f"/desk/workflows/runs/{run_id}")).status_code == 403
        assert (await carol.get("/desk/workflows/runs/run_nope")).status_code == 404

    await harness.client.respond(request.id, "approve")
    await harness.finished(run_id)
    async with browser() as admin:
        await sign_in(admin, "admin_ann")
        done = (await admin.get(f"/desk/workflows/runs/{run_id}")).text
    assert 'class="node end visited" data-node="done"' in done
    assert 'class="edge taken" data-from="approve" data-to="done"' in done
    assert "completed · done" in done
