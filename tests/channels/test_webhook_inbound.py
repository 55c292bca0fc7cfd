"""A system answers over a webhook channel, signed as Inloop signs (Standard Webhooks):
the answer is the named user's, a replayed webhook-id and a forged one are refused."""

from __future__ import annotations

import json

import httpx

from inloop.server.channels.signing import sign
from inloop.server.services import Services
from tests.channels.test_outbox import SECRET
from tests.support import FakeClock


async def test_signed_answers_forged_and_replayed_ones(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await api.post("/v1/channels", json={"name": "helpdesk", "kind": "webhook",
        "config": {"url": "https://helpdesk.example/in", "events": []},
        "secrets": {"signing_secret": SECRET}})  # fmt: skip
    await api.post("/v1/users", json={"handle": "dana", "name": "Dana"})
    request = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Ship?", "options": ["approve", "reject"], "assignee": "user:dana"},
        )
    ).json()
    body = json.dumps({"type": "request.respond",
                       "data": {"request_id": request["id"], "response": "approve", "user": "dana"}}).encode()  # fmt: skip

    def post(secret: str = SECRET, msg_id: str = "msg_1", data: bytes = body) -> httpx.Response:
        headers = {"content-type": "application/json", **sign(secret, msg_id, clock.now(), data)}
        return api.post("/hooks/webhook/helpdesk", content=data, headers=headers)  # type: ignore[return-value]

    forged = await post(secret="whsec_" + "B" * 32)
    assert forged.status_code == 401 and forged.json()["error"]["field"] == "webhook-signature"
    answered = await post()
    assert answered.status_code == 200, answered.text
    assert (answered.json()["resolved_by"], answered.json()["responded_via"]["channel"]) == (
        "user:dana", "webhook",
    )  # fmt: skip
    replayed = await post()
    assert replayed.status_code == 409 and replayed.json()["error"]["code"] == "replayed"
    second = await post(msg_id="msg_2")
    assert second.status_code == 409 and second.json()["error"]["code"] == "request_closed"
    other = (
        await api.post("/v1/requests", json={"prompt": "Ship B?", "assignee": "user:erin"})
    ).json()
    odd = json.dumps(
        {
            "type": "request.respond",
            "data": {"request_id": other["id"], "response": "x", "user": "dana"},
        }
    ).encode()
    refused = await post(msg_id="msg_3", data=odd)
    assert refused.status_code == 403
    bad = await post(msg_id="msg_4", data=b'{"type": "nope"}')
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_webhook"
