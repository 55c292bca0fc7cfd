"""Multi-level and quorum approvals; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from inloop.server.services import Services
from tests.support import FakeClock


async def people(api: httpx.AsyncClient, **roles: list[str]) -> dict[str, dict[str, str]]:
    """handle -> auth headers; each user gets the roles given."""
    headers = {}
    for handle, their_roles in roles.items():
        await api.post(
            "/v1/users", json={"handle": handle, "name": handle.title(), "roles": their_roles}
        )
        key = (
            await api.post(
                "/v1/keys", json={"name": handle, "scopes": ["responder"], "user": handle}
            )
        ).json()
        headers[handle] = {"Authorization": f"Bearer {key['secret']}"}
    return headers


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post(
        "/v1/requests", json={"prompt": "Pay invoice 8812?", "kind": "approval", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def vote(
    api: httpx.AsyncClient, request: dict[str, Any], who: dict[str, str], answer: str
) -> httpx.Response:
    return await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": answer}, headers=who
    )


STAGES = [
    {"assignee": "role:l1_approver", "timeout": "8h"},
    {"assignee": "role:l2_approver", "timeout": "24h"},
]


async def test_two_levels_each_must_approve(api: httpx.AsyncClient) -> None:
    """L1 approves, the request moves to L2's candidates; L2's approval resolves it."""
    h = await people(api, lee=["l1_approver"], max=["l2_approver"])
    request = await create(api, approvals=STAGES)
    assert request["candidates"] == ["role:l1_approver"]
    assert (await vote(api, request, h["max"], "approve")).status_code == 403  # not L1
    advanced = (await vote(api, request, h["lee"], "approve")).json()
    assert (advanced["status"], advanced["stage"], advanced["candidates"]) == (
        "pending",
        1,
        ["role:l2_approver"],
    )
    assert (await vote(api, request, h["lee"], "approve")).status_code == 403  # L1 is done
    done = (await vote(api, request, h["max"], "approve")).json()
    assert (done["status"], done["response"], done["resolved_by"]) == (
        "resolved",
        "approve",
        "user:max",
    )
    assert [(v["actor"], v["stage"], v["response"]) for v in done["votes"]] == [
        ("user:lee", 0, "approve"),
        ("user:max", 1, "approve"),
    ]
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert [e["type"] for e in events] == ["created", "advanced", "responded"]


async def test_a_rejection_at_any_level_ends_it(api: httpx.AsyncClient) -> None:
    """L1 rejects: resolved with the rejection, L2 never asked."""
    h = await people(api, lee=["l1_approver"])
    request = await create(api, approvals=STAGES)
    done = (await vote(api, request, h["lee"], "reject")).json()
    assert (done["status"], done["response"], done["stage"]) == ("resolved", "reject", 0)


async def test_each_level_has_its_own_timeout(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """L2's 24 h start when L1 approves; then the request's escalation (here none) applies."""
    h = await people(api, lee=["l1_approver"])
    request = await create(api, approvals=STAGES)
    clock.advance(hours=7)
    await vote(api, request, h["lee"], "approve")
    clock.advance(hours=23)
    await services.scheduler.run_due()
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "pending"
    clock.advance(hours=1)
    await services.scheduler.run_due()
    timed_out = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (timed_out["resolution"], timed_out["stage"]) == ("timed_out", 1)


async def test_quorum_needs_distinct_approvers(api: httpx.AsyncClient) -> None:
    """2 of 3: one approval keeps it open, a second vote by the same human is refused, a second human resolves it."""
    h = await people(api, ann=[], bob=[], cat=[])
    request = await create(api, quorum={"quorum": 2, "of": ["user:ann", "user:bob", "user:cat"]})
    first = (await vote(api, request, h["ann"], "approve")).json()
    assert first["status"] == "pending" and len(first["votes"]) == 1
    again = await vote(api, request, h["ann"], "approve")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_voted"
    done = (await vote(api, request, h["bob"], "approve")).json()
    assert (done["status"], done["response"]) == ("resolved", "approve")
    assert [v["actor"] for v in done["votes"]] == ["user:ann", "user:bob"]
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert [(e["type"], e["actor"]) for e in events][1:] == [
        ("voted", "user:ann"),
        ("responded", "user:bob"),
    ]


async def test_quorum_veto(api: httpx.AsyncClient) -> None:
    """With veto, one rejection ends it, whatever the approvals so far."""
    h = await people(api, ann=[], bob=[], cat=[])
    request = await create(
        api, quorum={"quorum": 2, "of": ["user:ann", "user:bob", "user:cat"], "veto": True}
    )
    await vote(api, request, h["ann"], "approve")
    done = (await vote(api, request, h["bob"], "reject")).json()
    assert (done["status"], done["response"]) == ("resolved", "reject")


async def test_quorum_without_veto_fails_when_it_cannot_be_reached(api: httpx.AsyncClient) -> None:
    """2 of 3 without veto: one rejection leaves it open; two make the quorum unreachable."""
    h = await people(api, ann=[], bob=[], cat=[])
    request = await create(api, quorum={"quorum": 2, "of": ["user:ann", "user:bob", "user:cat"]})
    assert (await vote(api, request, h["ann"], "reject")).json()["status"] == "pending"
    done = (await vote(api, request, h["bob"], "reject")).json()
    assert (done["status"], done["response"]) == ("resolved", "reject")


async def test_approvals_and_quorum_are_validated(api: httpx.AsyncClient) -> None:
    """They need kind approval, exclude each other and the top-level assignee."""
    cases = [
        ({"kind": "input", "approvals": STAGES}, "approvals"),
        ({"approvals": STAGES, "quorum": {"quorum": 1, "of": ["user:a"]}}, "approvals"),
        ({"approvals": STAGES, "assignee": "role:x"}, "assignee"),
        ({"quorum": {"quorum": 0, "of": ["user:a"]}}, "quorum.quorum"),
    ]
    for fields, field in cases:
        response = await api.post(
            "/v1/requests", json={"prompt": "x", "kind": "approval", **fields}
        )
        assert response.status_code == 422, fields
        assert response.json()["error"]["field"] == field


async def test_only_members_vote_and_only_approvals_count(api: httpx.AsyncClient) -> None:
    """An admin outside the quorum cannot vote; an answer that is not an approving word is a no."""
    h = await people(api, ann=[], bob=[])
    request = await create(
        api,
        options=["approve", "needs_changes"],
        quorum={"quorum": 2, "of": ["user:ann", "user:bob"]},
    )
    outsider = await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    assert outsider.status_code == 403
    done = (await vote(api, request, h["ann"], "needs_changes")).json()
    assert (done["status"], done["response"]) == ("resolved", "needs_changes")
    assert (await vote(api, request, h["bob"], "approve")).status_code == 409
    assert (
        "can no longer be reached"
        in (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"][-1]["reason"]
    )


async def test_a_quorum_request_cannot_be_claimed_and_must_be_reachable(
    api: httpx.AsyncClient,
) -> None:
    """Nobody holds a quorum request; a quorum larger than its users is refused."""
    h = await people(api, ann=[], bob=[])
    request = await create(api, quorum={"quorum": 2, "of": ["user:ann", "user:bob"]})
    claim = await api.post(f"/v1/requests/{request['id']}/claim", headers=h["ann"])
    assert claim.status_code == 409 and claim.json()["error"]["code"] == "not_claimable"
    too_big = await api.post(
        "/v1/requests",
        json={
            "prompt": "x",
            "kind": "approval",
            "quorum": {"quorum": 3, "of": ["user:ann", "user:bob"]},
        },
    )
    assert too_big.status_code == 422
