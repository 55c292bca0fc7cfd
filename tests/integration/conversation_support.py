"""Helpers for the conversation tests: agents' and humans' keys, a conversation, a handoff."""

from __future__ import annotations

from typing import Any

import httpx

from inloop.server.services import Services


async def key(api: httpx.AsyncClient, name: str, scopes: list[str], user: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "scopes": scopes}
    if user:
        body["user"] = user
    response = await api.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def human(
    api: httpx.AsyncClient, handle: str, roles: list[str] | None = None
) -> httpx.AsyncClient:
    """A user and a client acting for them with a responder key."""
    response = await api.post(
        "/v1/users", json={"handle": handle, "name": handle.title(), "roles": roles or []}
    )
    assert response.status_code == 201, response.text
    secret = await key(api, f"{handle}'s key", ["responder"], handle)
    return httpx.AsyncClient(
        transport=api._transport,
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {secret}"},
    )


async def agent(api: httpx.AsyncClient, name: str = "bot") -> httpx.AsyncClient:
    secret = await key(api, name, ["agent"])
    return httpx.AsyncClient(
        transport=api._transport,
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {secret}"},
    )


async def conversation(bot: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await bot.post(
        "/v1/conversations", json={"user_id": "cust-1", "user_name": "Dana", **body}
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def say(
    bot: httpx.AsyncClient, conversation_id: str, text: str, role: str = "agent", **extra: Any
) -> httpx.Response:
    return await bot.post(
        f"/v1/conversations/{conversation_id}/messages", json={"role": role, "text": text, **extra}
    )


async def start(bot: httpx.AsyncClient, conversation_id: str, **overrides: Any) -> dict[str, Any]:
    response = await bot.post(
        f"/v1/conversations/{conversation_id}/handoff",
        json={
            "title": "Refund question",
            "description": "Wants a refund",
            "user_id": "cust-1",
            "configuration_overrides": overrides,
        },
    )
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


async def transcript(bot: httpx.AsyncClient, conversation_id: str) -> list[dict[str, Any]]:
    response = await bot.get(f"/v1/conversations/{conversation_id}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def events(
    bot: httpx.AsyncClient, conversation_id: str | None = None, after: int = 0
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"after": after}
    if conversation_id:
        params["conversation_id"] = conversation_id
    response = await bot.get("/v1/conversation-events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def texts(messages: list[dict[str, Any]], audience: str | None = None) -> list[tuple[str, str]]:
    return [
        (m["role"], m["content"].get("text", m["type"]))
        for m in messages
        if audience is None or m["audience"] == audience
    ]


async def fire(services: Services) -> int:
    return await services.scheduler.run_due()
