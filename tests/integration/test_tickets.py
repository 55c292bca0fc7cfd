"""Handoff tickets on SQLite and PostgreSQL: the priority rules (seed 004's defaults,
custom rules, bad rules), the context a ticket carries, its desk request, the session it
marks escalated."""

from __future__ import annotations

import httpx
import pytest

import inloop
from inloop.server.services import Services
from tests.desk import desk_support
from tests.integration.conversation_support import conversation, say
from tests.integration.session_support import admin_sdk, agent_sdk
from tests.support import FakeClock


@pytest.mark.parametrize(
    ("reason", "priority", "rule"),
    [
        ("Customer disputes a payment", "urgent", "payment_or_security"),
        ("Possible SECURITY breach on the account", "urgent", "payment_or_security"),
        ("Formal complaint about the delivery", "high", "complaint_or_frustration"),
        ("User is frustrated after three tries", "high", "complaint_or_frustration"),
        ("Low confidence (40%) on question: visa rules", "normal", None),
    ],
)
async def test_default_rules_are_the_seeds(
    api: httpx.AsyncClient, reason: str, priority: str, rule: str | None
) -> None:
    """payment or security: urgent; complaint or frustration: high; otherwise normal."""
    bot = await agent_sdk(api)
    ticket = await bot.tickets.open(session_id="sess_1", reason=reason)
    assert ticket.priority == priority and ticket.rule == rule
    request = (await api.get(f"/v1/requests/{ticket.request_id}")).json()
    assert request["priority"] == {"normal": "medium"}.get(priority, priority)


async def test_a_ticket_carries_the_whole_context_and_escalates_the_session(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Turns, conversation messages, state, metadata, action and reason are captured; the
    desk request shows them; the session is escalated, with the ticket in its state."""
    bot = await agent_sdk(api)
    http = httpx.AsyncClient(
        transport=api._transport,
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {bot.token}"},
    )
    conv = await conversation(http, id="chat-9")
    await say(http, conv["id"], "I was charged twice", role="user")
    clock.advance(seconds=5)
    await bot.sessions.add_turn("sess_9", input="Refund me now", output="Checking the order")
    clock.advance(seconds=5)
    await say(http, conv["id"], "Let me check that for you")
    await bot.sessions.update_state("sess_9", {"order": "A-17", "attempts": 2}, "tracking")
    ticket = await bot.tickets.open(
        session_id="sess_9",
        reason="Refund of a double payment",
        metadata={"customer_tier": "gold"},
        conversation_id="chat-9",
        action={"tool": "refund", "amount": 120},
    )
    assert ticket.label == f"#{ticket.number}" and ticket.status == "open"
    assert ticket.priority == "urgent"
    assert [(h.source, h.role, h.text) for h in ticket.history] == [
        ("message", "user", "I was charged twice"),
        ("turn", "user", "Refund me now"),
        ("turn", "agent", "Checking the order"),
        ("message", "agent", "Let me check that for you"),
    ]
    assert ticket.state == {"order": "A-17", "attempts": 2}
    assert ticket.metadata == {"customer_tier": "gold"}
    assert ticket.action == {"tool": "refund", "amount": 120}

    request = (await api.get(f"/v1/requests/{ticket.request_id}")).json()
    assert request["status"] == "pending" and request["kind"] == "input"
    assert request["title"].startswith(f"Ticket #{ticket.number}: Refund of a double payment")
    assert request["context"]["transcript"][0] == {"role": "user", "text": "I was charged twice"}
    assert request["context"]["state"] == {"order": "A-17", "attempts": 2}
    assert request["context"]["action"] == {"tool": "refund", "amount": 120}
    assert request["metadata"]["ticket"] == ticket.label

    session = await bot.sessions.get("sess_9")
    assert session.escalated is True
    assert session.state["escalated"] is True
    assert session.state["escalation_reason"] == "Refund of a double payment"
    assert session.state["escalation_ticket_id"] == ticket.id
    assert session.state["order"] == "A-17"
    history = await bot.sessions.history("sess_9")
    assert [h.type for h in history][-2:] == ["state_changed", "escalated"]
    assert history[-1].data["ticket_id"] == ticket.id and history[-1].data["priority"] == "urgent"

    assert (await bot.tickets.get(ticket.id)).id == ticket.id
    assert (await bot.tickets.get(ticket.number)).id == ticket.id
    assert (await bot.tickets.get(f"#{ticket.number}")).id == ticket.id
    assert [t.id for t in await bot.tickets.list(session_id="sess_9")] == [ticket.id]
    assert await bot.tickets.list(status="resolved") == []


async def test_the_ticket_is_a_desk_request_a_human_resolves(
    api: httpx.AsyncClient, services: Services
) -> None:
    """The desk's request page shows the history as the transcript and the state; the
    human's answer resolves the ticket."""
    desk_support.fast_hashing(services)
    bot = await agent_sdk(api)
    await bot.sessions.add_turn("s-desk", input="Where is my parcel?", output="It is late")
    await bot.sessions.update_state("s-desk", {"parcel": "P-555"}, "found it")
    ticket = await bot.tickets.open(session_id="s-desk", reason="Customer complaint")
    await desk_support.make_user(api, services, "alice")
    browser = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    await desk_support.sign_in(browser, "alice")
    queue = await browser.get("/desk")
    assert f"Ticket #{ticket.number}" in queue.text
    page = await browser.get(f"/desk/requests/{ticket.request_id}")
    assert page.status_code == 200
    assert "Where is my parcel?" in page.text and "P-555" in page.text
    reassigned = await api.post(
        f"/v1/requests/{ticket.request_id}/reassign", json={"to": "user:alice"}
    )
    assert reassigned.status_code == 200, reassigned.text
    assert (await bot.tickets.get(ticket.id)).status == "assigned"
    picked = await bot.sessions.get("s-desk")
    assert picked.state["human_agent_assigned"] == "alice"
    admin = await admin_sdk(api)
    await admin.respond(ticket.request_id, "Refunded shipping, parcel re-sent")
    after = (await bot.sessions.get("s-desk")).state
    assert after["escalation_status"] == "resolved"
    assert after["escalation_resolution"] == "Refunded shipping, parcel re-sent"
    resolved = await bot.tickets.get(ticket.id)
    assert resolved.status == "resolved"
    assert resolved.resolution == "Refunded shipping, parcel re-sent"
    assert [t.id for t in await bot.tickets.list(status=["resolved"])] == [ticket.id]


async def test_custom_rules_and_routing(api: httpx.AsyncClient) -> None:
    """An admin's rules replace the defaults (first match wins, over the fields named) and
    route the desk request; an explicit priority skips the rules."""
    admin = await admin_sdk(api)
    await api.post("/v1/users", json={"handle": "vip-desk", "name": "VIP desk"})
    rules = await admin.tickets.set_rules(
        {
            "rules": [
                {"name": "vip", "keywords": ["gold"], "priority": "urgent", "fields": ["metadata"]},
                {"name": "legal", "keywords": ["lawyer", "legal"], "priority": "high"},
            ],
            "default_priority": "low",
            "assignee": "user:vip-desk",
            "timeout": "2h",
        }
    )
    assert [r.name for r in rules.rules] == ["vip", "legal"]
    bot = await agent_sdk(api)
    gold = await bot.tickets.open("a", "Wants a refund", metadata={"tier": "gold"})
    assert (gold.priority, gold.rule) == ("urgent", "vip")
    legal = await bot.tickets.open("b", "Mentions a LAWYER")
    assert (legal.priority, legal.rule) == ("high", "legal")
    other = await bot.tickets.open("c", "Payment failed")  # the defaults no longer apply
    assert (other.priority, other.rule) == ("low", None)
    explicit = await bot.tickets.open("d", "Anything", priority="urgent")
    assert (explicit.priority, explicit.rule) == ("urgent", "explicit")
    request = (await api.get(f"/v1/requests/{gold.request_id}")).json()
    assert request["timeout"] == "2h"
    assert request["assigned_to"] == "vip-desk"
    assert (await bot.sessions.get("a")).state["human_agent_assigned"] == "vip-desk"
    tested = await api.post("/v1/ticket-rules/test", json={"reason": "a legal matter"})
    assert tested.json() == {"priority": "high", "rule": "legal"}
    reset = await admin.tickets.reset_rules()
    assert [r.name for r in reset.rules] == ["payment_or_security", "complaint_or_frustration"]
    again = await bot.tickets.open("e", "Payment failed")
    assert again.priority == "urgent"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"rules": [{"name": "x", "keywords": [], "priority": "high"}]}, "rules.0.keywords", "validation_error"),
        ({"rules": [{"name": "x", "keywords": ["a"], "priority": "asap"}]}, "rules.0.priority", "validation_error"),
        ({"rules": [{"name": "x", "keywords": ["  "], "priority": "high"}]}, "rules.0.keywords", "validation_error"),
        ({"rules": [{"name": "x", "keywords": ["a"], "priority": "high", "fields": ["title"]}]}, "rules.0.fields.0", "validation_error"),
        ({"rules": [{"name": "x", "keywords": ["a"], "priority": "high"}, {"name": "x", "keywords": ["b"], "priority": "low"}]}, "rules.1.name", "invalid_ticket_rules"),
        ({"rules": [], "timeout": "soon"}, "timeout", "invalid_ticket_rules"),
        ({"rules": [], "assignee": "nobody"}, "assignee", "invalid_ticket_rules"),
        ({"rules": [], "escalation": {"after": "1h"}}, "escalation", "invalid_ticket_rules"),
        ({"rules": [], "colour": "red"}, "colour", "validation_error"),
    ],
)  # fmt: skip
async def test_bad_rules_are_refused_clearly(
    api: httpx.AsyncClient, body: dict[str, object], field: str, code: str
) -> None:
    before = (await api.get("/v1/ticket-rules")).json()
    response = await api.put("/v1/ticket-rules", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["code"] == code and error["message"]
    assert (await api.get("/v1/ticket-rules")).json() == before


async def test_only_admins_set_rules_and_agents_see_their_own_tickets(
    api: httpx.AsyncClient,
) -> None:
    bot = await agent_sdk(api)
    other = await agent_sdk(api, "other")
    with pytest.raises(inloop.PermissionDeniedError):
        await bot.tickets.set_rules({"rules": []})
    ticket = await bot.tickets.open("mine", "help")
    with pytest.raises(inloop.PermissionDeniedError):
        await other.tickets.get(ticket.id)
    assert await other.tickets.list() == []
    with pytest.raises(inloop.NotFoundError) as missing:
        await bot.tickets.get("tkt_nope")
    assert missing.value.code == "ticket_not_found"
    with pytest.raises(inloop.NotFoundError) as no_conv:
        await bot.tickets.open("mine", "help", conversation_id="nope")
    assert no_conv.value.field == "conversation_id"
    blank = await api.post("/v1/tickets", json={"session_id": "s", "reason": ""})
    assert blank.status_code == 422 and blank.json()["error"]["field"] == "reason"
