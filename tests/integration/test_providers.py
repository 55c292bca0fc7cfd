"""The webhook and zendesk providers, on SQLite and PostgreSQL: the exact calls they make
(against local fakes that check every request), the signatures both ways, the order of a
session's calls, retries, and a dead letter ending the session with internal_error."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from inloop.server.services import Services
from inloop.server.services.providers.zendesk import signature
from tests.integration.conversation_support import (
    agent,
    conversation,
    events,
    say,
    start,
    texts,
    transcript,
)
from tests.support import FakeClock

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmnopqrstuv").decode()
ZD = "https://acme.zendesk.test"
ZD_SECRET = "zendesk-signing-secret"


class FakeWebhookDesk:
    """Your own desk: checks each delivery's Standard Webhooks signature, keeps the bodies."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.fail_next = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url == "https://desk.example/hooks/inloop"
        msg_id = request.headers["webhook-id"]
        when = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
        expected = Webhook(SECRET).sign(msg_id, when, request.content.decode())
        assert request.headers["webhook-signature"] == expected
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(503)
        self.ids.append(msg_id)
        self.received.append(json.loads(request.content))
        return httpx.Response(204)


class FakeZendesk:
    """The Zendesk Support endpoints Inloop calls, with the request shapes of the API docs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(b"agent@acme.test/token:zd-token").decode()
        assert request.headers["authorization"] == expected
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        self.calls.append((request.method, request.url.path, body))
        if self.down:
            return httpx.Response(500, json={"error": "down"})
        if request.method == "POST" and request.url.path == "/api/v2/users/create_or_update.json":
            assert set(body) == {"user"} and body["user"]["role"] == "end-user"
            return httpx.Response(201, json={"user": {"id": 9001, **body["user"]}})
        if request.method == "POST" and request.url.path == "/api/v2/tickets.json":
            assert body["ticket"]["requester_id"] == 9001
            return httpx.Response(201, json={"ticket": {"id": 4242, **body["ticket"]}})
        if request.method == "PUT" and request.url.path == "/api/v2/tickets/4242.json":
            assert set(body) == {"ticket"}
            return httpx.Response(200, json={"ticket": {"id": 4242}})
        return httpx.Response(404, json={"error": "RecordNotFound"})


async def drain(services: Services) -> None:
    while await services.provider_dispatcher.run_due():
        pass


def zendesk_post(body: dict[str, Any], now: datetime, secret: str = ZD_SECRET) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "content": raw,
        "headers": {
            "Content-Type": "application/json",
            "X-Zendesk-Webhook-Signature": signature(secret, stamp, raw),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        },
    }


def webhook_post(
    event: dict[str, Any], now: datetime, msg_id: str, secret: str = SECRET
) -> dict[str, Any]:
    raw = json.dumps(event).encode()
    return {
        "content": raw,
        "headers": {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, raw.decode()),
        },
    }


async def test_zendesk_provider_makes_the_documented_calls(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """--map hitl=zendesk: the requester, then the ticket with the whole transcript, then
    each customer message as a public comment; Zendesk's signed webhooks assign the
    agent, relay their comment (once, however often Zendesk retries) and solve it."""
    fake = FakeZendesk()
    services.provider_dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    settings = {"provider": "zendesk", "zendesk_url": ZD, "zendesk_email": "agent@acme.test",
                "zendesk_api_token": "zd-token", "zendesk_webhook_secret": ZD_SECRET}  # fmt: skip
    assert (await api.put("/v1/handoff/settings", json={"set": settings})).status_code == 200
    bot = await agent(api)
    conv = await conversation(bot, user_email="dana@example.com")
    for n in range(12):  # more than Zendesk's Switchboard passes on: the human gets them all
        await say(bot, conv["id"], f"message {n}", role="user")
    session = await start(bot, conv["id"])
    assert session["provider"] == "zendesk"
    await say(bot, conv["id"], "Are you there?", role="user")
    await drain(services)
    assert [(m, p) for m, p, _ in fake.calls] == [
        ("POST", "/api/v2/users/create_or_update.json"),
        ("POST", "/api/v2/tickets.json"),
        ("PUT", "/api/v2/tickets/4242.json"),
    ]
    user, ticket, comment = (body for _, _, body in fake.calls)
    assert user == {
        "user": {
            "name": "Dana",
            "external_id": "cust-1",
            "role": "end-user",
            "email": "dana@example.com",
        }
    }
    assert (
        ticket["ticket"]["subject"] == "Refund question"
        and ticket["ticket"]["external_id"] == session["id"]
    )
    assert all(f"message {n}" in ticket["ticket"]["comment"]["body"] for n in range(12))
    assert comment == {
        "ticket": {"comment": {"body": "Are you there?", "author_id": 9001, "public": True}}
    }
    assert (await bot.get(f"/v1/handoffs/{session['id']}")).json()["external_id"] == "4242"

    hook = "/v1/handoff/providers/zendesk/events"
    now = clock.now()
    assigned = await api.post(hook, **zendesk_post({"type": "ticketAssigned", "ticketId": "4242",
                                                     "agent": {"id": 77, "name": "Zoe"}}, now))  # fmt: skip
    assert assigned.status_code == 200, assigned.text
    said = {
        "type": "newMessage",
        "ticketId": "4242",
        "commentId": "c-1",
        "comment": "Zoe here",
        "agent": {"id": 77, "name": "Zoe"},
    }
    for _ in range(2):
        assert (await api.post(hook, **zendesk_post(said, now))).status_code == 200
    forged = await api.post(hook, **zendesk_post({**said, "commentId": "c-2"}, now, secret="wrong"))
    assert forged.status_code == 401
    assert (
        await api.post(hook, **zendesk_post({"type": "ticketSolved", "ticketId": "4242"}, now))
    ).status_code == 200
    lines = texts(await transcript(bot, conv["id"]))
    assert lines[-3:] == [
        ("system", "Zoe has joined the conversation."),
        ("human", "Zoe here"),
        ("system", "Zoe closed the conversation. I will continue assisting you."),
    ]
    assert [e["type"] for e in await events(bot, conv["id"])][-2:] == ["handoff_ended", "continue"]
    await drain(services)
    assert len(fake.calls) == 3  # solved in Zendesk: nothing more to send


async def test_zendesk_down_retries_then_ends_the_session(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Zendesk answering 500: retried with backoff; after the last attempt the session
    ends with internal_error and the customer is told."""
    fake = FakeZendesk()
    fake.down = True
    services.provider_dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    services.provider_dispatcher.max_attempts = 3
    settings = {"provider": "zendesk", "zendesk_url": ZD, "zendesk_email": "agent@acme.test",
                "zendesk_api_token": "zd-token", "zendesk_webhook_secret": ZD_SECRET}  # fmt: skip
    await api.put("/v1/handoff/settings", json={"set": settings})
    bot = await agent(api)
    conv = await conversation(bot)
    session = await start(bot, conv["id"])
    await drain(services)
    assert len(fake.calls) == 1
    clock.advance(seconds=5)  # within the first backoff (2.5 to 5 s)
    await drain(services)
    clock.advance(minutes=1)
    await drain(services)
    clock.advance(minutes=1)
    await drain(services)
    assert len(fake.calls) == 3
    ended = (await bot.get(f"/v1/handoffs/{session['id']}")).json()
    assert ended["status"] == "ended" and ended["end_reason"] == "internal_error"
    assert "not connected to a human agent" in texts(await transcript(bot, conv["id"]))[-1][1]


async def test_webhook_provider_signs_out_and_verifies_in(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Out: user.created, session.started (whole history), message.created, in order,
    each signed; a 503 is retried with the same webhook-id. In: only a good signature
    within 5 minutes is applied; the agent's message is stored once."""
    desk = FakeWebhookDesk()
    desk.fail_next = 1
    services.provider_dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(desk))
    settings = {
        "provider": "webhook",
        "webhook_url": "https://desk.example/hooks/inloop",
        "webhook_secret": SECRET,
    }
    assert (await api.put("/v1/handoff/settings", json={"set": settings})).status_code == 200
    shown = (await api.get("/v1/handoff/settings")).json()
    assert shown["webhook_secret"] == "(set)"
    bot = await agent(api)
    conv = await conversation(bot)
    await say(bot, conv["id"], "Where is my parcel?", role="user")
    session = await start(bot, conv["id"])
    await say(bot, conv["id"], "Hello?", role="user")
    await drain(services)  # the first delivery fails (503)
    assert desk.received == []
    clock.advance(seconds=10)
    await drain(services)
    assert [r["type"] for r in desk.received] == [
        "user.created",
        "session.started",
        "message.created",
    ]
    assert desk.received[1]["data"]["history"][0]["content"] == {
        "type": "text",
        "text": "Where is my parcel?",
    }
    assert desk.received[2]["data"]["message"]["content"]["text"] == "Hello?"

    hook = "/v1/handoff/providers/webhook/events"
    now = clock.now()
    message = {"type": "agent.message", "data": {"session_id": session["id"], "message_id": "m-1",
               "message": {"text": "Hi, Sam from support"}, "agent": {"id": "sam", "name": "Sam"}}}  # fmt: skip
    for _ in range(2):
        assert (await api.post(hook, **webhook_post(message, now, "evt-1"))).status_code == 200
    for bad in (
        webhook_post(message, now, "evt-2", secret="whsec_" + base64.b64encode(b"x" * 24).decode()),
        webhook_post(message, datetime(2025, 1, 1, tzinfo=UTC), "evt-3"),
        {"content": json.dumps(message).encode(), "headers": {"Content-Type": "application/json"}},
    ):
        refused = await api.post(hook, **bad)
        assert refused.status_code == 401, refused.text
    unknown = await api.post(hook, **webhook_post({"type": "agent.message", "data": {"session_id": "hs_nope",
                             "message": {"text": "x"}}}, now, "evt-4"))  # fmt: skip
    assert unknown.status_code == 404
    stop = {"type": "session.stopped", "data": {"session_id": session["id"]}}
    assert (await api.post(hook, **webhook_post(stop, now, "evt-5"))).status_code == 200
    lines = texts(await transcript(bot, conv["id"]))
    assert lines.count(("human", "Hi, Sam from support")) == 1
    assert (await bot.get(f"/v1/handoffs/{session['id']}")).json()["end_reason"] == "agent_closed"


@pytest.mark.parametrize("provider", ["webhook", "zendesk"])
async def test_a_provider_without_its_settings_ends_the_session(
    api: httpx.AsyncClient, services: Services, provider: str
) -> None:
    services.provider_dispatcher.http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    await api.put("/v1/handoff/settings", json={"set": {"provider": provider}})
    bot = await agent(api)
    conv = await conversation(bot)
    session = await start(bot, conv["id"])
    await drain(services)
    assert (await bot.get(f"/v1/handoffs/{session['id']}")).json()["end_reason"] == "internal_error"
