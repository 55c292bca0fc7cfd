"""Round trips: an agent asks, parks on the answer, a human answers, the agent wakes.

``service_round_trip`` drives the service layer in this process; ``http_round_trip``
drives a real server process over HTTP/1.1 keep-alive, as agents and a desk would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from benchmarks._http import RawConnection
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


class Connection(Protocol):
    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]: ...
    async def close(self) -> None: ...


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


class _HttpxConnection:
    """httpx behind RawConnection's interface, for the comparison figure."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=body)
        return response.status_code, response.json()

    async def close(self) -> None:
        await self.client.aclose()


async def _connect(server: ServerProcess, client: str) -> Connection:
    if client == "raw":
        return await RawConnection.open(server.port, server.headers)
    timeout = httpx.Timeout(WAIT_TIMEOUT + 10)
    return _HttpxConnection(
        httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=timeout)
    )


async def http_round_trip(
    backend: str,
    database_url: str,
    workdir: Path,
    *,
    total: int,
    agents: int,
    client: str = "raw",
) -> list[Metric]:
    """``agents`` concurrent agents over HTTP/1.1 keep-alive; a human answers each request.

    Each agent creates a request and sends GET /wait on its own connection; as soon as the
    wait is sent, the human answers on a third connection. Wake latency runs from the
    moment the answer's transaction committed (the server's writer thread reads the wall
    clock right after COMMIT) to the agent's long-poll response arriving (the wall clock
    in this process; same machine, same clock). The server also reports, per answer,
    whether the long-poll was parked in its hub when the answer committed, and only those
    count for it. ``client`` is ``raw`` (the minimal client of
    ``_http.py``) or ``httpx``.
    """
    name = "http_round_trip" if client == "raw" else "http_round_trip_httpx"
    with ServerProcess(database_url, workdir, instrumented=True) as server:
        lanes = [[await _connect(server, client) for _ in range(3)] for _ in range(agents)]
        arrived: dict[str, float] = {}
        round_trips: list[float] = []

        async def lane(connections: list[Connection], jobs: Iterator[int]) -> None:
            agent, waiting, human = connections
            for i in jobs:
                started = time.perf_counter()
                status, created = await agent.request(
                    "POST",
                    "/v1/requests",
                    {"kind": "approval", "prompt": f"Deploy build {i}?", "priority": "high"},
                )
                if status != 201:
                    raise RuntimeError(f"create answered {status}: {created}")
                request_id = created["id"]
                waiter = asyncio.ensure_future(
                    waiting.request(
                        "GET", f"/v1/requests/{request_id}/wait?timeout={WAIT_TIMEOUT:g}"
                    )
                )
                await asyncio.sleep(0)  # the wait is on the wire before the answer
                status, _ = await human.request(
                    "POST", f"/v1/requests/{request_id}/respond", {"response": "approve"}
                )
                if status != 200:
                    raise RuntimeError(f"respond answered {status}")
                status, woke_with = await waiter
                woke = time.perf_counter()
                arrived[request_id] = time.time()
                if status != 200 or woke_with["status"] != "resolved":
                    raise RuntimeError(f"the long-poll returned {status}: {woke_with}")
                round_trips.append(woke - started)

        async def run(count: int) -> float:
            jobs = iter(range(count))
            started = time.perf_counter()
            async with asyncio.timeout(BUDGET_SECONDS):
                await asyncio.gather(*(lane(connections, jobs) for connections in lanes))
            return time.perf_counter() - started

        try:
            await run(min(100, total))  # warm-up: connections, caches
            _, warm = await lanes[0][0].request("GET", "/_bench/wakeups")
            arrived.clear()
            round_trips.clear()
            elapsed = await run(total)
            _, counts = await lanes[0][0].request("GET", "/_bench/wakeups")
        finally:
            for connections in lanes:
                for connection in connections:
                    await connection.close()
    unparked = set(counts["unparked"]) - set(warm["unparked"])
    committed = counts["committed"]
    parked = [
        at - committed[request_id]
        for request_id, at in arrived.items()
        if request_id not in unparked
    ]
    note = (
        f"{total} round trips, {agents} agents ({client} HTTP/1.1 client), {elapsed:.2f} s; "
        f"long-poll parked before the answer: {len(parked)}/{len(arrived)}"
    )
    target = HTTP_TARGET if client == "raw" else None
    return [
        Metric(name, backend, "round trips/s", total / elapsed, "/s", target, note),
        *latency_metrics(name, backend, "round trip", round_trips),
        *latency_metrics(
            name, backend, "wake latency", parked, p99=WAKE_P99_TARGET if target else None
        ),
    ]
