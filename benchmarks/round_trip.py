"""Round trips: an agent asks, parks on the answer, a human answers, the agent wakes.

``service_round_trip`` drives the service layer in this process; ``http_round_trip``
drives a real server process over HTTP/1.1 keep-alive, as agents and a desk would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx

from benchmarks._report import Metric, Target, latency_metrics
from benchmarks._server import ServerProcess
from inloop.domain import NewRequest, Scope, Status
from inloop.domain.identity import Principal
from inloop.server.config import Settings
from inloop.server.services import Services, build_services

SERVICE_TARGET = Target(">=", 1000)
HTTP_TARGET = Target(">=", 400)
WAKE_P99_TARGET = Target("<", 20)
BUDGET_SECONDS = 300.0  # a stuck run is cut off rather than left hanging
WAIT_TIMEOUT = 30.0


async def _loops(concurrency: int, total: int, one: object) -> float:
    """Run ``one(i)`` for i in 0..total-1 from ``concurrency`` loops; the seconds it took."""
    assert callable(one)
    counter = iter(range(total))

    async def loop() -> None:
        for i in counter:
            await one(i)

    started = time.perf_counter()
    async with asyncio.timeout(BUDGET_SECONDS):
        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return time.perf_counter() - started


def _new_request(i: int) -> NewRequest:
    return NewRequest.model_validate(
        {"kind": "approval", "prompt": f"Deploy build {i} to production?", "priority": "high"}
    )


async def service_round_trip(
    backend: str, database_url: str, *, total: int, concurrency: int
) -> list[Metric]:
    """Create, park a waiter, respond, and see the waiter wake, all through the services."""
    token = secrets.token_urlsafe(16)
    services = build_services(Settings(database_url=database_url, admin_token=token))
    try:
        principal = await services.identity.authenticate(token)
        assert principal == Principal(actor=principal.actor, scopes=frozenset({Scope.ADMIN}))
        round_trips: list[float] = []
        wakes: list[float] = []

        async def one(i: int) -> None:
            started = time.perf_counter()
            request, _ = await services.requests.create(principal, _new_request(i))
            waiter = asyncio.create_task(
                services.requests.wait(principal, request.id, timeout=WAIT_TIMEOUT)
            )
            await _parked(services, waiter)
            await services.requests.respond(principal, request.id, "approve")
            responded = time.perf_counter()
            answered = await waiter
            woke = time.perf_counter()
            if answered.status != Status.RESOLVED:
                raise RuntimeError(f"the waiter woke to {answered.status}, not resolved")
            round_trips.append(woke - started)
            wakes.append(woke - responded)

        await _loops(concurrency, min(50, total), one)  # warm-up: pools, caches, JIT-less paths
        round_trips.clear()
        wakes.clear()
        elapsed = await _loops(concurrency, total, one)
    finally:
        services.close()
    name = "service_round_trip"
    note = f"{total} round trips, {concurrency} concurrent loops, {elapsed:.2f} s"
    return [
        Metric(name, backend, "round trips/s", total / elapsed, "/s", SERVICE_TARGET, note),
        *latency_metrics(name, backend, "round trip", round_trips),
        *latency_metrics(name, backend, "wake latency", wakes),
    ]


async def _parked(services: Services, waiter: asyncio.Task[object]) -> None:
    # wait() puts its future in the hub before its first await, so one turn of the loop
    # parks it; the check keeps the measurement honest should that ever change.
    await asyncio.sleep(0)
    if services.hub.waiting == 0 and not waiter.done():
        raise RuntimeError("the waiter did not park in the hub before the answer")


async def http_round_trip(
    backend: str,
    database_url: str,
    workdir: Path,
    *,
    total: int,
    agents: int,
    park_delay: float,
) -> list[Metric]:
    """``agents`` concurrent agents over HTTP; a separate human client answers each request.

    Each agent creates a request, sends GET /wait, and ``park_delay`` seconds later the
    human answers. Wake latency runs from the human's response arriving to the agent's
    long-poll response arriving. The server counts, per answer, whether the long-poll was
    parked in its hub when the answer committed; only those count for wake latency.
    """
    name = "http_round_trip"
    with ServerProcess(database_url, workdir, instrumented=True) as server:
        timeout = httpx.Timeout(WAIT_TIMEOUT + 10)
        clients = [
            httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=timeout)
            for _ in range(agents)
        ]
        human = httpx.AsyncClient(
            base_url=server.url,
            headers=server.headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=agents, max_keepalive_connections=agents),
        )
        wakes: dict[str, float] = {}
        round_trips: list[float] = []
        free = asyncio.Queue[httpx.AsyncClient]()
        for client in clients:
            free.put_nowait(client)

        async def one(i: int) -> None:
            agent = await free.get()
            try:
                started = time.perf_counter()
                created = await agent.post(
                    "/v1/requests",
                    json={"kind": "approval", "prompt": f"Deploy build {i}?", "priority": "high"},
                )
                created.raise_for_status()
                request_id = created.json()["id"]
                waiter = asyncio.create_task(
                    agent.get(f"/v1/requests/{request_id}/wait", params={"timeout": WAIT_TIMEOUT})
                )
                await asyncio.sleep(park_delay)
                answered = await human.post(
                    f"/v1/requests/{request_id}/respond", json={"response": "approve"}
                )
                responded = time.perf_counter()
                answered.raise_for_status()
                woke_response = await waiter
                woke = time.perf_counter()
                woke_response.raise_for_status()
                if woke_response.json()["status"] != "resolved":
                    raise RuntimeError(f"the long-poll returned {woke_response.text[:200]}")
                round_trips.append(woke - started)
                wakes[request_id] = woke - responded
            finally:
                free.put_nowait(agent)

        try:
            await _loops(agents, min(100, total), one)  # warm-up: connections, caches
            warm = (await human.get("/_bench/wakeups")).json()
            wakes.clear()
            round_trips.clear()
            elapsed = await _loops(agents, total, one)
            counts = (await human.get("/_bench/wakeups")).json()
        finally:
            for client in [*clients, human]:
                await client.aclose()
    unparked = set(counts["unparked"]) - set(warm["unparked"])
    parked = [seconds for request_id, seconds in wakes.items() if request_id not in unparked]
    note = (
        f"{total} round trips, {agents} agents, respond {park_delay * 1000:g} ms after "
        f"the wait was sent, {elapsed:.2f} s; long-poll parked before the answer: "
        f"{len(parked)}/{len(wakes)}"
    )
    return [
        Metric(name, backend, "round trips/s", total / elapsed, "/s", HTTP_TARGET, note),
        *latency_metrics(name, backend, "round trip", round_trips),
        *latency_metrics(name, backend, "wake latency", parked, p99=WAKE_P99_TARGET),
    ]
