from __future__ import annotations

from tests.workflows.conftest import Harness


async def test_approval_gate(harness: Harness) -> None:
    run_id = await harness.start(
        harness.load("approval_gate.json"),
        {"action_description": "refund 120 EUR"},
        name="approval_gate",
    )
    request = await harness.answer(run_id, "approve")
    assert request.prompt == "Review and approve this action: refund 120 EUR"
    view = await harness.finished(run_id)
    assert view.outcome == "approved", view
