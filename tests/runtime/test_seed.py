"""Seed 002's examples, as written, on SQLite and PostgreSQL: pause, answer, resume."""

from __future__ import annotations

from typing import Any

import pytest

from inloop import AsyncClient
from inloop.domain.runs import RunStatus
from inloop.runtime import RunHandle, UserMessageEvent
from tests.runtime.agents import ApprovalAgent, HitlDemoAgent, MultistepHumanInTheLoopAgent


async def answer_next(client: AsyncClient, handle: RunHandle, response: Any) -> str:
    """Wait (on the server) until the run pauses on a request; answer it; its prompt."""
    run = await client.runs.wait(handle.id, timeout=30, paused=True)
    assert run.status == RunStatus.PAUSED, run
    timeline = await client.runs.get(handle.id)
    [request] = [r for r in timeline.requests if r.is_open]
    await client.respond(request.id, response)
    return request.prompt


async def test_single_approval(client: AsyncClient) -> None:
    """The run pauses on an input request; the answer ends it with the response."""
    async with ApprovalAgent(client) as agent:
        handle = await agent.run()
        prompt = await answer_next(client, handle, "looks good")
        assert prompt == "Please enter your feedback:"
        assert await handle.result() == "looks good"
    timeline = await client.runs.get(handle.id)
    assert timeline.run.status == RunStatus.COMPLETED
    assert [e.type for e in timeline.events] == [
        "StartEvent",
        "HumanInTheLoopInputRequestEvent",
        "HumanInTheLoopInputResponseEvent",
        "StopEvent",
    ]
    assert [e.step for e in timeline.events] == ["request_approval", None, "handle_response", None]
    assert timeline.requests[0].resolved_by == "admin-token"


async def test_multistep_with_custom_pairs(client: AsyncClient) -> None:
    """Two distinct Input pairs: each answer goes to its own step, in order."""
    async with MultistepHumanInTheLoopAgent(client) as agent:
        handle = await agent.run()
        assert await answer_next(client, handle, "yes") == "Shall I continue?"
        assert await answer_next(client, handle, "quite sure") == "Are you sure?"
        assert await handle.result() == {"second": "quite sure", "asked": "Are you sure?"}
    timeline = await client.runs.get(handle.id)
    assert [e.step for e in timeline.events if e.step] == ["start_step", "second_hitl", "end_step"]
    assert len(timeline.requests) == 2


@pytest.mark.parametrize(
    ("query", "answer", "kind", "result"),
    [
        ("I want a confirmation", True, "confirmation", "Confirmation: Yes"),
        ("let us chat", "hello", "chat", "Response: hello"),
        ("plain input please", "some text", "input", "Response: some text"),
    ],
)
async def test_dynamic_type_selection(
    client: AsyncClient, query: str, answer: Any, kind: str, result: str
) -> None:
    """A union return type: the step picks the HITL type at run time."""
    async with HitlDemoAgent(client) as agent:
        handle = await agent.run(UserMessageEvent(user_query=query))
        await answer_next(client, handle, answer)
        assert await handle.result() == result
    timeline = await client.runs.get(handle.id)
    assert timeline.requests[0].kind == kind
