"""HILA consults and approver mode through the API, on SQLite and PostgreSQL, on the fake
clock: an answer hands control back, a transfer (by the HILA, or automatic with no HILA
online) starts a live handoff, approvals are accepted automatically, edited or rejected."""

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
    texts,
    transcript,
)
from tests.support import FakeClock


async def test_consult_answered_hands_control_back(api: httpx.AsyncClient) -> None:
    """The consult carries the summary, transcript and customer; the customer sees none
    of it; the HILA's option closes it and the agent hears consult_answered."""
    bot = await agent(api)
    hila = await human(api, "hanna", roles=["hila"])
    conv = await conversation(bot, customer={"plan": "gold"})
    await say(bot, conv["id"], "Can I get a refund for order 7?", role="user")
    made = await bot.post(
        f"/v1/conversations/{conv['id']}/consults",
        json={"prompt": "Refund order 7 (EUR 80)?", "options": ["approve refund", "offer voucher"]},
    )
    assert made.status_code == 201, made.text
    ticket = made.json()
    assert ticket["kind"] == "choice" and ticket["candidates"] == ["role:hila"]
    assert ticket["context"]["customer"]["plan"] == "gold"
    assert ticket["context"]["transcript"][0]["text"] == "Can I get a refund for order 7?"
    assert "Customer's request: Can I get a refund" in ticket["context"]["summary"]
    assert texts(await transcript(bot, conv["id"])) == [("user", "Can I get a refund for order 7?")]
    answered = await hila.post(
        f"/v1/requests/{ticket['id']}/respond", json={"response": "offer voucher"}
    )
    assert answered.status_code == 200, answered.text
    log = await events(bot, conv["id"])
    assert [e["type"] for e in log] == ["message", "consult_opened", "consult_answered"]
    assert (
        log[-1]["data"]["response"] == "offer voucher"
        and log[-1]["data"]["resolved_by"] == "user:hanna"
    )
    assert (await say(bot, conv["id"], "I can offer a voucher.")).status_code == 201


async def test_hila_transfers_to_a_live_agent(api: httpx.AsyncClient) -> None:
    bot = await agent(api)
    hila = await human(api, "hanna", roles=["hila"])
    conv = await conversation(bot)
    ticket = (
        await bot.post(
            f"/v1/conversations/{conv['id']}/consults", json={"prompt": "Angry customer, what now?"}
        )
    ).json()
    moved = await hila.post(
        f"/v1/requests/{ticket['id']}/transfer-to-live", json={"reason": "needs a person"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "transferred" and moved.json()["resolution"] == "transferred"
    session = (await bot.get(f"/v1/conversations/{conv['id']}/handoff")).json()
    assert session["status"] == "pending" and session["title"].startswith(
        "Transferred from a consult"
    )
    assert (await say(bot, conv["id"], "still me")).json()["error"]["code"] == "ai_muted"
    assert [e["type"] for e in await events(bot, conv["id"])] == [
        "consult_opened",
        "handoff_started",
        "consult_transferred",
    ]
    plain = (await bot.post("/v1/requests", json={"prompt": "Not a consult"})).json()
    refused = await hila.post(f"/v1/requests/{plain['id']}/transfer-to-live")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_a_consult"


async def test_automatic_transfer_with_no_hila_online(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Unassigned after 60 s and no HILA online: a live agent gets the conversation. With a
    HILA online, it waits (the timer looks again every 60 s)."""
    bot = await agent(api)
    hila = await human(api, "hanna", roles=["hila"])
    conv = await conversation(bot)
    ticket = (
        await bot.post(f"/v1/conversations/{conv['id']}/consults", json={"prompt": "Help?"})
    ).json()
    clock.advance(seconds=61)
    await fire(services)
    assert (await bot.get(f"/v1/requests/{ticket['id']}")).json()[
        "status"
    ] == "pending"  # hanna is online
    assert (await hila.put("/v1/me/presence", json={"presence": "offline"})).status_code == 200
    clock.advance(seconds=60)
    await fire(services)
    closed = (await bot.get(f"/v1/requests/{ticket['id']}")).json()
    assert closed["status"] == "transferred"
    session = (await bot.get(f"/v1/conversations/{conv['id']}/handoff")).json()
    assert session["status"] == "pending"
    audit = (await bot.get(f"/v1/requests/{ticket['id']}/events")).json()["items"]
    assert "none is online" in audit[-1]["reason"]


async def test_approver_mode_auto_accept_edit_and_reject(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Each AI message waits (202); unanswered, it is sent after 30 s; edited, the edit is
    sent; rejected, nothing is; the customer never sees a held message."""
    bot = await agent(api)
    alice = await human(api, "alice")
    conv = await conversation(bot, approver_mode=True)
    held = await say(bot, conv["id"], "Your refund is on its way")
    assert held.status_code == 202 and held.json()["status"] == "pending_approval"
    request_id = held.json()["request_id"]
    ticket = (await bot.get(f"/v1/requests/{request_id}")).json()
    assert ticket["kind"] == "approval" and ticket["payload"] == {
        "message": {"type": "text", "text": "Your refund is on its way"}
    }
    customer = await services.conversations.customer_messages(conv["id"], 0)
    assert customer == []
    clock.advance(seconds=31)
    await fire(services)
    assert [m.text for m in await services.conversations.customer_messages(conv["id"], 0)] == [
        "Your refund is on its way"
    ]
    second = (await say(bot, conv["id"], "It will take 10 days")).json()
    edited = await alice.post(
        f"/v1/requests/{second['request_id']}/respond",
        json={
            "response": "edit",
            "edited": {"message": {"type": "text", "text": "It will take 3 to 5 days"}},
        },
    )
    assert edited.status_code == 200, edited.text
    third = (await say(bot, conv["id"], "Anything else?!!")).json()
    await alice.post(f"/v1/requests/{third['request_id']}/respond", json={"response": "reject"})
    seen = [m.text for m in await services.conversations.customer_messages(conv["id"], 0)]
    assert seen == ["Your refund is on its way", "It will take 3 to 5 days"]
    kinds = [e["type"] for e in await events(bot, conv["id"])]
    assert kinds == ["message_approved", "message_approved", "message_rejected"]
    bad = (await say(bot, conv["id"], "x")).json()
    broken = await alice.post(
        f"/v1/requests/{bad['request_id']}/respond",
        json={"response": "edit", "edited": {"message": {"type": "image"}}},
    )
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "edited.message"
    assert (await bot.get(f"/v1/requests/{bad['request_id']}")).json()["status"] == "pending"
