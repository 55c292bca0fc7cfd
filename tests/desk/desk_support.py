"""Helpers for the desk's tests: users with passwords, browser-like clients, signing in."""

from __future__ import annotations

import re
from typing import Any

import httpx

from inloop.domain.identity import SYSTEM
from inloop.server.services import Services

PASSWORD = "correct horse battery"


async def make_user(
    api: httpx.AsyncClient,
    services: Services,
    handle: str,
    *,
    roles: list[str] | None = None,
    teams: list[str] | None = None,
) -> None:
    body = {"handle": handle, "name": handle.title(), "roles": roles or []}
    assert (await api.post("/v1/users", json=body)).status_code == 201
    for team in teams or []:
        if (await api.get(f"/v1/teams/{team}")).status_code == 404:
            assert (await api.post("/v1/teams", json={"name": team})).status_code == 201
        assert (await api.put(f"/v1/teams/{team}/members/{handle}")).status_code == 200
    await services.sessions.set_password(SYSTEM, handle, PASSWORD)


def login_token(page: httpx.Response) -> str:
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


async def sign_in(
    client: httpx.AsyncClient, handle: str, password: str = PASSWORD, next: str = "/desk"
) -> httpx.Response:
    page = await client.get("/desk/login")
    data = {"handle": handle, "password": password, "login_token": login_token(page), "next": next}
    return await client.post("/desk/login", data=data)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/requests", json={"prompt": "Approve?", **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def fast_hashing(services: Services) -> None:
    """Argon2 with its cheapest settings: the tests check behaviour, not hashing cost."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    services.sessions.hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),))
