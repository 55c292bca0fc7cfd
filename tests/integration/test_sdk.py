"""The Python SDK against the real app (over ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import BaseModel

import inloop
from tests.support import ADMIN_TOKEN, FakeClock


class Review(BaseModel):
    approved: bool
    quality_score: int
    feedback: str | None = None


@pytest.fixture
async def sdk(services) -> AsyncIterator[inloop.AsyncClient]:  # type: ignore[no-untyped-def]
    from inloop.server.app import create_app

    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    async with inloop.AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
        yield client


async def when_created(services) -> str:  # type: ignore[no-untyped-def]
    """The id of the next request created (httpx's ASGI transport cannot stream SSE)."""
    with services.hub.stream(lambda event, _: event.type == "created") as stream:
        _event, request = await stream.queue.get()
        return request.id


async def test_ask_returns_a_typed_form_answer(sdk: inloop.AsyncClient, services) -> None:  # type: ignore[no-untyped-def]
    """ask() with a pydantic model sends its schema and returns an instance of it."""

    async def human() -> None:
        request_id = await when_created(services)
        await sdk.respond(request_id, {"approved": True, "quality_score": 4}, comment="checked")

    answering = asyncio.create_task(human())
    await asyncio.sleep(0)
    answer = await sdk.ask("Rate this response", response_model=Review, timeout_wait=30)
    await answering
    assert answer.value == Review(approved=True, quality_score=4)
    assert answer.approved and answer.comment == "checked"
    assert answer.request.kind == "form"


async def test_ask_raises_no_answer_when_cancelled(sdk: inloop.AsyncClient, services) -> None:  # type: ignore[no-untyped-def]
    """A request cancelled while the agent waits raises NoAnswerError carrying the request."""

    async def cancel_when_created() -> None:
        await sdk.cancel(await when_created(services), reason="changed my mind")

    human = asyncio.create_task(cancel_when_created())
    await asyncio.sleep(0)
    with pytest.raises(inloop.NoAnswerError) as caught:
        await sdk.ask("Proceed?", kind="confirmation", timeout_wait=30)
    await human
    assert caught.value.request.status == "cancelled"


async def test_errors_map_to_the_sdk_tree(sdk: inloop.AsyncClient) -> None:
    """Server errors arrive as the SDK's typed exceptions with code and field."""
    with pytest.raises(inloop.NotFoundError):
        await sdk.get("req_missing")
    request = await sdk.create("Ship?", options=["approve", "reject"], idempotency_key="k-1")
    assert (
        await sdk.create("Ship?", options=["approve", "reject"], idempotency_key="k-1")
    ).id == request.id
    with pytest.raises(inloop.ConflictError) as conflict:
        await sdk.create("Other", idempotency_key="k-1")
    assert conflict.value.code == "idempotency_conflict"
    with pytest.raises(inloop.InvalidError) as invalid:
        await sdk.respond(request.id, "maybe")
    assert invalid.value.field == "response"
    await sdk.respond(request.id, "approve")
    with pytest.raises(inloop.ConflictError):
        await sdk.respond(request.id, "reject")


async def test_listing_and_iteration_follow_cursors(
    sdk: inloop.AsyncClient, clock: FakeClock
) -> None:
    """iter() walks every page; list() filters."""
    for i in range(7):
        clock.advance(seconds=1)
        await sdk.create(f"q{i}", kind="input", priority="high" if i % 2 else "low")
    assert len([r async for r in sdk.iter(limit=2)]) == 7
    page = await sdk.list(priority="high")
    assert [r.prompt for r in page.items] == ["q1", "q3", "q5"]


async def test_identity_admin_through_the_sdk(sdk: inloop.AsyncClient) -> None:
    """Users, teams and keys can be managed from the SDK."""
    await sdk.create_user("alice", "Alice", roles=["ops"])
    await sdk.create_team("support")
    team = await sdk.add_member("support", "alice")
    assert team.members == ["alice"]
    key = await sdk.create_key("ci", ["agent"], user="alice")
    assert key.secret.startswith(key.id)
    assert [k.id for k in await sdk.list_keys()] == [key.id]
