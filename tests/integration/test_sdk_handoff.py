"""The SDK's start_hitl / stop_hitl and client.conversations against the real app (ASGI),
on SQLite and PostgreSQL; the sync Client's calls are built by the same code (unit test)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

import inloop
from tests.support import ADMIN_TOKEN


@pytest.fixture
async def sdk(services) -> AsyncIterator[inloop.AsyncClient]:  # type: ignore[no-untyped-def]
    from inloop.server.app import create_app

    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    async with inloop.AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
        yield client


async def test_start_stop_and_the_continue_event(sdk: inloop.AsyncClient) -> None:
    """Typed inputs as in seed 000; NULL silences; the AI is muted (ConflictError ai_muted);
    stop_hitl ends it and a listener that was parked gets handoff_ended and continue."""
    conversation = await sdk.conversations.create("cust-9", user_name="Sam", id="sdk-conv")
    await sdk.conversations.send(conversation.id, "/starthitl", role="user")
    session = await sdk.start_hitl(
        title="Support HITL",
        description="Escalate to support agent",
        conversation_id=conversation.id,
        user_id="cust-9",
        configuration_overrides={
            "on_hitl_handoff_message": inloop.NULL,
            "user_hitl_close_command": "/end",
            "agent_assigned_timeout_seconds": 100,
        },
    )
    assert isinstance(session, inloop.HandoffSession) and session.status == "pending"
    assert session.config["on_hitl_handoff_message"] is None
    assert [m.text for m in await sdk.conversations.messages(conversation.id)] == ["/starthitl"]
    with pytest.raises(inloop.ConflictError) as muted:
        await sdk.conversations.send(conversation.id, "I can still help!")
    assert muted.value.code == "ai_muted"
    with pytest.raises(inloop.ConflictError) as twice:
        await sdk.start_hitl(title="again", conversation_id=conversation.id, user_id="cust-9")
    assert twice.value.code == "handoff_active"
    seen = await sdk.conversations.events(conversation_id=conversation.id)
    cursor = seen[-1].id

    async def listen() -> list[str]:
        kinds = []
        async for event in sdk.conversations.listen(
            after=cursor, conversation_id=conversation.id, poll=5
        ):
            kinds.append(event.type.value)
            if event.type == "continue":
                return kinds
        return kinds

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)  # let it park on the server
    stopped = await sdk.stop_hitl(conversation_id=conversation.id, reason="resolved")
    assert stopped.end_reason == inloop.EndReason.STOP_CALLED
    assert await asyncio.wait_for(listener, 10) == ["handoff_ended", "continue"]
    reply = await sdk.conversations.send(conversation.id, "I am back")
    assert reply.status == "sent"
    assert (await sdk.conversations.handoff(conversation.id)).status == "ended"  # type: ignore[union-attr]


async def test_consult_through_the_sdk(sdk: inloop.AsyncClient, services) -> None:  # type: ignore[no-untyped-def]
    conversation = await sdk.conversations.create("cust-1")
    ticket = await sdk.conversations.consult(
        conversation.id, "Which plan fits?", options=["basic", "pro"]
    )
    assert ticket.kind == "choice" and ticket.metadata == {"consult": True}
    await sdk.respond(ticket.id, "pro")
    answered = await sdk.wait(ticket.id, timeout=0)
    assert answered.response == "pro"


def test_sync_client_sends_the_same_body() -> None:
    """The blocking Client: NULL becomes null, unset keys are left out."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            201,
            json={"id": "hs_1", "conversation_id": "c1", "status": "pending", "title": "t",
                  "user_id": "u", "provider": "desk", "config": {}, "created_by": "key:1",
                  "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
        )  # fmt: skip

    with inloop.Client("http://x", "t", transport=httpx.MockTransport(handler)) as client:
        client.start_hitl(
            title="t", conversation_id="c1", user_id="u",
            configuration_overrides={"on_hitl_stopped_message": inloop.NULL, "flow_on_hitl_stopped": False},
        )  # fmt: skip
    assert sent[0].url.path == "/v1/conversations/c1/handoff"
    assert json.loads(sent[0].content) == {
        "title": "t",
        "user_id": "u",
        "configuration_overrides": {"on_hitl_stopped_message": None, "flow_on_hitl_stopped": False},
    }
