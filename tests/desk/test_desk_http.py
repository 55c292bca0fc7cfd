"""The desk over ASGI: cookies, CSRF, the queue's tabs and filters, who may open and
answer what, and agents' text escaped; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from markupsafe import escape

from inloop.server.services import Services
from tests.desk import desk_support
from tests.desk.desk_support import PASSWORD, create, csrf_of, make_user, sign_in

Browser = Callable[..., httpx.AsyncClient]
XSS = '<script>window.__xss=1</script><img src=x onerror="alert(1)">'


@pytest.fixture(autouse=True)
def _fast_hashing(services: Services) -> None:
    desk_support.fast_hashing(services)


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[Browser]:
    """Makes browser-like clients (a cookie jar each, no API key) on one app."""
    from inloop.server.app import create_app

    app = create_app(services.settings, services=services)
    async with AsyncExitStack() as stack:

        def make(base_url: str = "http://inloop.test") -> httpx.AsyncClient:
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
            stack.push_async_callback(client.aclose)
            return client

        yield make


async def test_sign_in_sets_a_locked_down_cookie(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """HttpOnly and SameSite=Lax always, Secure over https; pages carry a strict CSP."""
    await make_user(api, services, "alice")
    plain = browser()
    assert (await plain.get("/desk")).headers["location"] == "/desk/login?next=/desk"
    response = await sign_in(plain, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/desk"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = await plain.get("/desk")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    secure = await sign_in(browser("https://inloop.test"), "alice")
    assert "secure" in secure.headers["set-cookie"].lower()


async def test_a_wrong_password_shows_the_form_again(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """401 with a message; no session cookie; and a forged sign-in form is refused."""
    await make_user(api, services, "alice")
    client = browser()
    wrong = await sign_in(client, "alice", "not the password")
    assert wrong.status_code == 401 and "wrong handle or password" in wrong.text
    assert "inloop_session" not in wrong.headers.get("set-cookie", "")
    forged = await client.post(
        "/desk/login",
        data={"handle": "alice", "password": PASSWORD, "login_token": "made-up"},
    )
    assert forged.status_code == 403


async def test_sign_in_only_returns_to_desk_pages(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """next= pointing elsewhere is replaced by /desk: no open redirect."""
    await make_user(api, services, "alice")
    for target in ("https://evil.test/", "//evil.test", "/desk//evil.test", "/v1/keys"):
        response = await sign_in(browser(), "alice", next=target)
        assert response.headers["location"] == "/desk"
    kept = await sign_in(browser(), "alice", next="/desk?tab=team")
    assert kept.headers["location"] == "/desk?tab=team"


async def test_every_change_needs_the_csrf_token(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """Without the session's token (or from another origin) nothing changes."""
    await make_user(api, services, "alice")
    made = await create(api, assignee="user:alice")
    client = browser()
    await sign_in(client, "alice")
    csrf = csrf_of(await client.get("/desk"))
    url = f"/desk/requests/{made['id']}/respond"
    before = (await api.get(f"/v1/requests/{made['id']}")).json()
    for headers, data in [
        ({}, {"response": "approve"}),
        ({}, {"response": "approve", "csrf_token": "forged"}),
        ({"origin": "https://evil.test"}, {"response": "approve", "csrf_token": csrf}),
    ]:
        refused = await client.post(url, data=data, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "security token" in refused.text or "another site" in refused.text
    assert (await api.get(f"/v1/requests/{made['id']}")).json() == before
    by_header = await client.post(
        url,
        json={"response": "approve"},
        headers={"x-csrf-token": csrf, "accept": "application/json"},
    )
    assert by_header.status_code == 200, by_header.text
    assert (await api.get(f"/v1/requests/{made['id']}")).json()["status"] == "resolved"
    logout = await client.post("/desk/logout", data={})
    assert logout.status_code == 403


async def test_sign_out_ends_the_session(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """After signing out, the same cookie no longer opens the desk."""
    await make_user(api, services, "alice")
    client = browser()
    await sign_in(client, "alice")
    cookie = client.cookies.get("inloop_session")
    csrf = csrf_of(await client.get("/desk"))
    assert (await client.post("/desk/logout", data={"csrf_token": csrf})).status_code == 303
    replay = browser()
    replay.cookies.set("inloop_session", cookie or "")
    assert (await replay.get("/desk")).status_code == 303


async def test_queue_tabs_filters_and_counts(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """Mine, Team and All (admins), filtered by kind, priority, status, assignee and text,
    sorted by priority then due time."""
    await make_user(api, services, "alice", teams=["billing"])
    await make_user(api, services, "root", roles=["admin"])
    approval = {"kind": "approval", "assignee": "user:alice"}
    soon = await create(api, title="Refund soon", timeout="1h", **approval)
    later = await create(api, title="Refund later", timeout="5h", **approval)
    urgent = await create(api, title="Urgent one", priority="urgent", **approval)
    team = await create(api, title="Team question", assignee="team:billing", prompt="Which plan?")
    other = await create(api, title="Not hers", assignee="user:root")
    alice = browser()
    await sign_in(alice, "alice")

    async def ids(**params: str | list[str]) -> list[str]:
        response = await alice.get("/desk/queue.json", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [urgent["id"], soon["id"], later["id"], team["id"]]
    assert await ids(tab="team") == [team["id"]]
    assert await ids(priority="urgent") == [urgent["id"]]
    assert await ids(q="refund") == [soon["id"], later["id"]]
    assert await ids(kind="input") == [team["id"]]
    assert await ids(assignee="none") == [team["id"]]
    assert await ids(assignee="me") == [urgent["id"], soon["id"], later["id"]]
    counts = (await alice.get("/desk/queue.json")).json()
    assert counts["tab_counts"] == {"mine": 4, "team": 1}
    assert counts["priority_counts"] == {"low": 0, "medium": 3, "high": 0, "urgent": 1}
    forbidden = await alice.get("/desk?tab=all")
    assert forbidden.status_code == 403
    assert await ids(status="pending") == [team["id"]]
    claimed = await alice.post(
        f"/desk/requests/{team['id']}/claim",
        data={"csrf_token": csrf_of(await alice.get("/desk"))},
    )
    assert claimed.status_code == 303
    assert await ids(status="pending") == []
    assert await ids(tab="team", assignee="me") == [team["id"]]
    bad = await alice.get("/desk?priority=huge")
    assert bad.status_code == 422 and "priority" in bad.text
    root = browser()
    await sign_in(root, "root")
    everything = (await root.get("/desk/queue.json", params={"tab": "all"})).json()
    assert {i["id"] for i in everything["items"]} >= {other["id"], team["id"]}
    page = await root.get("/desk?tab=all")
    assert page.status_code == 200 and "Not hers" in page.text


async def test_a_human_of_another_team_cannot_open_or_answer(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """403 on the page, on answering, on claiming, and on the request's live stream."""
    await make_user(api, services, "alice", teams=["billing"])
    await make_user(api, services, "mallory", teams=["sales"])
    made = await create(api, title="Billing only", assignee="team:billing")
    mallory = browser()
    await sign_in(mallory, "mallory")
    csrf = csrf_of(await mallory.get("/desk"))
    page = await mallory.get(f"/desk/requests/{made['id']}")
    assert page.status_code == 403 and "Billing only" not in page.text
    for action in ("respond", "claim"):
        refused = await mallory.post(
            f"/desk/requests/{made['id']}/{action}",
            data={"response": "approve", "csrf_token": csrf},
        )
        assert refused.status_code == 403
    stream = await mallory.get(f"/desk/stream?request_id={made['id']}")
    assert stream.status_code == 403
    listed = (await mallory.get("/desk/queue.json")).json()
    assert listed["items"] == []
    assert (await api.get(f"/v1/requests/{made['id']}")).json()["status"] == "pending"
    alice = browser()
    await sign_in(alice, "alice")
    assert (await alice.get(f"/desk/requests/{made['id']}")).status_code == 200


async def test_agents_text_is_escaped_everywhere(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """Prompt, title, context, transcript, customer and options come back as text."""
    await make_user(api, services, "alice")
    made = await create(
        api,
        title=XSS,
        prompt=XSS,
        description=XSS,
        assignee="user:alice",
        options=[{"value": "approve", "label": XSS, "description": XSS}, "reject"],
        context={
            XSS: XSS,
            "transcript": [{"role": XSS, "text": XSS}],
            "customer": {"name": XSS},
            "nested": {"list": [XSS, {"deep": XSS}]},
        },
        display={"layout": "side-by-side", "highlight": [XSS]},
    )
    alice = browser()
    await sign_in(alice, "alice")
    for url in ("/desk", f"/desk/requests/{made['id']}"):
        page = await alice.get(url)
        assert page.status_code == 200
        assert "<script>window.__xss" not in page.text and "<img src=x" not in page.text
        assert str(escape(XSS)) in page.text


async def test_answering_from_the_desk_goes_through_the_services(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """A form answer is checked like an API answer: a bad one is a 422 with its field and
    leaves the request open; a good one resolves it as the signed-in human."""
    await make_user(api, services, "alice")
    schema = {
        "type": "object",
        "properties": {"amount": {"type": "integer", "minimum": 1}},
        "required": ["amount"],
    }
    made = await create(api, response_schema=schema, assignee="user:alice")
    alice = browser()
    await sign_in(alice, "alice")
    csrf = csrf_of(await alice.get(f"/desk/requests/{made['id']}"))
    headers = {"x-csrf-token": csrf, "accept": "application/json"}
    url = f"/desk/requests/{made['id']}/respond"
    bad = await alice.post(url, json={"response": {"amount": 0}}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"].startswith("response")
    malformed = await alice.post(url, data={"response_json": "{not json", "csrf_token": csrf})
    assert malformed.status_code == 422 and "response_json" in malformed.text
    assert (await api.get(f"/v1/requests/{made['id']}")).json()["status"] == "assigned"
    good = await alice.post(url, json={"response": {"amount": 5}, "comment": "ok"}, headers=headers)
    assert good.status_code == 200 and good.json()["status"] == "resolved"
    stored = (await api.get(f"/v1/requests/{made['id']}")).json()
    assert stored["response"] == {"amount": 5} and stored["resolved_by"] == "user:alice"
    again = await alice.post(url, json={"response": {"amount": 6}}, headers=headers)
    assert again.status_code == 409


async def test_an_edited_payload_is_sent_with_modify(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """The desk shows the proposed action and sends the edit with the modify option."""
    await make_user(api, services, "alice")
    made = await create(
        api,
        options=["approve", "modify", "reject"],
        payload={"tool": "refund", "args": {"amount": 120}},
        assignee="user:alice",
    )
    alice = browser()
    await sign_in(alice, "alice")
    page = await alice.get(f"/desk/requests/{made['id']}")
    assert "Proposed action" in page.text and 'id="edited-json"' in page.text
    response = await alice.post(
        f"/desk/requests/{made['id']}/respond",
        json={"response": "modify", "edited": {"tool": "refund", "args": {"amount": 100}}},
        headers={"x-csrf-token": csrf_of(page), "accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    stored = (await api.get(f"/v1/requests/{made['id']}")).json()
    assert stored["edited"] == {"tool": "refund", "args": {"amount": 100}}


async def test_reassign_release_and_presence(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """The holder hands a request to a team; presence switches to away and back."""
    await make_user(api, services, "alice", teams=["billing"])
    await make_user(api, services, "bob", teams=["support"])
    made = await create(api, assignee="team:billing")
    alice = browser()
    await sign_in(alice, "alice")
    csrf = csrf_of(await alice.get("/desk"))
    url = f"/desk/requests/{made['id']}"
    assert (await alice.post(f"{url}/claim", data={"csrf_token": csrf})).status_code == 303
    released = await alice.post(f"{url}/release", data={"csrf_token": csrf})
    assert released.status_code == 303
    assert (await api.get(f"/v1/requests/{made['id']}")).json()["assigned_to"] is None
    assert (await alice.post(f"{url}/claim", data={"csrf_token": csrf})).status_code == 303
    moved = await alice.post(
        f"{url}/reassign", data={"csrf_token": csrf, "to": "team:support", "reason": "theirs"}
    )
    assert moved.status_code == 303
    stored = (await api.get(f"/v1/requests/{made['id']}")).json()
    assert stored["candidates"] == ["team:support"] and stored["assigned_to"] is None
    bad = await alice.post(f"{url}/reassign", data={"csrf_token": csrf, "to": "planet:mars"})
    assert bad.status_code in (403, 422)
    away = await alice.post("/desk/presence", data={"csrf_token": csrf, "presence": "away"})
    assert away.status_code == 303
    assert (await api.get("/v1/users/alice")).json()["presence"] == "away"
    wrong = await alice.post("/desk/presence", data={"csrf_token": csrf, "presence": "gone"})
    assert wrong.status_code == 422


async def test_admins_set_passwords_through_the_api(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """POST /v1/users/{handle}/password: admin only, 8+ characters, ends the sessions."""
    await make_user(api, services, "alice")
    client = browser()
    await sign_in(client, "alice")
    short = await api.post("/v1/users/alice/password", json={"password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    missing = await api.post("/v1/users/nobody/password", json={"password": "long enough"})
    assert missing.status_code == 404
    key = (await api.post("/v1/keys", json={"name": "r", "scopes": ["responder"]})).json()
    denied = await api.post(
        "/v1/users/alice/password",
        json={"password": "long enough"},
        headers={"Authorization": f"Bearer {key['secret']}"},
    )
    assert denied.status_code == 403
    done = await api.post("/v1/users/alice/password", json={"password": "long enough"})
    assert done.status_code == 200 and done.json()["handle"] == "alice"
    assert (await client.get("/desk")).status_code == 303
    assert (await sign_in(browser(), "alice", "long enough")).status_code == 303


async def test_password_change_page(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """The form checks the repetition and the current password, then changes it."""
    await make_user(api, services, "alice")
    client = browser()
    await sign_in(client, "alice")
    csrf = csrf_of(await client.get("/desk/password"))
    form = {"csrf_token": csrf, "current_password": PASSWORD, "new_password": "new password 1"}
    differ = await client.post("/desk/password", data={**form, "repeat_password": "other"})
    assert differ.status_code == 422 and "differ" in differ.text
    done = await client.post("/desk/password", data={**form, "repeat_password": "new password 1"})
    assert done.status_code == 200 and "was changed" in done.text
    assert (await client.get("/desk")).status_code == 200
    assert (await sign_in(browser(), "alice", "new password 1")).status_code == 303


async def test_bad_query_and_form_values_get_an_error_page(
    api: httpx.AsyncClient, services: Services, browser: Browser
) -> None:
    """Out-of-range parameters are a 422 page naming the field, not a stack trace."""
    await make_user(api, services, "alice")
    client = browser()
    await sign_in(client, "alice")
    page = await client.get("/desk?offset=-1")
    assert page.status_code == 422 and "offset" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert (await client.get("/desk?tab=nope")).status_code == 422
    assert (await client.get("/desk/stream?after=abc")).status_code == 422
    assert (await client.get("/desk/requests/req_nope")).status_code == 404
