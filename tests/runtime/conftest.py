from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from inloop import AsyncClient
from tests.support import ADMIN_TOKEN


def runs_app(services):  # type: ignore[no-untyped-def]
    """The routes the runtime uses, as ``create_app`` mounts them (without the desk)."""
    from fastapi import FastAPI

    from inloop.server.api import errors, identity, requests, runs

    app = FastAPI()
    app.state.services = services
    errors.install(app)
    app.include_router(requests.router)
    app.include_router(runs.router)
    app.include_router(identity.router)
    return app


@pytest.fixture
async def client(services) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    """The SDK's AsyncClient on the server's request and run routes in this process
    (ASGI), as the admin."""
    app = runs_app(services)
    async with AsyncClient(
        "http://inloop.test", ADMIN_TOKEN, transport=httpx.ASGITransport(app=app)
    ) as sdk:
        yield sdk
