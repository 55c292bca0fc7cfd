"""Slack, against a local fake of the Web API that records every call: notices with Block
Kit, answers from buttons, modals and thread replies through the same rules as the desk,
updates in place, forged and stale callbacks refused; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from inloop.server.services import Services
from tests.channels.fakes import Peer, SlackApi, slack_signed
from tests.support import FakeClock

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"


@pytest.fixture
async def slack(api: httpx.AsyncClient, peer: Peer, peer_url: str) -> SlackApi:
    fake = SlackApi()
    peer.reset(fake)
    created = await api.post(
        "/v1/channels",
        json={
            "name": "slack",
            "kind": "slack",
            "config": {"api_url": f"{peer_url}/api/"},
            "secrets": {"bot_token": TOKEN, "signing_secret": SIGNING},
        },
    )
    assert created.status_code == 201, created.text
    for handle, name, slack_id in (("alice", "Alice Smith", "U0ALICE"), ("bob", "Bob", "U0BOB")):
        await api.post("/v1/users", json={"handle": handle, "name": name, "roles": ["ops"]})
        linked = await api.put(f"/v1/users/{handle}/channels/slack", json={"address": slack_id})
        assert linked.status_code == 200, linked.text
    return fake


def calls(peer: Peer, method: str) -> list[dict[str, Any]]:
    found = []
    for got in peer.received:
        if got.path == f"/api/{method}":
            assert got.headers["authorization"] == f"Bearer {TOKEN}"
            found.append(got.json())
    return found


async def click(
    api: httpx.AsyncClient, clock: FakeClock, payload: dict[str, Any], *, secret: str = SIGNING,
    age: float = 0,
) -> httpx.Response:  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack_signed(secret, body, clock.now().timestamp() - age)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return await api.post("/hooks/slack/slack/interactions", content=body, headers=headers)


def button(user: str, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "name": user.lower()},
        "team": {"id": "T0TEAM"},
        "channel": {"id": "D" + user[1:]},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "actions": [action],
    }


async def test_a_notice_is_answered_from_slack_and_updated_in_place(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, slack: SlackApi
) -> None:
    """Candidates get a Block Kit message with one button per option; a click answers as
    the linked Inloop user; every message then says how and by whom."""
    created = await api.post(
        "/v1/requests",
        json={"prompt": "Refund $120 to order 8812?", "options": ["approve", "reject"],
              "assignee": "role:ops", "context": {"order": 8812, "amount": 120}},
    )  # fmt: skip
    request = created.json()
    assert await services.dispatcher.run_due() == 2
    posts = calls(peer, "chat.postMessage")
    assert sorted(p["channel"] for p in posts) == ["U0ALICE", "U0BOB"]
    blocks = posts[0]["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Refund $120 to order 8812?", "emoji": False},
    }
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [(a["text"]["text"], a.get("style")) for a in actions] == [
        ("approve", "primary"),
        ("reject", "danger"),
        ("Open in Inloop", None),
    ]
    assert actions[2]["url"] == f"https://inloop.example/desk/requests/{request['id']}"
    assert {"type": "plain_text", "text": "Order: 8812", "emoji": False} in blocks[3]["fields"]

    answered = await click(api, clock, button("U0ALICE", actions[0]))
    assert answered.status_code == 200
    closed = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (closed["response"], closed["resolved_by"]) == ("approve", "user:alice")
    assert closed["responded_via"]["channel"] == "slack"
    assert closed["responded_via"]["user_id"] == "U0ALICE"

    assert await services.dispatcher.run_due() == 2
    updates = calls(peer, "chat.update")
    assert sorted(u["channel"] for u in updates) == ["D0ALICE", "D0BOB"]
    for update in updates:
        assert update["ts"].startswith("1767600000.")
        assert update["text"].endswith("Approved in Slack by Alice Smith")
        assert not [b for b in update["blocks"] if b["type"] == "actions"]

    # A second answer, from the other message: refused, and told to that person only.
    late = await click(api, clock, button("U0BOB", {**actions[1], "value": actions[1]["value"]}))
    assert late.status_code == 200
    await services.dispatcher.run_due()
    (note,) = calls(peer, "chat.postEphemeral")
    assert note["user"] == "U0BOB" and note["channel"] == "D0BOB"
    assert note["text"] == "Already closed: Approved in Slack by Alice Smith."
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["response"] == "approve"


async def test_resolved_in_the_desk_updates_slack(
    api: httpx.AsyncClient, services: Services, peer: Peer, slack: SlackApi
) -> None:
    """An answer elsewhere edits the Slack message; a notice not sent yet is dropped."""
    first = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Ship?", "options": ["approve", "reject"], "assignee": "user:alice"},
        )
    ).json()
    await services.dispatcher.run_due()
    second = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Ship B?", "options": ["approve", "reject"], "assignee": "user:bob"},
        )
    ).json()
    for request in (first, second):
        await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "reject"})
    await services.dispatcher.run_due()
    assert [p["channel"] for p in calls(peer, "chat.postMessage")] == ["U0ALICE"]
    (update,) = calls(peer, "chat.update")
    assert update["text"] == "Ship?: Rejected through the API by admin-token"
    skipped = (await api.get("/v1/deliveries", params={"status": "skipped"})).json()["items"]
    assert [d["request_id"] for d in skipped] == [second["id"]]


async def test_forged_stale_and_unlinked_callbacks_are_refused(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, slack: SlackApi, peer: Peer
) -> None:
    request = (
        await api.post("/v1/requests", json={"prompt": "Ship?", "options": ["approve", "reject"]})
    ).json()
    action = {
        "action_id": "inloop:answer:0",
        "value": json.dumps({"r": request["id"], "v": "approve"}),
    }
    forged = await click(api, clock, button("U0ALICE", action), secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["error"]["field"] == "X-Slack-Signature"
    stale = await click(api, clock, button("U0ALICE", action), age=301)
    assert stale.status_code == 401
    unsigned = await api.post("/hooks/slack/slack/interactions", content=b"payload=%7B%7D")
    assert unsigned.status_code == 401
    stranger = await click(api, clock, button("U0EVE", action))
    assert stranger.status_code == 200
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "pending"
    await services.dispatcher.run_due()
    (note,) = calls(peer, "chat.postEphemeral")
    assert "not linked to an Inloop user" in note["text"] and note["user"] == "U0EVE"
    missing = await api.post("/hooks/slack/nope/interactions", content=b"")
    assert missing.status_code == 404


async def test_allow_list_and_candidacy(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, slack: SlackApi, peer: Peer
) -> None:
    """The channel's allow-list and the request's own candidates both apply."""
    await api.patch("/v1/channels/slack", json={"config": {"allowed_responders": ["U0ALICE"]}})
    mine = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Ship?", "options": ["approve", "reject"], "assignee": "user:alice"},
        )
    ).json()
    action = {
        "action_id": "inloop:answer:0",
        "value": json.dumps({"r": mine["id"], "v": "approve"}),
    }
    await click(api, clock, button("U0BOB", action))
    assert (await api.get(f"/v1/requests/{mine['id']}")).json()["status"] != "resolved"
    await services.dispatcher.run_due()
    assert "not on the list" in calls(peer, "chat.postEphemeral")[0]["text"]


async def test_text_answers_by_modal_and_thread_reply(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, slack: SlackApi, peer: Peer
) -> None:
    """An input request opens a modal from its button; a chat request takes a reply in
    the notice's thread (Events API, signed, each event handled once)."""
    ask = (
        await api.post(
            "/v1/requests", json={"prompt": "Why?", "kind": "input", "assignee": "user:alice"}
        )
    ).json()
    await services.dispatcher.run_due()
    (post,) = calls(peer, "chat.postMessage")
    opener = next(b for b in post["blocks"] if b["type"] == "actions")["elements"][0]
    assert opener["action_id"] == "inloop:open"
    await click(api, clock, button("U0ALICE", opener))
    (view,) = calls(peer, "views.open")
    assert view["trigger_id"].startswith("13345224609")
    assert view["view"]["private_metadata"] == ask["id"]
    submission = {
        "type": "view_submission",
        "user": {"id": "U0ALICE", "name": "alice"},
        "view": {"callback_id": "inloop:view", "private_metadata": ask["id"],
                 "state": {"values": {"answer": {"value": {"type": "plain_text_input", "value": "Because."}}}}},
    }  # fmt: skip
    done = await click(api, clock, submission)
    assert done.status_code == 200 and done.content == b""
    assert (await api.get(f"/v1/requests/{ask['id']}")).json()["response"] == "Because."
    again = await click(api, clock, submission)
    assert again.json()["response_action"] == "errors"
    assert "Already closed: Answered in Slack by Alice Smith" in again.json()["errors"]["answer"]

    chat = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Anything to add?", "kind": "chat", "assignee": "user:bob"},
        )
    ).json()
    await services.dispatcher.run_due()
    root = calls(peer, "chat.postMessage")[-1]
    ts = "1767600000.000002"
    assert root["channel"] == "U0BOB"
    event = {"type": "event_callback", "event_id": "Ev0PV52K21", "team_id": "T0TEAM",
             "event": {"type": "message", "channel": "D0BOB", "user": "U0BOB", "text": "All good",
                       "ts": "1767600100.000100", "thread_ts": ts}}  # fmt: skip
    body = json.dumps(event).encode()
    for _ in range(2):  # Slack retries an event; the second is a no-op
        sent = await api.post(
            "/hooks/slack/slack/events",
            content=body,
            headers=slack_signed(SIGNING, body, clock.now().timestamp()),
        )
        assert sent.status_code == 200
    answered = (await api.get(f"/v1/requests/{chat['id']}")).json()
    assert (answered["response"], answered["resolved_by"]) == ("All good", "user:bob")
    check = json.dumps(
        {
            "type": "url_verification",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        }
    ).encode()
    echoed = await api.post(
        "/hooks/slack/slack/events",
        content=check,
        headers=slack_signed(SIGNING, check, clock.now().timestamp()),
    )
    assert echoed.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_a_revoked_token_is_a_dead_letter_at_once(
    api: httpx.AsyncClient, services: Services, slack: SlackApi
) -> None:
    slack.errors["chat.postMessage"] = "token_revoked"
    await api.post("/v1/requests", json={"prompt": "Ship?", "assignee": "user:alice"})
    await services.dispatcher.run_due()
    (dead,) = (await api.get("/v1/deliveries")).json()["items"]
    assert (
        dead["status"] == "dead" and dead["last_error"] == "Slack chat.postMessage: token_revoked"
    )
