"""Conversations and live handoff through the API, on SQLite and PostgreSQL: messages both
ways, start_hitl / stop_hitl, the server muting the AI, the close command, the assignment
timeout on the fake clock, the continue event, idempotent relays."""

from __future__ import annotations

import httpx

from inloop.server.services import Services
from tests.integration.conversation_support import (
    agent,
    conversation,
    events,
    fire,
    human,
    say,
    start,
    texts,
    transcript,
)
from tests.support import FakeClock


async def test_messages_both_ways_and_the_event_log(api: httpx.AsyncClient) -> None:
    """The AI's messages and the customer's relayed ones land in order; the customer's
    reach the agent's event log; another agent sees none of it."""
    bot = await agent(api)
    conv = await conversation(bot, id="webchat-42")
    assert conv["id"] == "webchat-42" and conv["chat_url"].startswith("/chat/webchat-42?token=")
    assert (await say(bot, conv["id"], "Hello, how can I help?")).status_code == 201
    assert (await say(bot, conv["id"], "My parcel is lost", role="user")).status_code == 201
    assert texts(await transcript(bot, conv["id"])) == [
        ("agent", "Hello, how can I help?"),
        ("user", "My parcel is lost"),
    ]
    log = await events(bot, conv["id"])
    assert [e["type"] for e in log] == ["message"]
    assert log[0]["data"]["content"]["text"] == "My parcel is lost"
    other = await agent(api, "other")
    refused = await other.get(f"/v1/conversations/{conv['id']}")
    assert refused.status_code == 403
    assert await events(other) == []
    again = await bot.post("/v1/conversations", json={"id": "webchat-42", "user_id": "cust-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["chat_url"] is None
    taken = await other.post("/v1/conversations", json={"id": "webchat-42", "user_id": "x"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conversation_exists"


async def test_relay_is_idempotent_on_the_providers_message_id(api: httpx.AsyncClient) -> None:
    """The same external_id twice stores one message and logs one event."""
    bot = await agent(api)
    conv = await conversation(bot)
    first = await say(bot, conv["id"], "Hi", role="user", external_id="wa-msg-1")
    second = await say(bot, conv["id"], "Hi", role="user", external_id="wa-msg-1")
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert len(await transcript(bot, conv["id"])) == 1
    assert len(await events(bot, conv["id"])) == 1


async def test_full_handoff_muted_ai_and_the_close_command(api: httpx.AsyncClient) -> None:
    """start_hitl sends the handoff message and mutes the AI (409 ai_muted); a second
    start is refused; the human joins, the customer is told, both talk; /END (any case)
    ends it with user_closed, the human is told, and the AI gets continue."""
    bot = await agent(api)
    alice = await human(api, "alice")
    conv = await conversation(bot)
    await say(bot, conv["id"], "I want a refund", role="user")
    session = await start(bot, conv["id"])
    assert session["status"] == "pending" and session["provider"] == "desk"
    assert session["config"]["user_hitl_close_command"] == "/end"
    muted = await say(bot, conv["id"], "Let me help instead")
    assert muted.status_code == 409
    assert muted.json()["error"]["code"] == "ai_muted"
    second = await bot.post(
        f"/v1/conversations/{conv['id']}/handoff", json={"title": "again", "user_id": "cust-1"}
    )
    assert second.status_code == 409 and second.json()["error"]["code"] == "handoff_active"
    joined = await alice.post(f"/v1/handoffs/{session['id']}/join")
    assert joined.status_code == 200, joined.text
    assert joined.json()["status"] == "active" and joined.json()["human"] == "alice"
    reply = await alice.post(f"/v1/handoffs/{session['id']}/messages", json={"text": "Alice here"})
    assert reply.status_code == 201, reply.text
    await say(bot, conv["id"], "Thanks Alice", role="user")
    await say(bot, conv["id"], "  /END ", role="user")
    ended = (await bot.get(f"/v1/conversations/{conv['id']}/handoff")).json()
    assert ended["status"] == "ended" and ended["end_reason"] == "user_closed"
    assert texts(await transcript(bot, conv["id"])) == [
        ("user", "I want a refund"),
        (
            "system",
            "I have escalated this conversation to a human agent. They should be with you shortly.",
        ),
        ("system", "Alice has joined the conversation."),
        ("human", "Alice here"),
        ("user", "Thanks Alice"),
        ("user", "  /END "),
        ("system", "( The user has ended the session. )"),
        ("system", "You have ended the conversation with the human agent."),
    ]
    humans_only = [m for m in await transcript(bot, conv["id"]) if m["audience"] == "humans"]
    assert [m["content"]["text"] for m in humans_only] == ["( The user has ended the session. )"]
    kinds = [e["type"] for e in await events(bot, conv["id"])]
    assert kinds == ["message", "handoff_started", "human_assigned", "handoff_ended", "continue"]
    assert (await say(bot, conv["id"], "I am back")).status_code == 201
    ticket = (await bot.get(f"/v1/requests/{session['request_id']}")).json()
    assert ticket["status"] == "cancelled"


async def test_null_silences_a_message_and_overrides_win(api: httpx.AsyncClient) -> None:
    """A project setting and a per-handoff override; null sends nothing."""
    bot = await agent(api)
    set_ = await api.put(
        "/v1/handoff/settings",
        json={
            "set": {"on_hitl_handoff_message": "Project says hi", "user_hitl_close_command": "/bye"}
        },
    )
    assert set_.status_code == 200, set_.text
    conv = await conversation(bot)
    await start(bot, conv["id"], on_hitl_handoff_message=None)
    assert await transcript(bot, conv["id"]) == []
    conv2 = await conversation(bot)
    session = await start(bot, conv2["id"], agent_assigned_timeout_seconds=100)
    assert texts(await transcript(bot, conv2["id"])) == [("system", "Project says hi")]
    assert session["config"]["user_hitl_close_command"] == "/bye"
    assert session["config"]["agent_assigned_timeout_seconds"] == 100
    bad = await bot.post(
        f"/v1/conversations/{conv['id']}/handoff",
        json={"title": "x", "user_id": "u", "configuration_overrides": {"bogus": 1}},
    )
    assert (
        bad.status_code == 422 and bad.json()["error"]["field"] == "configuration_overrides.bogus"
    )


async def test_assignment_timeout_on_the_fake_clock(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Nobody joins within agent_assigned_timeout_seconds: the durable timer ends the
    session (assignment_timeout), the customer is told, the AI continues."""
    bot = await agent(api)
    conv = await conversation(bot)
    session = await start(bot, conv["id"], agent_assigned_timeout_seconds=30)
    clock.advance(seconds=29)
    await fire(services)
    assert (await bot.get(f"/v1/handoffs/{session['id']}")).json()["status"] == "pending"
    clock.advance(seconds=2)
    await fire(services)
    ended = (await bot.get(f"/v1/handoffs/{session['id']}")).json()
    assert ended["end_reason"] == "assignment_timeout"
    assert texts(await transcript(bot, conv["id"]))[-1] == (
        "system",
        "No human agent is available right now. I will continue assisting you.",
    )
    assert [e["type"] for e in await events(bot, conv["id"])][-2:] == ["handoff_ended", "continue"]


async def test_joined_in_time_the_timer_does_nothing(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    bot = await agent(api)
    alice = await human(api, "alice")
    conv = await conversation(bot)
    session = await start(bot, conv["id"], agent_assigned_timeout_seconds=30)
    assert (await alice.post(f"/v1/handoffs/{session['id']}/join")).status_code == 200
    clock.advance(seconds=60)
    await fire(services)
    assert (await bot.get(f"/v1/handoffs/{session['id']}")).json()["status"] == "active"


async def test_agent_closes_and_flow_on_hitl_stopped(api: httpx.AsyncClient) -> None:
    """The human ends it: agent_closed, the stopped message names them, continue is sent;
    with flow_on_hitl_stopped off, no continue."""
    bot = await agent(api)
    alice = await human(api, "alice")
    conv = await conversation(bot)
    session = await start(bot, conv["id"])
    await alice.post(f"/v1/handoffs/{session['id']}/join")
    closed = await alice.post(f"/v1/handoffs/{session['id']}/end")
    assert closed.status_code == 200 and closed.json()["end_reason"] == "agent_closed"
    assert texts(await transcript(bot, conv["id"]))[-1] == (
        "system",
        "Alice closed the conversation. I will continue assisting you.",
    )
    assert [e["type"] for e in await events(bot, conv["id"])][-1] == "continue"
    again = await alice.post(f"/v1/handoffs/{session['id']}/end")
    assert again.status_code == 409 and again.json()["error"]["code"] == "handoff_ended"
    conv2 = await conversation(bot)
    session2 = await start(bot, conv2["id"], flow_on_hitl_stopped=False, use_human_agent_info=False)
    await alice.post(f"/v1/handoffs/{session2['id']}/join")
    await alice.post(f"/v1/handoffs/{session2['id']}/end")
    assert [e["type"] for e in await events(bot, conv2["id"])] == [
        "handoff_started",
        "human_assigned",
        "handoff_ended",
    ]
    assert texts(await transcript(bot, conv2["id"]))[1] == (
        "system",
        "A human agent has joined the conversation.",
    )


async def test_stop_hitl_and_its_errors(api: httpx.AsyncClient) -> None:
    bot = await agent(api)
    conv = await conversation(bot)
    nothing = await bot.post(f"/v1/conversations/{conv['id']}/handoff/stop")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "no_open_handoff"
    await start(bot, conv["id"])
    stopped = await bot.post(
        f"/v1/conversations/{conv['id']}/handoff/stop", json={"reason": "solved"}
    )
    assert stopped.status_code == 200 and stopped.json()["end_reason"] == "stop_called"
    assert (await say(bot, conv["id"], "Back to me")).status_code == 201
    missing = await bot.post("/v1/conversations/nope/handoff", json={"title": "t", "user_id": "u"})
    assert missing.status_code == 404


async def test_transfer_and_holder_rules(api: httpx.AsyncClient) -> None:
    """Only the holder writes; a transfer to another human moves the session to them."""
    bot = await agent(api)
    alice = await human(api, "alice")
    bob = await human(api, "bob")
    conv = await conversation(bot)
    session = await start(bot, conv["id"])
    early = await alice.post(f"/v1/handoffs/{session['id']}/messages", json={"text": "hi"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_holder"
    await alice.post(f"/v1/handoffs/{session['id']}/join")
    taken = await bob.post(f"/v1/handoffs/{session['id']}/join")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "assigned_to_another"
    moved = await alice.post(f"/v1/handoffs/{session['id']}/transfer", json={"to": "user:bob"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["human"] == "bob" and moved.json()["status"] == "active"
    assert (
        await bob.post(f"/v1/handoffs/{session['id']}/messages", json={"text": "Bob now"})
    ).status_code == 201
    assert texts(await transcript(bot, conv["id"]))[-2:] == [
        ("system", "Bob has joined the conversation."),
        ("human", "Bob now"),
    ]


async def test_incompatible_message_type(api: httpx.AsyncClient) -> None:
    """A channel that shows text only: the human's image is refused with the configured
    message; the AI's too."""
    bot = await agent(api)
    alice = await human(api, "alice")
    conv = await conversation(bot, accepts=["text"])
    image = {"type": "image", "url": "https://example.com/a.png"}
    refused = await bot.post(f"/v1/conversations/{conv['id']}/messages", json=image)
    assert (
        refused.status_code == 422
        and refused.json()["error"]["code"] == "incompatible_message_type"
    )
    session = await start(bot, conv["id"])
    await alice.post(f"/v1/handoffs/{session['id']}/join")
    sent = await alice.post(f"/v1/handoffs/{session['id']}/messages", json=image)
    assert sent.status_code == 422
    assert sent.json()["error"]["message"].startswith("Sorry, the user can only receive text")


async def test_message_types_and_bad_input(api: httpx.AsyncClient) -> None:
    """text, image, file and bloc are stored as sent; bad ones are refused with the field."""
    bot = await agent(api)
    conv = await conversation(bot)
    bloc = {"type": "bloc", "items": [{"text": "Here is the form"},
            {"type": "file", "url": "https://example.com/f.pdf", "name": "form.pdf"}]}  # fmt: skip
    assert (
        await bot.post(f"/v1/conversations/{conv['id']}/messages", json=bloc)
    ).status_code == 201
    for body, field in [
        ({"text": "  "}, "text"),
        ({"type": "image", "url": "javascript:alert(1)"}, "url"),
        ({"type": "file", "url": "https://example.com/x"}, "name"),
        ({"type": "bloc", "items": []}, "items"),
        ({"text": "hi", "role": "human"}, "role"),
        ({"text": "hi", "colour": "red"}, "colour"),
    ]:
        response = await bot.post(f"/v1/conversations/{conv['id']}/messages", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, (body, response.json())
    malformed = await bot.post(
        f"/v1/conversations/{conv['id']}/messages",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "malformed_json"
    assert len(await transcript(bot, conv["id"])) == 1


async def test_customer_asks_for_a_human(api: httpx.AsyncClient) -> None:
    """/human starts a handoff by itself; with the command unset, it is a plain message."""
    bot = await agent(api)
    conv = await conversation(bot)
    await say(bot, conv["id"], "/Human", role="user")
    session = (await bot.get(f"/v1/conversations/{conv['id']}/handoff")).json()
    assert session["status"] == "pending"
    await api.put("/v1/handoff/settings", json={"set": {"user_handoff_command": None}})
    conv2 = await conversation(bot)
    await say(bot, conv2["id"], "/human", role="user")
    assert (await bot.get(f"/v1/conversations/{conv2['id']}/handoff")).json() is None


async def test_settings_validation(api: httpx.AsyncClient) -> None:
    for body, field in [
        ({"set": {"provider": "freshdesk"}}, "provider"),
        ({"set": {"agent_assigned_timeout_seconds": -1}}, "agent_assigned_timeout_seconds"),
        ({"set": {"user_hitl_close_command": None}}, "user_hitl_close_command"),
        ({"set": {"nope": 1}}, "nope"),
        ({"unset": ["nope"]}, "nope"),
    ]:
        response = await api.put("/v1/handoff/settings", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field
    bot = await agent(api)
    assert (await bot.put("/v1/handoff/settings", json={"set": {}})).status_code == 403
    shown = (await bot.get("/v1/handoff/settings")).json()
    assert shown["provider"] == "desk" and shown["zendesk_api_token"] is None
