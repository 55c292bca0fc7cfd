"""Agent sessions through the SDK and the API, on SQLite and PostgreSQL: the shallow
merge with its history, turns, an unknown session, ownership, and concurrent updates."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import inloop
from tests.integration.session_support import agent_sdk


async def test_state_merges_shallowly_and_records_each_change(api: httpx.AsyncClient) -> None:
    """Keys not named stay; each call records the changed keys (from, to), the reasoning
    and the actor, in order with the turns."""
    bot = await agent_sdk(api)
    first = await bot.sessions.update_state(
        session_id="sess_123",
        state={"pending_action": {"book": "NYC"}, "requires_confirmation": True},
        reasoning="Requesting user confirmation",
    )
    assert first.version == 1 and first.exists
    turn = await bot.sessions.add_turn(
        session_id="sess_123",
        input="Book a flight to NYC",
        output="Confirm? [Yes/No]",
        reasoning="Asked to confirm",
        metadata={"confidence": 91},
    )
    assert turn.metadata == {"confidence": 91} and turn.input == "Book a flight to NYC"
    second = await bot.sessions.update_state(
        session_id="sess_123", state={"requires_confirmation": False}, reasoning="User confirmed"
    )
    assert second.state == {"pending_action": {"book": "NYC"}, "requires_confirmation": False}
    assert second.version == 2
    assert (await bot.sessions.get("sess_123")).state == second.state

    history = await bot.sessions.history("sess_123")
    assert [h.type for h in history] == ["state_changed", "turn", "state_changed"]
    assert history[0].reasoning == "Requesting user confirmation"
    assert history[0].data["changes"]["requires_confirmation"] == {"from": None, "to": True}
    assert history[2].data["changes"] == {"requires_confirmation": {"from": True, "to": False}}
    assert history[2].reasoning == "User confirmed"
    assert {h.actor for h in history} == {"key:bot"} or len({h.actor for h in history}) == 1
    assert history[0].actor.startswith("key:")
    turns = await bot.sessions.turns("sess_123")
    assert [t.output for t in turns] == ["Confirm? [Yes/No]"]
    context = await bot.sessions.get_context(session_id="sess_123", turn_limit=50)
    assert context["state"] == second.state and context["recent_turns"] == turns


async def test_null_values_stay_and_metadata_merges(api: httpx.AsyncClient) -> None:
    """A key set to None is kept with the value None (the seed clears pending_action so)."""
    bot = await agent_sdk(api)
    await bot.sessions.update_state("s1", {"pending_action": "x", "n": 1}, metadata={"tier": "vip"})
    after = await bot.sessions.update_state("s1", {"pending_action": None}, "User declined")
    assert after.state == {"pending_action": None, "n": 1}
    assert after.metadata == {"tier": "vip"}


async def test_an_unknown_session_reads_as_empty(api: httpx.AsyncClient) -> None:
    """The SDK gives a never-written id an empty, unsaved session; the API says 404."""
    bot = await agent_sdk(api)
    session = await bot.sessions.get("sess_new")
    assert session.state == {} and session.exists is False and session.created_at is None
    assert await bot.sessions.turns("sess_new") == []
    assert await bot.sessions.history("sess_new") == []
    response = await api.get("/v1/sessions/sess_new")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    assert response.json()["error"]["field"] == "session_id"


async def test_another_agents_session_is_refused(api: httpx.AsyncClient) -> None:
    bot = await agent_sdk(api)
    other = await agent_sdk(api, "other")
    await bot.sessions.update_state("mine", {"a": 1}, "start")
    with pytest.raises(inloop.PermissionDeniedError) as refused:
        await other.sessions.update_state("mine", {"a": 2}, "steal")
    assert refused.value.code == "session_not_yours"
    with pytest.raises(inloop.PermissionDeniedError):
        await other.sessions.get("mine")
    assert (await bot.sessions.get("mine")).state == {"a": 1}
    assert [s.id for s in await other.sessions.list()] == []
    assert [s.id for s in await bot.sessions.list()] == ["mine"]


async def test_bad_input_gets_a_clear_error(api: httpx.AsyncClient) -> None:
    bot = await agent_sdk(api)
    bad_id = await api.patch("/v1/sessions/bad%20id/state", json={"state": {}})
    assert bad_id.status_code == 422 and bad_id.json()["error"]["code"] == "invalid_session_id"
    not_object = await api.patch("/v1/sessions/s/state", json={"state": [1, 2]})
    assert not_object.status_code == 422
    assert not_object.json()["error"]["field"] == "state"
    huge = await api.patch("/v1/sessions/s/state", json={"state": {"n": 2**70}})
    assert huge.status_code == 422 and huge.json()["error"]["code"] == "invalid_state"
    unknown = await api.patch("/v1/sessions/s/state", json={"state": {}, "colour": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "colour"
    with pytest.raises(inloop.UsageError):
        await bot.sessions.update_state("s", ["not", "a", "mapping"])  # type: ignore[arg-type]


async def test_concurrent_updates_lose_no_key(api: httpx.AsyncClient) -> None:
    """Forty updates of one new session at once, each setting its own key: all are kept,
    the version counts every one, and the history has forty changes."""
    bot = await agent_sdk(api)
    await asyncio.gather(
        *(bot.sessions.update_state("race", {f"k{i}": i}, f"writer {i}") for i in range(40))
    )
    session = await bot.sessions.get("race")
    assert session.state == {f"k{i}": i for i in range(40)}
    assert session.version == 40
    history = await bot.sessions.history("race")
    assert len(history) == 40 and {h.reasoning for h in history} == {
        f"writer {i}" for i in range(40)
    }


async def test_two_replicas_updating_one_session_lose_no_key(database_url: str) -> None:
    """Two servers (two engines, two writer threads) on one database update the same
    session at once: the row lock orders them, so every key of both survives."""
    from inloop.domain import Scope
    from inloop.domain.agent_sessions import StateUpdate
    from inloop.domain.identity import Principal
    from inloop.server.config import Settings
    from inloop.server.services import build_services
    from tests.support import FakeClock

    bot = Principal(actor="key:bot", scopes=frozenset({Scope.AGENT}))
    a = build_services(Settings(database_url=database_url), clock=FakeClock())
    b = build_services(Settings(database_url=database_url), clock=FakeClock())
    try:

        async def write(replica: str, i: int) -> None:
            services = a if replica == "a" else b
            update = StateUpdate(state={f"{replica}{i}": i}, reasoning=replica)
            await services.agent_sessions.update_state(bot, "shared", update)

        for i in range(0, 60, 2):  # many small rounds: each one a chance to interleave
            await asyncio.gather(*(write(r, j) for j in (i, i + 1) for r in ("a", "b")))
        session = await a.agent_sessions.get(bot, "shared")
        assert session.state == {f"{r}{i}": i for i in range(60) for r in ("a", "b")}
        assert session.version == 120
    finally:
        a.close()
        b.close()


async def test_a_responders_key_cannot_touch_sessions(api: httpx.AsyncClient) -> None:
    """Sessions, tickets and confirmations are agents' calls: a human's key gets 403."""
    from tests.integration.conversation_support import human

    alice = await human(api, "alice")
    for method, path, body in [
        ("GET", "/v1/sessions/s", None),
        ("PATCH", "/v1/sessions/s/state", {"state": {"a": 1}}),
        ("POST", "/v1/tickets", {"session_id": "s", "reason": "help"}),
        ("POST", "/v1/confirmations", {"session_id": "s", "action": {"a": 1}}),
    ]:
        response = await alice.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "missing_scope"
    assert (await api.get("/v1/sessions/s")).status_code == 404  # nothing was written
