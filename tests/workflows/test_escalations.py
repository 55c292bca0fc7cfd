"""Every escalation path inside a workflow, on a FakeClock: what the request does when its
timeout passes, and where the run goes after. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from inloop import AsyncClient
from tests.support import FakeClock
from tests.workflows.conftest import Harness


def flow(escalation: Any, **human: Any) -> dict[str, Any]:
    """Ask, then ship on a going-ahead answer; a timeout with no answer goes to fallback."""
    node = {
        "id": "ask",
        "type": "human",
        "prompt": "Ship order {{order}}?",
        "timeout": "1h",
        **human,
    }
    if escalation is not None:
        node["escalation"] = escalation
    return {
        "name": "shipping",
        "nodes": [node, {"id": "ship", "type": "end", "outcome": "shipped"},
                  {"id": "fallback", "type": "end", "outcome": "fallback"}],
        "edges": [{"from": "ask", "to": "fallback", "when": "ask.resolution == 'timed_out'"},
                  {"from": "ask", "to": "ship"}],
    }  # fmt: skip


async def tick(services: Any, clock: FakeClock, **delta: float) -> None:
    clock.advance(**delta)
    await services.scheduler.run_due()


async def history(client: AsyncClient, request_id: str) -> list[str]:
    return [e.type.value for e in await client.events(request_id)]


async def test_auto_approve_continues_along_the_default_edge(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    run_id = await harness.start(flow("auto_approve"), {"order": 7})
    request = await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    view = await harness.finished(run_id)
    assert view.outcome == "shipped" and view.variables["ask"]["resolution"] == "auto_approved"
    assert view.variables["ask"]["resolved_by"] == "policy"
    assert await history(harness.client, request.id) == ["created", "auto_approved"]


async def test_auto_reject_stops_the_run(harness: Harness, services: Any, clock: FakeClock) -> None:
    """A rejection never takes a default edge: the run ends rejected."""
    run_id = await harness.start(flow("auto_reject"), {"order": 7})
    await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    view = await harness.finished(run_id)
    assert (view.outcome, view.ended_at) == ("rejected", "ask")


async def test_escalate_hands_it_to_the_next_level_then_the_answer_routes(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    run_id = await harness.start(flow("escalate", assignee="role:shipping"), {"order": 7})
    request = await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    moved = await harness.client.get(request.id)
    assert moved.candidates == ["role:admin"] and moved.level == 1 and moved.priority == "high"
    await tick(services, clock, hours=48)  # "escalate" is the last resort: no further timer
    assert (await harness.client.get(request.id)).is_open
    await harness.client.respond(request.id, "approve")
    assert (await harness.finished(run_id)).outcome == "shipped"


async def test_retry_reminds_three_times_then_times_out_to_the_fallback(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    run_id = await harness.start(flow("retry"), {"order": 7})
    request = await harness.open_request(run_id)
    for reminder in (1, 2, 3):
        await tick(services, clock, hours=1, seconds=1)
        assert (await harness.client.get(request.id)).reminders == reminder
    await tick(services, clock, hours=1, seconds=1)
    view = await harness.finished(run_id)
    assert view.outcome == "fallback" and view.path[0].edge == 0
    assert await history(harness.client, request.id) == [
        "created",
        "reminded",
        "reminded",
        "reminded",
        "timed_out",
    ]


async def test_queue_moves_it_to_low_priority_and_the_run_waits(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    run_id = await harness.start(flow("queue", priority="high"), {"order": 7})
    request = await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    queued = await harness.client.get(request.id)
    assert queued.priority == "low" and queued.due_at is None and queued.is_open
    await tick(services, clock, days=30)
    assert (await harness.paused(run_id)).current[0].node == "ask"
    await harness.client.respond(request.id, "approve")
    assert (await harness.finished(run_id)).outcome == "shipped"


async def test_a_chain_of_levels_then_the_final_action(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    chain = {
        "action": "escalate",
        "levels": [{"to": "role:lead", "timeout": "2h"}, {"to": "team:ops", "timeout": "2h"}],
        "final_action": "auto_approve",
    }
    run_id = await harness.start(flow(chain), {"order": 7})
    request = await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    assert (await harness.client.get(request.id)).candidates == ["role:lead"]
    await tick(services, clock, hours=2, seconds=1)
    assert (await harness.client.get(request.id)).candidates == ["team:ops"]
    await tick(services, clock, hours=2, seconds=1)
    view = await harness.finished(run_id)
    assert view.outcome == "shipped" and view.variables["ask"]["resolution"] == "auto_approved"
    assert await history(harness.client, request.id) == [
        "created",
        "escalated",
        "escalated",
        "auto_approved",
    ]


async def test_no_escalation_times_out_and_a_when_routes_it(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    run_id = await harness.start(flow(None), {"order": 7})
    await harness.open_request(run_id)
    await tick(services, clock, hours=1, seconds=1)
    view = await harness.finished(run_id)
    assert view.outcome == "fallback" and view.variables["response"] is None


async def test_escalate_now_from_the_desk_side(harness: Harness) -> None:
    """A human escalating by hand (POST .../escalate) follows the same policy."""
    run_id = await harness.start(flow({"action": "escalate", "to": "role:director"}), {"order": 7})
    request = await harness.open_request(run_id)
    await harness.client.escalate(request.id, reason="needs a director")
    assert (await harness.client.get(request.id)).candidates == ["role:director"]
    await harness.client.respond(request.id, "reject")
    assert (await harness.finished(run_id)).outcome == "rejected"


async def test_cancelling_the_run_cancels_its_request(harness: Harness) -> None:
    run_id = await harness.start(flow("auto_reject"), {"order": 7})
    request = await harness.open_request(run_id)
    await harness.client.runs.cancel(run_id, reason="order withdrawn")
    assert (await harness.client.get(request.id)).status == "cancelled"
    view = await harness.client.workflows.get(run_id)
    assert view.status == "cancelled" and view.current == []


async def test_a_failing_node_escalates_to_a_human_through_on_error(harness: Harness) -> None:
    definition = {
        "name": "failing",
        "nodes": [
            {"id": "charge", "type": "function", "function": "tests.workflows.functions:declined",
             "on_error": "handle"},
            {"id": "handle", "type": "human", "prompt": "Charging failed: {{error.message}}. Retry by hand?"},
            {"id": "charged", "type": "end"},
        ],
        "edges": [{"from": "charge", "to": "charged"}],
    }  # fmt: skip
    run_id = await harness.start(definition, {"amount": 12})
    request = await harness.open_request(run_id)
    assert request.prompt == (
        "Charging failed: charge: tests.workflows.functions:declined raised "
        "ValueError('card declined for 12'). Retry by hand?"
    )
    await harness.client.respond(request.id, "approve")
    view = await harness.finished(run_id)
    assert [(s.node, s.failed is not None) for s in view.path] == [
        ("charge", True),
        ("handle", False),
    ]


@pytest.mark.parametrize("on_error", [False])
async def test_a_failing_node_without_on_error_fails_the_run(
    harness: Harness, on_error: bool
) -> None:
    definition = {
        "name": "failing",
        "nodes": [
            {"id": "charge", "type": "function", "function": "tests.workflows.functions:declined"}
        ],
    }
    run_id = await harness.start(definition, {"amount": 3})
    run = await harness.client.runs.wait(run_id, timeout=30)
    assert run.status == "failed" and "card declined for 3" in (run.error or "")
