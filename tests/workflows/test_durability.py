"""A workflow run survives a server restart at a human node and with an answer not yet
processed, and a worker dying inside an automated node: the node runs again elsewhere,
completes once, and the dead worker's late completion is refused. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from inloop import AsyncClient
from inloop.domain.runs import RunEventStatus, RunStatus
from inloop.runtime.worker import execute
from inloop.workflows.interpreter import WorkflowAgent
from inloop.workflows.validation import compile_workflow
from tests.support import ADMIN_TOKEN, FakeClock
from tests.workflows import functions
from tests.workflows.conftest import Harness, no_sleep, workflows_app

FLOW = {
    "name": "two_approvals",
    "nodes": [
        {"id": "prepare", "type": "function", "function": "tests.workflows.functions:count"},
        {"id": "l1", "type": "human", "prompt": "L1: {{item}} (call {{prepare.counted}})"},
        {"id": "record", "type": "function", "function": "tests.workflows.functions:count"},
        {"id": "l2", "type": "human", "prompt": "L2: {{item}} (call {{record.counted}})"},
        {
            "id": "done",
            "type": "end",
            "outcome": "approved",
            "output": {"calls": "{{record.counted}}"},
        },
    ],
    "edges": [
        {"from": "prepare", "to": "l1"},
        {"from": "l1", "to": "record"},
        {"from": "record", "to": "l2"},
        {"from": "l2", "to": "done"},
    ],
}


@asynccontextmanager
async def server(database_url: str, clock: FakeClock) -> AsyncIterator[AsyncClient]:
    """One life of the server: its services on the database, and a client to it."""
    from inloop.server.config import Settings
    from inloop.server.services import build_services

    services = build_services(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN), clock=clock
    )
    transport = httpx.ASGITransport(app=workflows_app(services))
    try:
        async with AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
            yield client
    finally:
        services.close()


async def test_a_server_restart_in_the_middle_of_a_run(database_url: str, clock: FakeClock) -> None:
    functions.CALLS.clear()
    async with server(database_url, clock) as client:
        first = Harness(client)
        run_id = await first.start(FLOW, {"item": "laptop"})
        request = await first.open_request(run_id)
        assert request.prompt == "L1: laptop (call 1)"
        await first.close()  # the worker goes away with the server
        await client.respond(request.id, "approve")  # answered, not yet processed
        assert (await client.runs.wait(run_id, timeout=0)).status == RunStatus.RUNNING
    async with server(database_url, clock) as client:  # the server again, on the same database
        view = await client.workflows.get(run_id)
        assert [(p.node, p.state) for p in view.current] == [("l1", "answered")]
        second = Harness(client)
        second.serve(FLOW)
        request = await second.open_request(run_id)
        assert request.prompt == "L2: laptop (call 2)"
        await second.close()
    async with server(database_url, clock) as client:  # and again, while it waits at l2
        third = Harness(client)
        third.serve(FLOW)
        await third.answer(run_id, "approve")
        view = await third.finished(run_id)
        await third.close()
    assert view.outcome == "approved" and view.output == {"calls": 2}
    assert [s.node for s in view.path] == ["prepare", "l1", "record", "l2", "done"]
    assert len(functions.CALLS) == 2  # each automated node ran once


async def test_a_worker_dies_inside_a_node(client: AsyncClient, clock: FakeClock) -> None:
    """The node runs again in another worker once the lease runs out (at least once); the
    step completes once; the dead worker's completion, sent late, is refused."""
    functions.CALLS.clear()
    definition = {
        "name": "counting",
        "nodes": [
            {"id": "first", "type": "function", "function": "tests.workflows.functions:count"},
            {"id": "second", "type": "function", "function": "tests.workflows.functions:count"},
            {"id": "end", "type": "end", "output": "{{second.counted}}"},
        ],
    }
    agent = WorkflowAgent(compile_workflow(definition), client, sleep=no_sleep)
    names = [agent.agent_name]
    run = await client.workflows.start(definition)
    [start] = await client.runs.claim(names, "worker-a", lease=60)
    [ok] = await client.runs.complete([await execute(agent, start, client)])
    assert ok.ok  # `first` ran inside the start's step; `second` is a pending event now
    [reached] = await client.runs.claim(names, "worker-a", lease=60)
    assert reached.payload["node"] == "second"
    lost = await execute(agent, reached, client)  # worker A ran `second` ... and died
    assert await client.runs.claim(names, "worker-b", lease=60) == []  # still A's lease
    clock.advance(seconds=61)
    [again] = await client.runs.claim(names, "worker-b", lease=60)
    assert again.id == reached.id and again.attempts == 2
    [ok] = await client.runs.complete([await execute(agent, again, client)])
    assert ok.ok
    [late] = await client.runs.complete([lost])
    assert (late.ok, late.code) == (False, "event_done")
    view = await client.workflows.get(run.id)
    assert view.status == RunStatus.COMPLETED and view.output == 3
    assert [s.node for s in view.path] == ["first", "second", "end"]
    assert len(functions.CALLS) == 3  # `second` ran twice: side effects are at least once
    timeline = await client.runs.get(run.id)
    consumed = [e.step for e in timeline.events if e.step]
    assert consumed == ["started", "reached"]  # each event consumed exactly once
    assert all(e.status == RunEventStatus.DONE for e in timeline.events)


async def test_a_worker_trusts_only_the_calls_of_what_it_serves(
    harness: Harness, client: AsyncClient
) -> None:
    """A run whose definition calls a function the worker's own files do not is failed,
    saying why, instead of running code an API key chose."""
    served = {
        "name": "calls",
        "nodes": [{"id": "f", "type": "function", "function": "tests.workflows.functions:count"}],
    }
    harness.serve(served)
    sneaky = {"name": "calls", "nodes": [{"id": "f", "type": "function", "function": "os:getcwd"}]}
    run = await client.workflows.start(sneaky)
    failed = await client.runs.wait(run.id, timeout=30)
    assert failed.status == RunStatus.FAILED
    assert "calls os:getcwd, which no workflow this worker serves does" in (failed.error or "")


async def test_an_edited_definition_with_the_same_calls_runs(
    harness: Harness, client: AsyncClient
) -> None:
    """Prompts, edges and escalations may change between versions; the calls are what a
    worker must know."""
    harness.serve(FLOW)
    edited: dict[str, Any] = {**FLOW, "nodes": [dict(n) for n in FLOW["nodes"]]}
    edited["nodes"][1]["prompt"] = "First level: {{item}}"
    run = await client.workflows.start(edited, {"item": "chair"})
    assert (await harness.open_request(run.id)).prompt == "First level: chair"


async def test_checkpoint_human_runs_the_automated_nodes_in_one_step(
    client: AsyncClient, clock: FakeClock
) -> None:
    """``checkpoint: human``: the nodes between the start and the end run in the start's
    step (one event consumed); a worker dying inside that step leaves every node of it to
    run again, and the late completion is refused. A loop that visits a node twice in one
    step gives each visit its own idempotency key."""
    functions.CALLS.clear()
    definition = {
        "name": "chained",
        "checkpoint": "human",
        "nodes": [
            {"id": "first", "type": "function", "function": "tests.workflows.functions:count"},
            {"id": "second", "type": "function", "function": "tests.workflows.functions:count"},
            {"id": "end", "type": "end", "output": "{{second.counted}}"},
        ],
    }
    agent = WorkflowAgent(compile_workflow(definition), client, sleep=no_sleep)
    names = [agent.agent_name]
    run = await client.workflows.start(definition)
    [start] = await client.runs.claim(names, "worker-a", lease=60)
    lost = await execute(agent, start, client)  # worker A ran both nodes ... and died
    assert len(functions.CALLS) == 2
    clock.advance(seconds=61)
    [again] = await client.runs.claim(names, "worker-b", lease=60)
    assert again.id == start.id and again.attempts == 2
    [ok] = await client.runs.complete([await execute(agent, again, client)])
    assert ok.ok
    [late] = await client.runs.complete([lost])
    assert (late.ok, late.code) == (False, "event_done")
    view = await client.workflows.get(run.id)
    assert view.status == RunStatus.COMPLETED and view.output == 4
    assert [s.node for s in view.path] == ["first", "second", "end"]
    assert len(functions.CALLS) == 4  # both nodes ran twice: the step is the unit
    timeline = await client.runs.get(run.id)
    assert [e.step for e in timeline.events if e.step] == ["started"]  # one step in all


async def test_checkpoint_human_keys_each_visit_of_a_step(harness: Harness) -> None:
    definition = {
        "name": "keyed",
        "checkpoint": "human",
        "nodes": [
            {"id": "add", "type": "function", "function": "tests.workflows.functions:add",
             "args": {"a": "{{sum}}", "b": 1}},
            {"id": "again", "type": "function", "function": "tests.workflows.functions:add",
             "args": {"a": "{{add.sum}}", "b": 1}},
            {"id": "back", "type": "function", "function": "tests.workflows.functions:add",
             "args": {"a": "{{again.sum}}", "b": 0}},
            {"id": "end", "type": "end", "output": "{{back.sum}}"},
        ],
        "edges": [
            {"from": "add", "to": "again"},
            {"from": "again", "to": "add", "when": "again.sum < 4"},
            {"from": "again", "to": "back"},
            {"from": "back", "to": "end"},
        ],
    }  # fmt: skip
    run_id = await harness.start(definition, {"sum": 0})
    view = await harness.finished(run_id)
    assert view.status == RunStatus.COMPLETED, view.run.error
    assert [s.node for s in view.path] == ["add", "again", "add", "again", "back", "end"]
    assert view.output == 4
    keys = [d["output"]["key"] for r, what, d in harness.progress if r == run_id and what == "done"]
    assert len(set(keys)) == 5  # five visits, five keys
    event = keys[0].rsplit(":", 1)[1]
    assert keys == [f"{run_id}:add:{event}"] + [
        f"{run_id}:{node}:{event}:{visit}"
        for visit, node in enumerate(["again", "add", "again", "back"], start=1)
    ]
