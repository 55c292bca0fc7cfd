"""Helpers for the session, ticket and confirmation tests: an SDK client on the app."""

from __future__ import annotations

import httpx

import inloop
from tests.integration.conversation_support import key


async def agent_sdk(api: httpx.AsyncClient, name: str = "bot") -> inloop.AsyncClient:
    """An AsyncClient with an agent key of its own, over the same ASGI app as ``api``."""
    secret = await key(api, name, ["agent"])
    return inloop.AsyncClient(str(api.base_url), secret, transport=api._transport)


async def admin_sdk(api: httpx.AsyncClient) -> inloop.AsyncClient:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    return inloop.AsyncClient(str(api.base_url), token, transport=api._transport)
