"""Seed 002's examples, as written, on SQLite and PostgreSQL: pause, answer, resume."""

from __future__ import annotations

from typing import Any

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
