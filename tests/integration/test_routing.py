"""Routing, assignment, presence and capacity; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from inloop.server.services import Services
from tests.support import FakeClock


async def users(
    api: httpx.AsyncClient, *handles: str, roles: list[str] | None = None, team: str | None = None
) -> dict[str, dict[str, str]]:
    """Create users, each with a responder key acting for them; returns auth headers by handle."""
    if team:
        await api.post("/v1/teams", json={"name": team})
    headers = {}
    for handle in handles:
        assert (
            await api.post(
                "/v1/users", json={"handle": handle, "name": handle.title(), "roles": roles or []}
            )
        ).status_code == 201
        if team:
            await api.put(f"/v1/teams/{team}/members/{handle}")
        key = (
            await api.post(
                "/v1/keys", json={"name": handle, "scopes": ["responder", "agent"], "user": handle}
            )
        ).json()
        headers[handle] = {"Authorization": f"Bearer {key['secret']}"}
    return headers


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "Ship?", "options": ["approve", "reject"], **fields}
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_round_robin_over_1000_requests_and_3_humans_is_even(api: httpx.AsyncClient) -> None:
    """1,000 requests over 3 humans: 334/333/333, with the cursor kept in the database."""
    await users(api, "alice", "bob", "carol")
    pool = {"strategy": "round_robin", "pool": ["user:alice", "user:bob", "user:carol"]}
    counts = Counter()
    for _ in range(1000):
        counts[(await create(api, assignee=pool))["assigned_to"]] += 1
    assert sorted(counts.values()) == [333, 333, 334]
    assert set(counts) == {"alice", "bob", "carol"}


async def test_least_busy_picks_the_human_with_least_open_work(api: httpx.AsyncClient) -> None:
    """Work goes to whoever holds the fewest open requests; answering frees capacity."""
    await users(api, "alice", "bob", team="support")
    pool = {"strategy": "least_busy", "pool": "team:support"}
    first = await create(api, assignee=pool)
    second = await create(api, assignee=pool)
    assert {first["assigned_to"], second["assigned_to"]} == {"alice", "bob"}
    await api.post(f"/v1/requests/{first['id']}/respond", json={"response": "approve"})
    third = await create(api, assignee=pool)
    assert third["assigned_to"] == first["assigned_to"]


async def test_offline_and_full_humans_are_skipped(api: httpx.AsyncClient) -> None:
    """An offline human and one at capacity get nothing; the third gets it all."""
    await users(api, "alice", "bob", "carol")
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    await api.patch("/v1/users/bob", json={"capacity": 1})
    pool = {"strategy": "least_busy", "pool": ["user:alice", "user:bob", "user:carol"]}
    got = [(await create(api, assignee=pool))["assigned_to"] for _ in range(5)]
    assert got.count("alice") == 0 and got.count("bob") == 1 and got.count("carol") == 4
    bob = (await api.get("/v1/users/bob")).json()
    assert bob["capacity"] == 1 and bob["open_assigned"] == 1


async def test_nobody_available_queues_with_the_reason(api: httpx.AsyncClient) -> None:
    """All offline: the request waits for the pool, and the audit trail says why."""
    await users(api, "alice")
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    request = await create(api, assignee={"strategy": "round_robin", "pool": ["user:alice"]})
    assert request["status"] == "pending" and request["assigned_to"] is None
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert events[-1]["type"] == "routing_failed"
    assert "1 offline" in events[-1]["reason"] and "queue" in events[-1]["reason"]


async def test_nobody_available_transfers_to_a_named_team(api: httpx.AsyncClient) -> None:
    """fallback transfer: candidates become the live-agent team (seed 003)."""
    await users(api, "alice")
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    pool = {"strategy": "least_busy", "pool": ["user:alice"], "fallback": {"transfer": "team:live"}}
    request = await create(api, assignee=pool)
    assert request["candidates"] == ["team:live"]
    assert (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"][-1][
        "type"
    ] == "transferred"


async def test_only_candidates_see_claim_and_answer(api: httpx.AsyncClient) -> None:
    """A human outside the role gets 403 on read, claim and answer; a candidate claims it."""
    alice = (await users(api, "alice", roles=["manager"]))["alice"]
    mallory = (await users(api, "mallory"))["mallory"]
    request = await create(api, assignee="role:manager")
    path = f"/v1/requests/{request['id']}"
    for call in (
        api.get(path, headers=mallory),
        api.post(f"{path}/claim", headers=mallory),
        api.post(f"{path}/respond", json={"response": "approve"}, headers=mallory),
    ):
        response = await call
        assert response.status_code == 403, response.text
    assert [r["id"] for r in (await api.get("/v1/requests", headers=mallory)).json()["items"]] == []
    claimed = await api.post(f"{path}/claim", headers=alice)
    assert claimed.status_code == 200 and claimed.json()["assigned_to"] == "alice"
    assert claimed.json()["status"] == "assigned"
    assert (await api.get("/v1/requests", headers=alice)).json()["items"][0]["id"] == request["id"]
    assert (
        await api.post(f"{path}/respond", json={"response": "approve"}, headers=alice)
    ).status_code == 200


async def test_claim_release_reassign(api: httpx.AsyncClient) -> None:
    """A claimed request refuses another claimant; release and reassign move it on."""
    h = await users(api, "alice", "bob", team="ops")
    request = await create(api, assignee="team:ops")
    path = f"/v1/requests/{request['id']}"
    assert (await api.post(f"{path}/claim", headers=h["alice"])).status_code == 200
    assert (await api.post(f"{path}/claim", headers=h["alice"])).status_code == 200  # twice is fine
    taken = await api.post(f"{path}/claim", headers=h["bob"])
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "assigned_to_another"
    answer = await api.post(f"{path}/respond", json={"response": "approve"}, headers=h["bob"])
    assert answer.status_code == 409
    assert (await api.post(f"{path}/release", headers=h["bob"])).status_code == 403
    released = (
        await api.post(f"{path}/release", json={"reason": "lunch"}, headers=h["alice"])
    ).json()
    assert released["status"] == "pending" and released["assigned_to"] is None
    moved = (await api.post(f"{path}/reassign", json={"to": "user:bob"})).json()
    assert moved["assigned_to"] == "bob" and "user:bob" in moved["candidates"]
    bad = await api.post(f"{path}/reassign", json={"to": "bob"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "to"
    types = [e["type"] for e in (await api.get(f"{path}/events")).json()["items"]]
    assert types == ["created", "claimed", "released", "reassigned"]


async def test_work_of_a_human_who_went_offline_is_reassigned(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """After the grace period, an offline human's requests go to someone online."""
    await users(api, "alice", "bob")
    pool = {"strategy": "round_robin", "pool": ["user:alice", "user:bob"]}
    held = await create(api, assignee=pool)
    holder = held["assigned_to"]
    other = {"alice": "bob", "bob": "alice"}[holder]
    await api.put(f"/v1/users/{holder}/presence", json={"presence": "offline"})
    clock.advance(minutes=4)
    await services.scheduler.run_due()
    assert (await api.get(f"/v1/requests/{held['id']}")).json()["assigned_to"] == holder
    clock.advance(minutes=2)
    assert await services.scheduler.run_due() == 1
    moved = (await api.get(f"/v1/requests/{held['id']}")).json()
    assert moved["assigned_to"] == other
    events = (await api.get(f"/v1/requests/{held['id']}/events")).json()["items"]
    assert [e["type"] for e in events][-2:] == ["released", "assigned"]
    assert events[-2]["actor"] == "system" and "went offline" in events[-2]["reason"]


async def test_a_human_back_within_the_grace_period_keeps_the_work(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Offline then online again before the grace period ends: nothing moves."""
    await users(api, "alice")
    held = await create(api, assignee="user:alice")
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    await api.put("/v1/users/alice/presence", json={"presence": "online"})
    clock.advance(minutes=10)
    await services.scheduler.run_due()
    assert (await api.get(f"/v1/requests/{held['id']}")).json()["assigned_to"] == "alice"


async def test_idle_humans_read_as_away(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """An online human with no activity for 15 minutes shows as away; their use brings them back."""
    h = await users(api, "alice")
    await api.get("/v1/me", headers=h["alice"])
    clock.advance(minutes=16)
    assert (await api.get("/v1/users/alice")).json()["presence"] == "away"
    presence = await api.put("/v1/me/presence", json={"presence": "online"}, headers=h["alice"])
    assert presence.status_code == 200 and presence.json()["presence"] == "online"
    assert (await api.put("/v1/users/alice/presence", json={"presence": "busy"})).status_code == 422


async def test_going_offline_twice_restarts_the_grace_period(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Offline, online, offline again: the work stays a full grace period after the last."""
    await users(api, "alice")
    held = await create(api, assignee="user:alice")
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    clock.advance(minutes=1)
    await api.put("/v1/users/alice/presence", json={"presence": "online"})
    clock.advance(minutes=3)
    await api.put("/v1/users/alice/presence", json={"presence": "offline"})
    clock.advance(minutes=2)
    await services.scheduler.run_due()
    assert (await api.get(f"/v1/requests/{held['id']}")).json()["assigned_to"] == "alice"
    clock.advance(minutes=4)
    await services.scheduler.run_due()
    assert (await api.get(f"/v1/requests/{held['id']}")).json()["assigned_to"] is None


async def test_the_event_stream_of_an_unseen_request_is_refused(api: httpx.AsyncClient) -> None:
    """GET /v1/events?request_id= of a request the caller may not see is a 403, not silence."""
    outsider = (await users(api, "mallory"))["mallory"]
    request = await create(api, assignee="role:finance")
    response = await api.get("/v1/events", params={"request_id": request["id"]}, headers=outsider)
    assert response.status_code == 403
    assert (await api.get("/v1/events", params={"request_id": "req_nope"})).status_code == 404


def test_bad_routing_settings_are_refused_at_start() -> None:
    """A fallback or escalation target that is not a ref stops the server with the reason."""
    from inloop.server.config import Settings

    for bad in (
        {"routing_fallback": "transfer:live"},
        {"routing_fallback": "escalat"},
        {"escalate_to": "admins"},
        {"away_after": "soon"},
    ):
        with pytest.raises(ValueError, match="INLOOP_"):
            Settings(database_url="sqlite://", **bad)  # type: ignore[arg-type]
