"""The desk's admin pages over ASGI: admins only, CSRF on every form, secrets shown once,
typed text escaped, and nothing half-written on bad input; SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from inloop.domain.identity import SYSTEM
from inloop.server.services import Services

PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="alert(1)">'
Desk = Callable[[], httpx.AsyncClient]


@asynccontextmanager
async def browser_clients(services: Services) -> AsyncIterator[Desk]:
    """Makes browser-like clients (a cookie jar each) on one app."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from inloop.server.app import create_app

    # Still argon2, with light parameters: these tests are about the pages, not the hash.
    services.sessions.hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),))
    app = create_app(services.settings, services=services)
    async with AsyncExitStack() as stack:

        def make() -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://inloop.test"
            )
            stack.push_async_callback(client.aclose)
            return client

        yield make


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Desk]:
    async with browser_clients(services) as make:
        yield make


async def make_user(
    api: httpx.AsyncClient, services: Services, handle: str, *, admin: bool = False, name: str = ""
) -> None:
    body = {"handle": handle, "name": name or handle.title(), "roles": ["admin"] if admin else []}
    assert (await api.post("/v1/users", json=body)).status_code == 201
    await services.sessions.set_password(SYSTEM, handle, PASSWORD)


async def sign_in(client: httpx.AsyncClient, handle: str, password: str = PASSWORD) -> int:
    page = await client.get("/desk/login")
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found is not None
    data = {"handle": handle, "password": password, "login_token": found[1], "next": "/desk"}
    return (await client.post("/desk/login", data=data)).status_code


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


async def admin_client(api: httpx.AsyncClient, services: Services, desk: Desk) -> httpx.AsyncClient:
    await make_user(api, services, "root", admin=True, name="Root Admin")
    client = desk()
    assert await sign_in(client, "root") == 303
    return client


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str | list[str]]
) -> httpx.Response:
    """Post a form with the session's CSRF token, as the page's own form would."""
    token = csrf_of(await client.get("/desk/admin/users"))
    return await client.post(path, data={"csrf_token": token, **data})


ADMIN_PAGES = ["/desk/admin/users", "/desk/admin/roles", "/desk/admin/teams", "/desk/admin/keys"]


async def test_admin_pages_are_for_admins_only(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    """Signed out: sent to sign in. A signed-in non-admin: 403 on every page and form."""
    await make_user(api, services, "alice")
    anonymous = desk()
    for path in ADMIN_PAGES:
        response = await anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/desk/login")
    alice = desk()
    assert await sign_in(alice, "alice") == 303
    token = csrf_of(await alice.get("/desk"))
    for path in [*ADMIN_PAGES, "/desk/admin/users/alice"]:
        assert (await alice.get(path)).status_code == 403, path
    for path, data in [
        ("/desk/admin/users", {"handle": "mallory", "name": "M"}),
        ("/desk/admin/keys", {"name": "k", "scopes": "admin"}),
        ("/desk/admin/roles", {"handle": "alice", "role": "admin"}),
    ]:
        response = await alice.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403, path
    users = (await api.get("/v1/users")).json()["items"]
    assert [u["handle"] for u in users] == ["alice"]
    assert users[0]["roles"] == []
    assert (await api.get("/v1/keys")).json()["items"] == []


async def test_a_form_without_the_csrf_token_changes_nothing(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    for token in (None, "forged"):
        data = {"handle": "bob", "name": "Bob"} | ({"csrf_token": token} if token else {})
        response = await root.post("/desk/admin/users", data=data)
        assert response.status_code == 403
        assert "security token" in response.text
    other_site = await root.post(
        "/desk/admin/users",
        data={"handle": "bob", "name": "Bob", "csrf_token": csrf_of(await root.get("/desk"))},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    assert (await api.get("/v1/users/bob")).status_code == 404


async def test_an_admin_creates_a_user_who_can_then_sign_in(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    response = await post(
        root,
        "/desk/admin/users",
        {"handle": "bob", "name": "Bob B", "email": "bob@example.com", "roles": "ops, support",
         "password": "a long password"},
    )  # fmt: skip
    assert response.status_code == 303
    page = await root.get(response.headers["location"])
    assert "User bob created." in page.text
    assert 'id="user-bob"' in page.text
    assert "User bob created." not in (await root.get("/desk/admin/users")).text  # once
    bob = (await api.get("/v1/users/bob")).json()
    assert (bob["name"], bob["email"], bob["roles"]) == (
        "Bob B",
        "bob@example.com",
        ["ops", "support"],
    )
    assert await sign_in(desk(), "bob", "a long password") == 303


@pytest.mark.parametrize(
    ("form", "status", "field"),
    [
        ({"handle": "<b>x</b>", "name": "X"}, 422, "handle"),
        ({"handle": "carol", "name": ""}, 422, "name"),
        ({"handle": "carol", "name": "C", "email": "not-an-email"}, 422, "email"),
        ({"handle": "carol", "name": "C", "roles": "ok <bad>"}, 422, "roles"),
        ({"handle": "carol", "name": "C", "password": "short"}, 422, "password"),
        ({"handle": "root", "name": "Again"}, 409, None),
    ],
)
async def test_bad_input_shows_the_error_and_leaves_nothing_behind(
    api: httpx.AsyncClient,
    services: Services,
    desk: Desk,
    form: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    root = await admin_client(api, services, desk)
    response = await post(root, "/desk/admin/users", form)
    assert response.status_code == status, response.text
    assert 'role="alert"' in response.text
    if field:
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text)
    assert "<b>x</b>" not in response.text  # what was typed comes back escaped
    handles = [u["handle"] for u in (await api.get("/v1/users")).json()["items"]]
    assert handles == ["root"]


async def test_typed_names_are_escaped_on_every_admin_page(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    """A user's name, a team's description and a key's name holding markup stay text."""
    root = await admin_client(api, services, desk)
    await make_user(api, services, "eve", name=XSS)
    await api.post("/v1/teams", json={"name": "red", "description": XSS})
    await api.put("/v1/teams/red/members/eve")
    await api.post("/v1/keys", json={"name": XSS, "scopes": ["agent"], "user": "eve"})
    for path in [*ADMIN_PAGES, "/desk/admin/users/eve"]:
        page = await root.get(path)
        assert page.status_code == 200, path
        assert XSS not in page.text, path
    assert "&lt;img src=x onerror=" in (await root.get("/desk/admin/users")).text


async def test_disable_and_enable_a_user(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    """A disabled user is signed out at their next page and cannot sign in; an admin
    cannot disable themselves."""
    root = await admin_client(api, services, desk)
    await make_user(api, services, "dave")
    dave = desk()
    assert await sign_in(dave, "dave") == 303
    assert (await dave.get("/desk")).status_code == 200
    response = await post(root, "/desk/admin/users/dave/disabled", {"disabled": "true"})
    assert response.status_code == 303
    assert (await api.get("/v1/users/dave")).json()["disabled"] is True
    assert (await dave.get("/desk")).status_code == 303
    assert await sign_in(desk(), "dave") != 303
    await post(root, "/desk/admin/users/dave/disabled", {"disabled": "false"})
    assert await sign_in(desk(), "dave") == 303
    myself = await post(root, "/desk/admin/users/root/disabled", {"disabled": "true"})
    assert myself.status_code == 422
    assert (await api.get("/v1/users/root")).json()["disabled"] is False


async def test_edit_details_and_reset_a_password(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    await make_user(api, services, "erin")
    saved = await post(
        root, "/desk/admin/users/erin", {"name": "Erin E", "email": "", "capacity": "3"}
    )
    assert saved.status_code == 303
    erin = (await api.get("/v1/users/erin")).json()
    assert (erin["name"], erin["capacity"]) == ("Erin E", 3)
    bad = await post(root, "/desk/admin/users/erin", {"name": "Erin", "capacity": "lots"})
    assert bad.status_code == 422
    assert "whole number" in bad.text
    assert (await api.get("/v1/users/erin")).json()["name"] == "Erin E"
    short = await post(root, "/desk/admin/users/erin/password", {"password": "short"})
    assert short.status_code == 422
    assert await sign_in(desk(), "erin") == 303  # the old password still works
    reset = await post(root, "/desk/admin/users/erin/password", {"password": "brand new one"})
    assert reset.status_code == 303
    assert await sign_in(desk(), "erin") != 303
    assert await sign_in(desk(), "erin", "brand new one") == 303
    missing = await post(root, "/desk/admin/users/nobody/password", {"password": "long enough"})
    assert missing.status_code == 404


async def test_grant_and_revoke_roles(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    await make_user(api, services, "finn")
    assert (await post(root, "/desk/admin/roles", {"handle": "finn", "role": "ops"})).is_redirect
    roles = await root.get("/desk/admin/roles")
    assert 'id="role-ops"' in roles.text
    assert (await api.get("/v1/users/finn")).json()["roles"] == ["ops"]
    bad = await post(root, "/desk/admin/users/finn/roles", {"role": "no spaces", "granted": "true"})
    assert bad.status_code == 422
    revoked = await post(
        root, "/desk/admin/users/finn/roles", {"role": "ops", "granted": "false", "next": "roles"}
    )
    assert revoked.headers["location"] == "/desk/admin/roles"
    assert (await api.get("/v1/users/finn")).json()["roles"] == []


async def test_teams_and_their_members(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    await make_user(api, services, "gail")
    assert (await post(root, "/desk/admin/teams", {"name": "support"})).status_code == 303
    duplicate = await post(root, "/desk/admin/teams", {"name": "support"})
    assert duplicate.status_code == 409
    bad = await post(root, "/desk/admin/teams", {"name": "a b"})
    assert bad.status_code == 422
    added = await post(root, "/desk/admin/teams/support/members", {"handle": "gail"})
    assert added.status_code == 303
    assert (await api.get("/v1/teams/support")).json()["members"] == ["gail"]
    assert "gail added to support." in (await root.get("/desk/admin/teams")).text
    nobody = await post(root, "/desk/admin/teams/support/members", {"handle": "nobody"})
    assert nobody.status_code == 404
    await post(root, "/desk/admin/teams/support/members", {"handle": "gail", "member": "false"})
    assert (await api.get("/v1/teams/support")).json()["members"] == []
    assert (await post(root, "/desk/admin/teams/support/delete", {})).status_code == 303
    assert (await api.get("/v1/teams/support")).status_code == 404


async def test_an_api_key_secret_is_shown_once_and_revoking_it_works(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    root = await admin_client(api, services, desk)
    created = await post(
        root, "/desk/admin/keys", {"name": "billing agent", "scopes": ["agent", "responder"],
                                   "user": "root"}
    )  # fmt: skip
    assert created.status_code == 303
    page = await root.get("/desk/admin/keys")
    found = re.search(r'id="new-secret"[^>]*value="([^"]+)"', page.text)
    assert found is not None
    secret = html.unescape(found[1])
    again = await root.get("/desk/admin/keys")
    assert secret not in again.text and 'id="new-secret"' not in again.text
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"actor": "user:root", "scopes": ["agent", "responder"], "user": "root"}
    key_id = secret.split(".")[0]
    assert f'id="key-{key_id}"' in again.text
    revoked = await post(root, f"/desk/admin/keys/{key_id}/revoke", {})
    assert revoked.status_code == 303
    assert "revoked" in (await root.get("/desk/admin/keys")).text
    after = await api.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": "no scopes"}, "scopes"),
        ({"name": "", "scopes": "agent"}, "name"),
        ({"name": "k", "scopes": "superuser"}, "scopes.0"),
        ({"name": "k", "scopes": "agent", "user": "ghost"}, "user"),
    ],
)
async def test_a_bad_key_form_creates_no_key(
    api: httpx.AsyncClient,
    services: Services,
    desk: Desk,
    form: dict[str, str],
    field: str,
) -> None:
    root = await admin_client(api, services, desk)
    response = await post(root, "/desk/admin/keys", form)
    assert response.status_code in (404, 422), response.text
    assert 'role="alert"' in response.text
    assert field.split(".")[0] in response.text
    assert (await api.get("/v1/keys")).json()["items"] == []
    assert (await post(root, "/desk/admin/keys/ak_missing/revoke", {})).status_code == 404
