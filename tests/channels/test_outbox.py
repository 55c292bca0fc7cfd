"""The outbox: webhook deliveries written with the change that causes them, sent by the
dispatcher, signed, retried with backoff on the fake clock, dead-lettered, replayed,
never sent twice for one intent; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest

from inloop.domain.deliveries import NewDelivery
from inloop.server.services import Services
from tests.channels.fakes import Peer, signature_ok
from tests.support import FakeClock

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def hook(api: httpx.AsyncClient, url: str, **config: Any) -> dict[str, Any]:
    response = await api.post(
        "/v1/channels",
        json={
            "name": "ops-hook",
            "kind": "webhook",
            "config": {"url": f"{url}/hooks/inloop", **config},
            "secrets": {"signing_secret": SECRET},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def ask(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "Deploy v2?", "options": ["approve", "reject"], **fields}
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(api: httpx.AsyncClient, **query: Any) -> list[dict[str, Any]]:
    response = await api.get("/v1/deliveries", params=query)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_events_are_signed_and_delivered(
    api: httpx.AsyncClient, services: Services, peer: Peer, peer_url: str
) -> None:
    """Every audit event reaches a subscribed webhook once, signed (Standard Webhooks),
    with the event and the request as they stood."""
    await hook(api, peer_url)
    request = await ask(api)
    answered = await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    assert answered.status_code == 200
    assert await services.dispatcher.run_due() == 2
    assert [r.json()["type"] for r in peer.received] == ["request.created", "request.responded"]
    for got in peer.received:
        assert got.path == "/hooks/inloop"
        assert got.headers["content-type"] == "application/json"
        assert signature_ok(SECRET, got)
        assert not signature_ok("whsec_" + "A" * 32, got)
    closed = peer.received[1].json()["data"]
    assert closed["request"]["status"] == "resolved"
    assert closed["event"]["actor"] == "admin-token"
    assert await services.dispatcher.run_due() == 0  # nothing twice
    assert {d["status"] for d in await deliveries(api)} == {"delivered"}


async def test_one_requests_events_go_in_order_and_other_requests_alongside(
    api: httpx.AsyncClient, services: Services
) -> None:
    """A pass sends one request's deliveries to a channel one after another, in the order
    they were written, while other requests' deliveries go at the same time."""
    await hook(api, "http://peer.test")
    first, second = await ask(api), await ask(api)
    for request in (first, second):
        answered = await api.post(
            f"/v1/requests/{request['id']}/respond", json={"response": "approve"}
        )
        assert answered.status_code == 200
    arrived: list[tuple[str, str]] = []
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    second_arrived = asyncio.Event()

    async def receive(sent: httpx.Request) -> httpx.Response:
        body = json.loads(sent.content)
        request_id, kind = body["data"]["request"]["id"], body["type"]
        arrived.append((request_id, kind))
        in_flight[request_id] = in_flight.get(request_id, 0) + 1
        most[request_id] = max(most.get(request_id, 0), in_flight[request_id])
        if request_id == second["id"]:
            second_arrived.set()
        else:  # the first request's sends wait until the second's are under way
            await asyncio.wait_for(second_arrived.wait(), timeout=5)
        in_flight[request_id] -= 1
        return httpx.Response(200)

    services.dispatcher._http = httpx.AsyncClient(transport=httpx.MockTransport(receive))
    try:
        assert await services.dispatcher.run_due() == 4
    finally:
        await services.dispatcher._http.aclose()
        services.dispatcher._http = None
    for request in (first, second):
        assert [k for r, k in arrived if r == request["id"]] == [
            "request.created",
            "request.responded",
        ]
    assert most == {first["id"]: 1, second["id"]: 1}


async def test_a_receiver_that_is_down_gets_retries_then_a_dead_letter_then_a_replay(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    """503s are retried after growing delays (equal jitter), up to the last attempt; the
    delivery is then dead, kept with its log, and a replay delivers it with the same id."""
    await hook(api, peer_url, events=["request.created"])
    services.dispatcher.rng = lambda: 0.0  # the shortest delay of each jittered range
    peer.reset(503)
    await ask(api)
    started = services.clock.now()
    assert await services.dispatcher.run_due() == 1
    waits = []
    for _ in range(3):
        (pending,) = await deliveries(api)
        assert pending["status"] == "pending"
        due = pending["due_at"]
        waits.append(due)
        clock.advance(seconds=1)
        assert await services.dispatcher.run_due() == 0  # not due yet: no attempt
        clock.current = _parse(due)
        assert await services.dispatcher.run_due() == 1
    (dead,) = await deliveries(api)
    assert dead["status"] == "dead" and dead["attempts"] == 4
    assert "answered 503" in dead["last_error"]
    # 15 s base: 7.5, 15, 30 s (half of each doubling delay, with jitter 0)
    assert (_parse(waits[0]) - started).total_seconds() == 7.5
    gaps = [(_parse(b) - _parse(a)).total_seconds() for a, b in itertools.pairwise(waits)]
    assert gaps == [15.0, 30.0]
    detail = (await api.get(f"/v1/deliveries/{dead['id']}")).json()
    assert [a["outcome"] for a in detail["attempts_log"]] == ["failed"] * 3 + ["dead"]
    assert {a["status_code"] for a in detail["attempts_log"]} == {503}
    ids = {r.headers["webhook-id"] for r in peer.received}
    assert len(peer.received) == 4 and len(ids) == 1

    peer.reset(200)
    replayed = await api.post(f"/v1/deliveries/{dead['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    assert await services.dispatcher.run_due() == 1
    (done,) = await deliveries(api)
    assert done["status"] == "delivered" and done["replays"] == 1
    assert peer.received[-1].headers["webhook-id"] in ids
    detail = (await api.get(f"/v1/deliveries/{dead['id']}")).json()
    assert [(a["replay"], a["outcome"]) for a in detail["attempts_log"]][-1] == (1, "delivered")


async def test_unreachable_receiver_and_gone_endpoint(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer
) -> None:
    """No server at the URL is a failed attempt, retried; a 410 Gone is final at once."""
    await hook(api, "http://127.0.0.1:9", events=["request.created"])  # port 9: discard
    await ask(api)
    await services.dispatcher.run_due()
    (failed,) = await deliveries(api)
    assert failed["status"] == "pending" and "could not reach" in failed["last_error"]


async def test_gone_is_final_and_retry_after_is_honoured(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    """Retry-After (seconds) sets the least wait; 410 Gone makes a dead letter at once."""
    from starlette.responses import Response

    await hook(api, peer_url, events=["request.created"])
    peer.reset(Response(status_code=429, headers={"Retry-After": "600"}), 410)
    await ask(api)
    await services.dispatcher.run_due()
    (waiting,) = await deliveries(api)
    assert (_parse(waiting["due_at"]) - clock.now()).total_seconds() == 600
    clock.advance(seconds=600)
    await services.dispatcher.run_due()
    (dead,) = await deliveries(api)
    assert dead["status"] == "dead" and dead["attempts"] == 2


async def test_one_intent_is_one_delivery_across_restarts(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    """The same key enqueued twice is one delivery; a restarted server (new services on the
    same database) sends nothing again."""
    from inloop.server.services import build_services

    await hook(api, peer_url, events=[])
    new = NewDelivery(key="otp:sess_1:1", channel="webhook", event={"type": "otp.sent"})
    assert await services.db.write(lambda tx: services.deliveries.enqueue(tx, new)) is not None
    assert await services.db.write(lambda tx: services.deliveries.enqueue(tx, new)) is None
    assert await services.dispatcher.run_due() == 1
    restarted = build_services(services.settings, clock=clock)
    try:
        assert await restarted.db.write(lambda tx: restarted.deliveries.enqueue(tx, new)) is None
        assert await restarted.dispatcher.run_due() == 0
    finally:
        restarted.close()
    assert len(peer.received) == 1
    assert peer.received[0].headers["webhook-id"] == "otp:sess_1:1"


async def test_a_dispatcher_killed_mid_send_loses_nothing(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    """A delivery claimed by a dispatcher that died before recording the outcome is due
    again once its lease lapses, and another process sends it, with the same webhook-id."""
    from inloop.server.services import build_services

    await hook(api, peer_url, events=["request.created"])
    await ask(api)
    claimed = await services.db.write(services.dispatcher._claim, clock.now())
    assert len(claimed) == 1  # ...and the process dies here, mid-send
    restarted = build_services(services.settings, clock=clock)
    try:
        assert await restarted.dispatcher.run_due() == 0  # leased to the dead one
        clock.advance(minutes=2, seconds=1)
        assert await restarted.dispatcher.run_due() == 1
    finally:
        restarted.close()
    (done,) = await deliveries(api)
    assert done["status"] == "delivered" and done["attempts"] == 2
    assert [r.headers["webhook-id"] for r in peer.received] == [done["key"]]


async def test_a_rolled_back_change_delivers_nothing(
    api: httpx.AsyncClient, services: Services, peer: Peer, peer_url: str
) -> None:
    """A delivery enqueued by a transaction that fails is rolled back with it."""
    await hook(api, peer_url, events=[])
    new = NewDelivery(key="will-fail", channel="ops-hook", event={"type": "x"})

    def failing(tx: Any) -> None:
        services.deliveries.enqueue(tx, new)
        raise RuntimeError("the caller's change failed")

    with pytest.raises(RuntimeError):
        await services.db.write(failing)
    assert await deliveries(api) == []
    assert await services.dispatcher.run_due() == 0


async def test_callback_url_gets_the_close_signed_with_the_callback_secret(
    api: httpx.AsyncClient, services: Services, peer: Peer, peer_url: str
) -> None:
    """A request's callback_url is told once, when it closes."""
    request = await ask(api, callback_url=f"{peer_url}/agent/callback")
    await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "reject"})
    await services.dispatcher.run_due()
    (got,) = peer.received
    assert got.path == "/agent/callback"
    body = got.json()
    assert body["type"] == "request.closed"
    assert body["data"]["request"]["response"] == "reject"
    secret = (await api.get("/v1/channels/callback-secret")).json()["signing_secret"]
    assert signature_ok(secret, got)


async def test_sensitive_content_is_never_shown_and_erased_once_sent(
    api: httpx.AsyncClient, services: Services, peer: Peer, peer_url: str
) -> None:
    """A sensitive delivery (a one-time code) is stored encrypted, shown by the API as
    null, and erased once it is done with; a replay of it is refused."""
    from sqlalchemy import select

    from inloop.server.store.schema import deliveries as table

    await hook(api, peer_url, events=[])
    code = "code-481516"
    new = NewDelivery(
        key="otp:1", channel="ops-hook", event={"type": "otp", "code": code}, sensitive=True
    )
    await services.db.write(lambda tx: services.deliveries.enqueue(tx, new))
    stored = await services.db.read(lambda conn: conn.execute(select(table)).one())
    assert code not in str(stored._mapping)
    (shown,) = await deliveries(api)
    assert shown["payload"] is None and shown["sensitive"] is True
    await services.dispatcher.run_due()
    assert peer.received[0].json()["code"] == code
    stored = await services.db.read(lambda conn: conn.execute(select(table)).one())
    assert stored.sealed is None
    refused = await api.post(f"/v1/deliveries/{shown['id']}/replay")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "delivery_erased"


def _parse(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
