"""Every sample of seed 001, from examples/workflows/, end to end on the durable runtime:
started through the API, served by a worker in this process, humans answering through the
API, timeouts passing on a FakeClock. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inloop import AsyncClient, InvalidError
from inloop.domain.runs import RunStatus
from inloop.llm import OpenAIChat
from tests.support import FakeClock
from tests.unit.test_llm import FakeOpenAI
from tests.workflows.conftest import Harness


async def events(client: AsyncClient, request_id: str) -> list[str]:
    return [e.type.value for e in await client.events(request_id)]


async def test_basic_configuration_approve(harness: Harness) -> None:
    run_id = await harness.start(
        harness.load("approval_gate.json"),
        {"action_description": "refund 120 EUR"},
        name="approval_gate",
    )
    request = await harness.answer(run_id, "approve")
    assert request.prompt == "Review and approve this action: refund 120 EUR"
    assert request.kind == "approval" and [o.value for o in request.options or []] == [
        "approve",
        "reject",
        "modify",
    ]
    assert request.timeout == "24h" and request.escalation == "auto_reject"
    assert request.metadata["workflow"] == {
        "name": "approval_gate",
        "run_id": run_id,
        "node": "approval_gate",
    }
    view = await harness.finished(run_id)
    assert (view.outcome, view.ended_at, view.status) == (
        "approved",
        "approval_gate",
        RunStatus.COMPLETED,
    )
    assert view.variables["response"] == "approve"
    assert view.variables["approval_gate"]["resolution"] == "responded"


async def test_basic_configuration_auto_rejects_after_24h(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    """ "auto_reject: automatically reject and stop", through the scheduler."""
    run_id = await harness.start(
        harness.load("approval_gate.json"),
        {"action_description": "wire 5,000 EUR"},
        name="approval_gate",
    )
    request = await harness.open_request(run_id)
    clock.advance(hours=23)
    assert await services.scheduler.run_due() == 0
    clock.advance(hours=2)
    assert await services.scheduler.run_due() == 1
    view = await harness.finished(run_id)
    assert view.outcome == "rejected"
    assert view.variables["approval_gate"]["resolution"] == "auto_rejected"
    assert view.variables["response"] == "reject"
    assert (await events(harness.client, request.id))[-1] == "auto_rejected"


async def test_modify_is_not_an_approval(harness: Harness) -> None:
    run_id = await harness.start(
        harness.load("approval_gate.json"), {"action_description": "x"}, name="approval_gate"
    )
    await harness.answer(run_id, "modify", comment="half the amount")
    view = await harness.finished(run_id)
    assert (
        view.outcome == "rejected"
        and view.variables["approval_gate"]["comment"] == "half the amount"
    )


async def test_simple_approval_escalates_to_the_next_level(
    harness: Harness, services: Any, clock: FakeClock
) -> None:
    """escalation "escalate": after 4h the request goes to INLOOP_ESCALATE_TO (role:admin)."""
    run_id = await harness.start(
        harness.load("manager_approval.json"),
        {"amount": 250, "customer_name": "Ada"},
        name="manager_approval",
    )
    request = await harness.open_request(run_id)
    assert request.prompt == "Approve refund of $250 for customer Ada?"
    assert request.candidates == ["role:manager"]
    clock.advance(hours=4, seconds=1)
    await services.scheduler.run_due()
    escalated = await harness.client.get(request.id)
    assert escalated.level == 1 and escalated.candidates == ["role:admin"] and escalated.is_open
    await harness.client.respond(request.id, "approve")
    view = await harness.finished(run_id)
    assert view.outcome == "approved"
    assert "escalated" in await events(harness.client, request.id)


async def test_multi_level_approval_in_order(harness: Harness) -> None:
    definition = harness.load("multi_level_approval.json")
    run_id = await harness.start(definition, {"request": "new laptop"}, name="multi_level_approval")
    first = await harness.answer(run_id, "approve")
    assert (first.prompt, first.candidates, first.timeout) == (
        "L1 Review: new laptop",
        ["role:l1_approver"],
        "8h",
    )
    second = await harness.answer(run_id, "approve")
    assert (second.prompt, second.candidates, second.timeout) == (
        "L2 Final Approval: new laptop",
        ["role:l2_approver"],
        "24h",
    )
    view = await harness.finished(run_id)
    assert view.outcome == "approved" and [s.node for s in view.path] == [
        "l1_approval",
        "l2_approval",
    ]


async def test_multi_level_rejected_at_l1_never_asks_l2(harness: Harness) -> None:
    run_id = await harness.start(
        harness.load("multi_level_approval.json"), {"request": "yacht"}, name="multi_level_approval"
    )
    await harness.answer(run_id, "reject")
    view = await harness.finished(run_id)
    assert view.outcome == "rejected" and view.ended_at == "l1_approval"
    assert len(view.requests) == 1


async def test_multi_level_l1_times_out(harness: Harness, services: Any, clock: FakeClock) -> None:
    """No escalation: the request times out and the run ends timed_out, not approved."""
    run_id = await harness.start(
        harness.load("multi_level_approval.json"), {"request": "desk"}, name="multi_level_approval"
    )
    await harness.open_request(run_id)
    clock.advance(hours=9)
    await services.scheduler.run_due()
    view = await harness.finished(run_id)
    assert view.outcome == "timed_out" and view.variables["response"] is None


async def test_escalation_chain(harness: Harness, services: Any, clock: FakeClock) -> None:
    """1h: escalate to role:senior_manager; 4h more: final_action auto_reject."""
    run_id = await harness.start(
        harness.load("urgent_approval.json"),
        {"action": "the outage credit"},
        name="urgent_approval",
    )
    request = await harness.open_request(run_id)
    assert request.prompt == "Urgent: Approve the outage credit" and request.kind == "approval"
    clock.advance(hours=1, seconds=1)
    await services.scheduler.run_due()
    escalated = await harness.client.get(request.id)
    assert escalated.candidates == ["role:senior_manager"] and escalated.level == 1
    clock.advance(hours=3)
    await services.scheduler.run_due()
    assert (await harness.client.get(request.id)).is_open
    clock.advance(hours=1, seconds=1)
    await services.scheduler.run_due()
    view = await harness.finished(run_id)
    assert (
        view.outcome == "rejected"
        and view.variables["urgent_approval"]["resolution"] == "auto_rejected"
    )
    assert await events(harness.client, request.id) == ["created", "escalated", "auto_rejected"]


async def test_fraud_review_context_and_display(harness: Harness) -> None:
    inputs = {
        "amount": 4999.99, "merchant": "ACME Ltd", "location": "Lisbon, PT",
        "risk_factors": ["new device", "foreign IP"], "customer_history": {"orders": 42},
        "similar_cases": [],
    }  # fmt: skip
    run_id = await harness.start(harness.load("fraud_review.json"), inputs, name="fraud_review")
    request = await harness.open_request(run_id)
    assert request.context == {
        "transaction": {"amount": 4999.99, "merchant": "ACME Ltd", "location": "Lisbon, PT"},
        "risk_factors": ["new device", "foreign IP"],
        "customer_history": {"orders": 42},
        "similar_cases": [],
    }
    assert request.display is not None
    assert (request.display.layout, request.display.highlight) == ("side-by-side", ["risk_factors"])
    await harness.client.respond(request.id, "reject")
    assert (await harness.finished(run_id)).outcome == "rejected"


async def test_quality_review_structured_response(harness: Harness) -> None:
    run_id = await harness.start(harness.load("quality_review.json"), name="quality_review")
    request = await harness.open_request(run_id)
    assert request.kind == "form"
    with pytest.raises(InvalidError, match="quality_score"):
        await harness.client.respond(request.id, {"approved": True, "quality_score": 9})
    assert (await harness.paused(run_id)).current[0].node == "quality_review"  # still waiting
    await harness.client.respond(
        request.id, {"approved": True, "quality_score": 4, "feedback": "clear"}
    )
    view = await harness.finished(run_id)
    assert view.outcome == "answered" and view.variables["response"]["quality_score"] == 4


async def test_response_based_routing(harness: Harness) -> None:
    """approved → execute; not approved with corrections → revise (an llm node) and back to
    the human; not approved without corrections (the field is missing: it reads null) →
    reject."""
    definition = harness.load("response_routing.json")
    run_id = await harness.start(
        definition, {"draft": "Dear customer, no."}, name="response_routing"
    )
    first = await harness.answer(
        run_id, {"approved": False, "quality_score": 2, "corrections": "Be kind"}
    )
    assert first.candidates == ["role:customer_support"]
    second = await harness.open_request(run_id)
    assert second.id != first.id and second.prompt.startswith("Rate this response:")
    await harness.client.respond(second.id, {"approved": False, "quality_score": 1})
    view = await harness.finished(run_id)
    assert view.outcome == "rejected" and view.ended_at == "reject"
    assert [s.node for s in view.path] == ["human_review", "revise", "human_review", "reject"]
    assert [s.edge for s in view.path] == [1, 4, 2, None]

    approved = await harness.start(
        definition, {"draft": "Dear customer, yes."}, name="response_routing"
    )
    await harness.answer(approved, {"approved": True, "quality_score": 5})
    done = await harness.finished(approved)
    assert done.outcome == "executed" and done.output == {"sent": "Dear customer, yes.", "score": 5}


def fake_model(*replies: str) -> tuple[FakeOpenAI, OpenAIChat]:
    fake = FakeOpenAI(*replies)
    return fake, fake.model()


async def test_confidence_based_high_confidence_is_sent(harness: Harness) -> None:
    fake, model = fake_model('{"response": "Refund issued.", "confidence": 0.93}')
    definition = harness.load("confidence_based.json")
    run_id = await harness.start(definition, {"question": "Where is my refund?"}, model=model)
    view = await harness.finished(run_id)
    assert view.outcome == "sent" and view.output == {
        "response": "Refund issued.",
        "confidence": 0.93,
    }
    assert view.requests == []
    assert '"question": "Where is my refund?"' in fake.calls[0]["messages"][-1]["content"]


async def test_confidence_based_low_confidence_goes_to_a_human(harness: Harness) -> None:
    _, model = fake_model('{"response": "Maybe?", "confidence": 0.42}', '{"response": "Hm"}')
    definition = harness.load("confidence_based.json")
    run_id = await harness.start(definition, {}, model=model)
    request = await harness.answer(run_id, "approve")
    assert request.prompt == "Agent response (confidence: 0.42):\n\nMaybe?\n\nApprove or edit?"
    assert (await harness.finished(run_id)).outcome == "approved"
    # The model left confidence out: both whens read null, the default edge takes it to a human.
    missing = await harness.start(definition, {})
    request = await harness.answer(missing, "edit", comment="too vague")
    assert request.prompt.startswith("Agent response (confidence: null)")
    view = await harness.finished(missing)
    assert view.outcome == "rejected" and view.path[0].edge == 2


async def test_exception_based_escalation(harness: Harness) -> None:
    definition = harness.load("exception_based.json")
    # The issue's own command line: --input amount=15000 --input customer.is_vip=true
    big = await harness.start(definition, {"amount": 15000, "customer": {"is_vip": True}})
    request = await harness.answer(big, "approve")
    assert request.prompt == 'Review this request: 15000 for {"is_vip": true} (risk score 0.9)'
    assert (await harness.finished(big)).path[0].edge == 0  # amount > 10000, the first that holds
    vip = await harness.start(
        definition, {"amount": 50, "customer": {"is_vip": True, "months": 40}}
    )
    await harness.answer(vip, "approve")
    assert (await harness.finished(vip)).path[0].edge == 1
    risky = await harness.start(definition, {"amount": 9000, "customer": {"months": 1}})
    await harness.answer(risky, "approve")
    assert (await harness.finished(risky)).path[0].edge == 2
    routine = await harness.start(definition, {"amount": 90, "customer": {"months": 40}})
    view = await harness.finished(routine)
    assert (
        view.outcome == "executed" and view.requests == [] and view.variables["risk_score"] == 0.0
    )
    assert [s.node for s in view.path] == ["process_request", "execute"]


async def test_round_robin_assignment(harness: Harness, client: AsyncClient) -> None:
    for handle in ("alice", "bob", "charlie"):
        await client.create_user(handle, handle.title())
    definition = harness.load("round_robin.json")
    assigned = []
    for n in range(4):
        run_id = await harness.start(definition, {"ticket": f"T-{n}"})
        assigned.append((await harness.open_request(run_id)).assigned_to)
    assert assigned == ["alice", "bob", "charlie", "alice"]


async def test_least_busy_assignment(
    harness: Harness, client: AsyncClient, api: httpx.AsyncClient
) -> None:
    await client.create_team("support")
    for handle in ("alice", "bob"):
        await client.create_user(handle, handle.title())
        await client.add_member("support", handle)
    busy = await client.create("Already on alice's desk", assignee="user:alice")
    assert busy.assigned_to == "alice"
    definition = harness.load("least_busy.json")
    run_id = await harness.start(definition, {"customer": "Ada", "question": "Where is my parcel?"})
    request = await harness.open_request(run_id)
    assert request.assigned_to == "bob" and request.kind == "input"
    await harness.client.respond(request.id, "It ships today.")
    view = await harness.finished(run_id)
    assert view.outcome == "answered" and view.variables["response"] == "It ships today."
