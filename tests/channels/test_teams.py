"""Microsoft Teams, against a local fake of the Bot Connector (token endpoint,
conversations, activities, OpenID metadata and keys): Adaptive Cards, answers from
Action.Submit, updates in place, and every incoming token checked; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from inloop.server.services import Services
from tests.channels.fakes import BotConnector, Peer
from tests.support import FakeClock

APP_ID = "87654321-4321-4321-4321-cba987654321"
TENANT = "12345678-1234-1234-1234-123456789abc"


@pytest.fixture
async def teams(api: httpx.AsyncClient, peer: Peer, peer_url: str) -> BotConnector:
    connector = BotConnector(peer_url)
    peer.reset(connector)
    created = await api.post(
        "/v1/channels",
        json={
            "name": "teams",
            "kind": "teams",
            "config": {
                "app_id": APP_ID,
                "tenant_id": TENANT,
                "service_url": f"{peer_url}/teams/",
                "token_url": f"{peer_url}/login/botframework.com/oauth2/v2.0/token",
                "openid_metadata": f"{peer_url}/botframework/v1/.well-known/openidconfiguration",
            },
            "secrets": {"app_password": "bot-client-secret"},
        },
    )
    assert created.status_code == 201, created.text
    await api.post("/v1/users", json={"handle": "carol", "name": "Carol Jones"})
    linked = await api.put("/v1/users/carol/channels/teams", json={"address": "aad-carol-0001"})
    assert linked.status_code == 200
    return connector


def activity(peer_url: str, value: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "id": fields.pop("id", "1700000009001"),
        "channelId": "msteams",
        "serviceUrl": f"{peer_url}/teams/",
        "from": {"id": "29:1carol", "name": "Carol Jones", "aadObjectId": "aad-carol-0001"},
        "conversation": {"id": "a:1chat1", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "recipient": {"id": f"28:{APP_ID}"},
        **({"value": value} if value is not None else {}),
        **fields,
    }


async def send(
    api: httpx.AsyncClient, teams: BotConnector, clock: FakeClock, body: dict[str, Any],
    **token: Any,
) -> httpx.Response:  # fmt: skip
    jwt_ = teams.token(token.pop("aud", APP_ID), token.pop("service_url", body["serviceUrl"]),
                       now=clock.now().timestamp(), **token)  # fmt: skip
    return await api.post(
        "/hooks/teams/teams/messages", json=body, headers={"Authorization": f"Bearer {jwt_}"}
    )


async def test_a_card_is_answered_from_teams_and_updated(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str,
    teams: BotConnector,
) -> None:  # fmt: skip
    request = (
        await api.post(
            "/v1/requests",
            json={
                "prompt": "Approve the change window?",
                "kind": "confirmation",
                "assignee": "user:carol",
            },
        )
    ).json()
    assert await services.dispatcher.run_due() == 1
    token_call = next(r for r in peer.received if r.path.endswith("/token"))
    assert "client_secret=bot-client-secret" in token_call.body.decode()
    assert "scope=https%3A%2F%2Fapi.botframework.com%2F.default" in token_call.body.decode()
    start, post = [r for r in peer.received if r.path.startswith("/teams/v3/")]
    assert start.json()["members"] == [{"id": "aad-carol-0001"}]
    assert start.json()["bot"] == {"id": f"28:{APP_ID}"} and start.json()["tenantId"] == TENANT
    assert post.path == "/teams/v3/conversations/a:1chat1/activities"
    assert post.headers["authorization"] == "Bearer bot-access-token"
    card = post.json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    submits = [a for a in card["content"]["actions"] if a["type"] == "Action.Submit"]
    assert [(a["title"], a["data"]["inloop"]["answer"]) for a in submits] == [
        ("Yes", True),
        ("No", False),
    ]

    answered = await send(api, teams, clock, activity(peer_url, submits[0]["data"]))
    assert answered.status_code == 200, answered.text
    closed = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (closed["response"], closed["resolved_by"]) == (True, "user:carol")
    assert closed["responded_via"]["aad_object_id"] == "aad-carol-0001"
    assert closed["responded_via"]["user_id"] == "29:1carol"
    await services.dispatcher.run_due()
    (update,) = [r for r in peer.received if r.method == "PUT"]
    assert update.path == "/teams/v3/conversations/a:1chat1/activities/1700000000002"
    texts = [b.get("text") for b in update.json()["attachments"][0]["content"]["body"]]
    assert "✔ Confirmed in Teams by Carol Jones" in texts

    again = await send(
        api, teams, clock, activity(peer_url, submits[1]["data"], id="1700000009002")
    )
    assert again.status_code == 200
    await services.dispatcher.run_due()
    reply = [r for r in peer.received if r.path.endswith("/activities/1700000009002")]
    assert reply and reply[0].json()["text"] == "Already closed: Confirmed in Teams by Carol Jones."


async def test_tokens_that_are_not_the_connectors_are_refused(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer_url: str,
    teams: BotConnector,
) -> None:  # fmt: skip
    """A forged signature, another bot's audience, an expired token, a serviceUrl that is
    not the activity's, a key not endorsed for the channel, no token: all 401."""
    body = activity(peer_url, {"inloop": {"request_id": "req_x", "answer": True}})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        {"key": other},
        {"aud": "another-bot"},
        {"exp": int(clock.now().timestamp()) - 301},
        {"service_url": "https://evil.example/"},
        {"iss": "https://sts.windows.net/x/"},
    ]
    for token in cases:
        refused = await send(api, teams, clock, body, **token)
        assert refused.status_code == 401, (token, refused.text)
    services.teams_inbound.auth.state.clear()  # keys are kept a day: fetch the new ones
    teams.endorsements = ["skype"]
    assert (await send(api, teams, clock, body)).status_code == 401
    bare = await api.post("/hooks/teams/teams/messages", json=body)
    assert bare.status_code == 401 and bare.json()["error"]["field"] == "Authorization"


async def test_a_reply_in_a_channel_thread_answers_a_chat_request(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str,
    teams: BotConnector,
) -> None:  # fmt: skip
    """A request posted in a Teams channel (its own destination) takes a threaded reply."""
    request = (await api.post("/v1/requests", json={
        "prompt": "Ready to proceed?", "kind": "chat",
        "channels": [{"channel": "teams", "to": "19:abc123@thread.tacv2", "tenant_id": TENANT}],
    })).json()  # fmt: skip
    await services.dispatcher.run_due()
    (start,) = [r for r in peer.received if r.path == "/teams/v3/conversations"]
    assert start.json()["channelData"] == {
        "channel": {"id": "19:abc123@thread.tacv2"},
        "tenant": {"id": TENANT},
    }
    assert start.json()["isGroup"] is True
    reply = activity(
        peer_url,
        text="<at>Inloop</at> yes, go",
        conversation={
            "id": "19:abc123@thread.tacv2;messageid=1700000000001",
            "conversationType": "channel",
        },
    )
    assert (await send(api, teams, clock, reply)).status_code == 200
    closed = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (closed["response"], closed["resolved_by"]) == ("yes, go", "user:carol")
    assert json.loads(json.dumps(closed["responded_via"]))["conversation_id"].startswith(
        "19:abc123"
    )
