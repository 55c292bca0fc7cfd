"""Who is told, where, and when: candidates by role and team on their chosen channels,
reminders and escalations telling again, the request's own channels, nothing twice."""

from __future__ import annotations

import httpx

from inloop.server.services import Services
from tests.channels.fakes import Peer, SlackApi
from tests.channels.test_slack import SIGNING, TOKEN
from tests.support import FakeClock


async def setup(api: httpx.AsyncClient, peer: Peer, peer_url: str) -> None:
    peer.reset(SlackApi())
    await api.post("/v1/channels", json={"name": "slack", "kind": "slack",
        "config": {"api_url": f"{peer_url}/api/"},
        "secrets": {"bot_token": TOKEN, "signing_secret": SIGNING}})  # fmt: skip
    await api.post("/v1/teams", json={"name": "payments"})
    for handle, role, slack_id, enabled in (
        ("ann", "ops", "U0ANN", True), ("ben", "ops", "U0BEN", False),
        ("cat", "lead", "U0CAT", True), ("dan", "ops", None, True),
    ):  # fmt: skip
        await api.post(
            "/v1/users", json={"handle": handle, "name": handle.title(), "roles": [role]}
        )
        if slack_id:
            body = {"address": slack_id, "enabled": enabled}
            await api.put(f"/v1/users/{handle}/channels/slack", json=body)
    await api.put("/v1/teams/payments/members/cat")


def posted(peer: Peer) -> list[str]:
    return [r.json()["channel"] for r in peer.received if r.path == "/api/chat.postMessage"]


async def test_reminders_and_escalations_tell_again_and_only_them(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    await setup(api, peer, peer_url)
    await api.post("/v1/requests", json={
        "prompt": "Refund?", "options": ["approve", "reject"], "assignee": "role:ops", "timeout": "1h",
        "escalation": {"action": "retry", "max_retries": 1, "remind_every": "20m"}})  # fmt: skip
    await services.dispatcher.run_due()
    assert posted(peer) == ["U0ANN"]  # ben turned Slack off; dan has no Slack address
    clock.advance(minutes=20)
    await services.scheduler.run_due()
    await services.dispatcher.run_due()
    assert posted(peer) == ["U0ANN", "U0ANN"]
    reminder = [r.json() for r in peer.received if r.path == "/api/chat.postMessage"][-1]
    assert reminder["text"].startswith("Reminder: still waiting for an answer")
    await services.dispatcher.run_due()
    assert len(posted(peer)) == 2  # nothing twice

    peer.reset(SlackApi())
    await api.post("/v1/requests", json={
        "prompt": "Wire $50k?", "options": ["approve", "reject"], "assignee": "role:ops", "timeout": "1h",
        "escalation": {"action": "escalate", "to": "team:payments"}})  # fmt: skip
    await services.dispatcher.run_due()
    clock.advance(hours=1, minutes=1)
    await services.scheduler.run_due()
    await services.dispatcher.run_due()
    # The first request's retry is due at the same moment: which of the two posts goes
    # first is not specified, so look at cat's own.
    to_cat = [
        r.json() for r in peer.received
        if r.path == "/api/chat.postMessage" and r.json()["channel"] == "U0CAT"
    ]  # fmt: skip
    assert len(to_cat) == 1 and to_cat[0]["text"].startswith("Escalated to you")


async def test_the_requests_own_channels_and_a_restart(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    """channels=[] tells nobody; a destination of its own gets one post; a restarted server
    sends nothing again."""
    from inloop.server.services import build_services

    await setup(api, peer, peer_url)
    await api.post("/v1/requests", json={"prompt": "Quiet", "assignee": "role:ops", "channels": []})
    await api.post("/v1/requests", json={"prompt": "Loud", "assignee": "role:ops",
                                         "channels": ["email", {"channel": "slack", "to": "C0OPS"}]})  # fmt: skip
    await services.dispatcher.run_due()
    assert posted(peer) == ["C0OPS"]
    restarted = build_services(services.settings, clock=clock)
    try:
        assert await restarted.dispatcher.run_due() == 0
    finally:
        restarted.close()
    bad = await api.post("/v1/requests", json={"prompt": "x", "channels": [{"channel": "slack"}]})
    assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("channels")
