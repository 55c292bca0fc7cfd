"""Timeouts and escalation, fired by the scheduler on a fake clock; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inloop.server.services import Services
from tests.support import FakeClock


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "Refund $120?", "options": ["approve", "reject"], **fields}
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def after(
    api: httpx.AsyncClient,
    services: Services,
    clock: FakeClock,
    request: dict[str, Any],
    **delta: float,
) -> dict[str, Any]:
    """Move the clock, fire what is due, return the request as it then stands."""
    clock.advance(**delta)
    await services.scheduler.run_due()
    return (await api.get(f"/v1/requests/{request['id']}")).json()


async def trail(api: httpx.AsyncClient, request: dict[str, Any]) -> list[dict[str, Any]]:
    return (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]


async def test_no_escalation_times_out(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """A timeout alone: nothing before it, timed_out after, by policy, with the reason."""
    request = await create(api, timeout="1h")
    assert (await after(api, services, clock, request, minutes=59))["status"] == "pending"
    closed = await after(api, services, clock, request, minutes=2)
    assert (closed["status"], closed["resolution"], closed["resolved_by"]) == (
        "resolved",
        "timed_out",
        "policy",
    )
    last = (await trail(api, request))[-1]
    assert (last["type"], last["actor"], last["reason"]) == (
        "timed_out",
        "system",
        "no answer within 1h",
    )


@pytest.mark.parametrize(
    ("kind", "action", "resolution", "response"),
    [
        ("approval", "auto_approve", "auto_approved", "approve"),
        ("approval", "auto_reject", "auto_rejected", "reject"),
        ("confirmation", "auto_approve", "auto_approved", True),
        ("confirmation", "auto_reject", "auto_rejected", False),
    ],
)
async def test_auto_approve_and_auto_reject(
    api: httpx.AsyncClient,
    services: Services,
    clock: FakeClock,
    kind: str,
    action: str,
    resolution: str,
    response: Any,
) -> None:
    """The policy answers for the human, and says so: resolved_by policy."""
    body: dict[str, Any] = {"kind": kind, "timeout": "4h", "escalation": action}
    if kind == "confirmation":
        body["options"] = None
    request = await create(
        api,
        **{k: v for k, v in body.items() if v is not None}
        | ({"options": None} if kind == "confirmation" else {}),
    )
    closed = await after(api, services, clock, request, hours=4)
    assert (closed["resolution"], closed["response"], closed["resolved_by"]) == (
        resolution,
        response,
        "policy",
    )


async def test_answer_before_the_timeout_cancels_the_policy(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """A human answer first: the timer later fires into nothing."""
    request = await create(api, timeout="1h", escalation="auto_reject")
    await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    closed = await after(api, services, clock, request, hours=2)
    assert (closed["resolution"], closed["response"]) == ("responded", "approve")
    assert [e["type"] for e in await trail(api, request)] == ["created", "responded"]


async def test_plain_escalate_hands_over_to_admins_and_raises_priority(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """ "escalate": candidates become role:admin, priority one step up, no further timer."""
    request = await create(
        api, timeout="4h", escalation="escalate", assignee="role:manager", priority="medium"
    )
    escalated = await after(api, services, clock, request, hours=4)
    assert escalated["status"] == "pending" and escalated["candidates"] == ["role:admin"]
    assert (escalated["priority"], escalated["level"]) == ("high", 1)
    assert (await after(api, services, clock, request, days=30))["status"] == "pending"


async def test_seed_escalation_chain_escalates_then_auto_rejects(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Seed 001's chain: 1h, then role:senior_manager for 4h, then auto_reject."""
    chain = {
        "action": "escalate",
        "to": "role:senior_manager",
        "timeout": "4h",
        "final_action": "auto_reject",
    }
    request = await create(api, timeout="1h", escalation=chain, assignee="role:manager")
    level1 = await after(api, services, clock, request, hours=1)
    assert (level1["level"], level1["candidates"]) == (1, ["role:senior_manager"])
    assert (await after(api, services, clock, request, hours=3, minutes=59))["status"] == "pending"
    final = await after(api, services, clock, request, minutes=1)
    assert (final["resolution"], final["resolved_by"]) == ("auto_rejected", "policy")
    types = [e["type"] for e in await trail(api, request)]
    assert types == ["created", "escalated", "auto_rejected"]


async def test_three_level_chain_ends_in_its_final_action(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """levels: L1 (the assignee), then 3 more levels, then final_action auto_approve."""
    levels = [
        {"to": "role:lead", "timeout": "2h"},
        {"to": "role:manager", "timeout": "4h"},
        {"to": "role:director", "timeout": "8h"},
    ]
    request = await create(
        api,
        timeout="1h",
        assignee="team:ops",
        escalation={"action": "escalate", "levels": levels, "final_action": "auto_approve"},
    )
    seen = []
    for hours in (1, 2, 4):
        now = await after(api, services, clock, request, hours=hours)
        seen.append((now["level"], now["candidates"]))
    assert seen == [(1, ["role:lead"]), (2, ["role:manager"]), (3, ["role:director"])]
    final = await after(api, services, clock, request, hours=8)
    assert (final["resolution"], final["response"]) == ("auto_approved", "approve")
    reasons = [e["reason"] for e in await trail(api, request) if e["type"] == "escalated"]
    assert reasons == [
        "no answer within 1h: escalated to role:lead",
        "no answer within 2h: escalated to role:manager",
        "no answer within 4h: escalated to role:director",
    ]


async def test_retry_reminds_up_to_its_limit_then_final_action(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """retry with max_retries 2: two reminders an hour apart, then the final action."""
    request = await create(
        api,
        timeout="1h",
        escalation={"action": "retry", "max_retries": 2, "final_action": "auto_reject"},
    )
    first = await after(api, services, clock, request, hours=1)
    second = await after(api, services, clock, request, hours=1)
    assert (first["status"], first["reminders"], second["reminders"]) == ("pending", 1, 2)
    final = await after(api, services, clock, request, hours=1)
    assert final["resolution"] == "auto_rejected"
    assert [e["type"] for e in await trail(api, request)] == [
        "created",
        "reminded",
        "reminded",
        "auto_rejected",
    ]


async def test_plain_retry_defaults_to_three_reminders_then_times_out(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """ "retry": three reminders, then timed_out."""
    request = await create(api, timeout="30m", escalation="retry")
    for _ in range(3):
        assert (await after(api, services, clock, request, minutes=30))["status"] == "pending"
    assert (await after(api, services, clock, request, minutes=30))["resolution"] == "timed_out"


async def test_queue_moves_to_low_priority_without_a_timer(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """queue: priority low, released, and nothing fires afterwards."""
    request = await create(api, timeout="2h", escalation="queue", priority="urgent")
    queued = await after(api, services, clock, request, hours=2)
    assert (queued["status"], queued["priority"], queued["due_at"]) == ("pending", "low", None)
    assert (await after(api, services, clock, request, days=60))["status"] == "pending"
    assert [e["type"] for e in await trail(api, request)] == ["created", "queued"]


async def test_remind_every_reminds_while_open(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """remind_every 30m: a reminder each half hour until the answer."""
    request = await create(
        api, timeout="4h", escalation={"action": "auto_reject", "remind_every": "30m"}
    )
    for _ in range(3):
        await after(api, services, clock, request, minutes=30)
    await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    await after(api, services, clock, request, hours=1)
    assert [e["type"] for e in await trail(api, request)] == [
        "created",
        "reminded",
        "reminded",
        "reminded",
        "responded",
    ]


async def test_assignment_timeout_transfers_unclaimed_work(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Nobody claimed it within 60 s: transferred to the live agents (agentAssignedTimeoutSeconds)."""
    request = await create(
        api,
        assignee="team:hila",
        assignment={"timeout": "60s", "action": "transfer", "to": "team:live"},
    )
    assert (await after(api, services, clock, request, seconds=59))["candidates"] == ["team:hila"]
    moved = await after(api, services, clock, request, seconds=1)
    assert moved["candidates"] == ["team:live"]
    last = (await trail(api, request))[-1]
    assert (last["type"], last["reason"]) == (
        "transferred",
        "nobody was assigned within 60s: transferred to team:live",
    )


async def test_assignment_timeout_does_nothing_once_claimed(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """A request assigned in time keeps its assignee when the assignment timer fires."""
    await api.post("/v1/users", json={"handle": "ann", "name": "Ann"})
    request = await create(
        api, assignee="user:ann", assignment={"timeout": "60s", "action": "auto_reject"}
    )
    assert (await after(api, services, clock, request, minutes=5))["assigned_to"] == "ann"


async def test_escalate_now(api: httpx.AsyncClient, services: Services, clock: FakeClock) -> None:
    """An admin runs the escalation at once, with their name and reason in the trail."""
    request = await create(api, timeout="8h", escalation={"action": "escalate", "to": "team:l2"})
    escalated = (
        await api.post(f"/v1/requests/{request['id']}/escalate", json={"reason": "VIP"})
    ).json()
    assert (escalated["level"], escalated["candidates"]) == (1, ["team:l2"])
    last = (await trail(api, request))[-1]
    assert last["actor"] == "admin-token" and last["reason"].startswith(
        "escalated now by admin-token: VIP"
    )


async def test_overdue_timers_fire_after_a_restart(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Timers are rows: a scheduler that was down fires what came due meanwhile."""
    requests = [await create(api, timeout="1h") for _ in range(3)]
    clock.advance(days=2)
    assert await services.scheduler.run_due() == 3
    for request in requests:
        assert (await api.get(f"/v1/requests/{request['id']}")).json()["resolution"] == "timed_out"


async def test_the_scheduler_loop_fires_overdue_timers_when_it_starts(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """The loop inside `inloop serve`: started after the deadline, it fires at once."""
    import asyncio

    request = await create(api, timeout="1h", escalation="auto_reject")
    clock.advance(hours=3)
    with services.hub.stream(lambda event, _: event.type == "auto_rejected") as stream:
        await services.scheduler.start()
        try:
            event, closed = await asyncio.wait_for(stream.queue.get(), 10)
        finally:
            await services.scheduler.stop()
    assert (event.request_id, closed.resolution) == (request["id"], "auto_rejected")


async def test_a_queued_request_gets_no_more_reminders(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """queue means no further timer: the remind_every reminders stop too."""
    request = await create(api, timeout="1h", escalation={"action": "queue", "remind_every": "25m"})
    for _ in range(12):
        await after(api, services, clock, request, minutes=25)
    types = [e["type"] for e in await trail(api, request)]
    assert types == ["created", "reminded", "reminded", "queued"]


async def test_escalating_a_request_without_a_policy_hands_it_to_the_escalation_target(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Escalate now, or an assignment timeout's escalate, with no policy: role:admin takes
    over; the request is not closed as if it had timed out."""
    now = await create(api, assignee="team:ops")
    escalated = (await api.post(f"/v1/requests/{now['id']}/escalate")).json()
    assert (escalated["status"], escalated["candidates"], escalated["level"]) == (
        "pending",
        ["role:admin"],
        1,
    )
    unclaimed = await create(
        api, assignee="team:ops", assignment={"timeout": "60s", "action": "escalate"}
    )
    moved = await after(api, services, clock, unclaimed, seconds=61)
    assert (moved["status"], moved["candidates"]) == ("pending", ["role:admin"])


async def test_a_timer_that_fails_is_dropped_alone(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One timer whose action raises does not block the batch: the others fire, it is dropped."""
    bad = await create(api, timeout="1h")
    good = [await create(api, timeout="1h") for _ in range(3)]
    next_step = services.scheduler.lifecycle.next_step

    def failing(request: Any) -> Any:
        if request.id == bad["id"]:
            raise RuntimeError("a bug in one timer's action")
        return next_step(request)

    monkeypatch.setattr(services.scheduler.lifecycle, "next_step", failing)
    clock.advance(hours=2)
    assert await services.scheduler.run_due() == 4
    for request in good:
        assert (await api.get(f"/v1/requests/{request['id']}")).json()["resolution"] == "timed_out"
    assert (await api.get(f"/v1/requests/{bad['id']}")).json()["status"] == "pending"
    assert await services.scheduler.run_due() == 0  # dropped, not retried forever
