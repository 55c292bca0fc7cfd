"""Seed 002's Bot-in-the-Loop examples, run through the Slack and Teams fakes: the
question is posted in the channel, a member's reply resumes the run with who they are,
and the iterative agent asks again until the answer is yes; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from examples.bot_in_the_loop import BotInTheLoopAgent, IterativeBotAgent, MyStartEvent

from inloop import AsyncClient, BotInTheLoop, SlackConfig, TeamsConfig
from inloop.domain.runs import RunStatus
from inloop.server.services import Services
from tests.channels.fakes import BotConnector, Peer, SlackApi, slack_signed
from tests.channels.test_slack import SIGNING, TOKEN
from tests.channels.test_teams import APP_ID, TENANT
from tests.channels.test_teams import activity as teams_activity
from tests.support import ADMIN_TOKEN, FakeClock


@pytest.fixture
async def sdk(services: Services) -> AsyncIterator[AsyncClient]:
    from inloop.server.app import create_app

    app = create_app(services.settings, services=services)
    async with AsyncClient(
        "http://inloop.test", ADMIN_TOKEN, transport=httpx.ASGITransport(app=app)
    ) as client:
        yield client


async def paused(sdk: AsyncClient, run_id: str) -> None:
    run = await sdk.runs.wait(run_id, timeout=30, paused=True)
    assert run.status == RunStatus.PAUSED, run


async def test_seed_import_paths_and_top_level_names() -> None:
    from inloop.events.agent.bitl.bot_in_the_loop import BotInTheLoop as Seed
    from inloop.events.agent.bitl.request.bot_in_the_loop_request_event import (
        SlackConfig as SeedSlack,
    )
    from inloop.events.agent.bitl.request.bot_in_the_loop_request_event import (
        TeamsConfig as SeedTeams,
    )

    assert (Seed, SeedSlack, SeedTeams) == (BotInTheLoop, SlackConfig, TeamsConfig)
    asked = BotInTheLoop.invoke(
        user="u-1", question="Go?", channel_config=SlackConfig(channel_id="C0123456789")
    )
    assert asked.request_body() == {
        "kind": "chat", "prompt": "Go?", "user_id": "u-1",
        "channels": [{"channel": "slack", "to": "C0123456789"}],
    }  # fmt: skip
    with pytest.raises(Exception, match="needs channel_config"):
        BotInTheLoop.invoke(user="u", question="Go?")


async def test_slack_iterative_conversation(
    api: httpx.AsyncClient, sdk: AsyncClient, services: Services, clock: FakeClock,
    peer: Peer, peer_url: str,
) -> None:  # fmt: skip
    """Asked in #C0123456789; "no" in the thread asks again; "yes" ends the run, with the
    Slack responder."""
    peer.reset(SlackApi())
    await api.post("/v1/channels", json={"name": "slack", "kind": "slack",
        "config": {"api_url": f"{peer_url}/api/"},
        "secrets": {"bot_token": TOKEN, "signing_secret": SIGNING}})  # fmt: skip
    await api.post("/v1/users", json={"handle": "alice", "name": "Alice Smith"})
    await api.put("/v1/users/alice/channels/slack", json={"address": "U0ALICE"})
    config = SlackConfig(channel_id="C0123456789", service_url="https://slack.botframework.com")
    async with IterativeBotAgent(sdk) as agent:
        handle = await agent.run(MyStartEvent(user="u-42", channel_config=config))
        for answer, question in (("no", "Should the agent proceed with the deployment?"),
                                 ("Yes", "What about now? Ready to proceed?")):  # fmt: skip
            await paused(sdk, handle.id)
            await services.dispatcher.run_due()
            post = [r for r in peer.received if r.path == "/api/chat.postMessage"][-1].json()
            assert (
                post["channel"] == "C0123456789" and post["blocks"][2]["text"]["text"] == question
            )
            ts = f"1767600000.{len([r for r in peer.received if r.path == '/api/chat.postMessage']):06d}"
            body = json.dumps({"type": "event_callback", "event_id": f"Ev{answer}", "team_id": "T0",
                "event": {"type": "message", "channel": "C0123456789", "user": "U0ALICE",
                          "text": answer, "ts": "1767600500.000001", "thread_ts": ts}}).encode()  # fmt: skip
            sent = await api.post("/hooks/slack/slack/events", content=body,
                                  headers=slack_signed(SIGNING, body, clock.now().timestamp()))  # fmt: skip
            assert sent.status_code == 200
        result = await asyncio.wait_for(handle.result(), 30)
    assert result["answer"] == "Yes"
    responder = result["responder"]
    assert (responder["user_id"], responder["user_name"]) == ("U0ALICE", "U0ALICE")
    assert responder["additional_info"]["platform"] == "slack"
    assert responder["additional_info"]["inloop_user"] == "alice"
    assert responder["aad_object_id"] is None
    timeline = await sdk.runs.get(handle.id)
    assert [r.user_id for r in timeline.requests] == ["u-42", "u-42"]
    await services.dispatcher.run_due()
    updates = [r.json() for r in peer.received if r.path == "/api/chat.update"]
    assert [u["text"] for u in updates][-1].endswith("Answered in Slack by Alice Smith")


async def test_teams_basic_usage_keeps_the_aad_object_id(
    api: httpx.AsyncClient, sdk: AsyncClient, services: Services, clock: FakeClock,
    peer: Peer, peer_url: str,
) -> None:  # fmt: skip
    """Seed 002's basic agent in a Teams channel: the reply's sender, with their AAD
    object id, is the run's responder."""
    connector = BotConnector(peer_url)
    peer.reset(connector)
    await api.post("/v1/channels", json={"name": "teams", "kind": "teams", "config": {
        "app_id": APP_ID, "service_url": f"{peer_url}/teams/",
        "token_url": f"{peer_url}/login/oauth2/v2.0/token",
        "openid_metadata": f"{peer_url}/botframework/v1/.well-known/openidconfiguration"},
        "secrets": {"app_password": "pw"}})  # fmt: skip
    await api.post("/v1/users", json={"handle": "carol", "name": "Carol Jones"})
    await api.put("/v1/users/carol/channels/teams", json={"address": "aad-carol-0001"})
    config = TeamsConfig(channel_id="19:abc123@thread.tacv2", tenant_id=TENANT, bot_id=APP_ID)
    async with BotInTheLoopAgent(sdk) as agent:
        handle = await agent.run(MyStartEvent(user="u-7", channel_config=config))
        await paused(sdk, handle.id)
        await services.dispatcher.run_due()
        (start,) = [r for r in peer.received if r.path == "/teams/v3/conversations"]
        body: dict[str, Any] = start.json()
        assert body["channelData"] == {
            "channel": {"id": "19:abc123@thread.tacv2"},
            "tenant": {"id": TENANT},
        }
        texts = [
            b["text"]
            for b in body["activity"]["attachments"][0]["content"]["body"]
            if b["type"] == "TextBlock"
        ]
        assert "Should the agent proceed with the deployment?" in texts
        reply = teams_activity(
            peer_url,
            text="<at>Inloop</at> Go ahead",
            conversation={
                "id": "19:abc123@thread.tacv2;messageid=1700000000001",
                "conversationType": "channel",
            },
        )
        token = connector.token(APP_ID, reply["serviceUrl"], now=clock.now().timestamp())
        sent = await api.post("/hooks/teams/teams/messages", json=reply,
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert sent.status_code == 200, sent.text
        result = await asyncio.wait_for(handle.result(), 30)
    assert result["answer"] == "Go ahead"
    responder = result["responder"]
    assert (responder["user_id"], responder["user_name"]) == ("29:1carol", "Carol Jones")
    assert responder["aad_object_id"] == "aad-carol-0001"
    assert responder["additional_info"]["tenant_id"] == TENANT
