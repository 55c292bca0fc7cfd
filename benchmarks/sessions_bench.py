"""Agent session state updates: the seed's ``update_state`` through the service layer.

``session_updates`` runs ``total`` updates from ``concurrency`` loops, twice: every loop
on one hot session (each update waits for the session's row lock, and merges into what
the previous one wrote) and spread over one session per loop. Each update sets its own
key, and the run checks afterwards that none was lost.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from benchmarks._report import Metric, latency_metrics
from inloop.domain.agent_sessions import StateUpdate
from inloop.domain.identity import Principal
from inloop.server.config import Settings
from inloop.server.services import Services, build_services

SHAPES = {"one session": True, "a session per loop": False}


async def session_updates(
    backend: str, database_url: str, *, total: int, concurrency: int
) -> list[Metric]:
    token = secrets.token_urlsafe(16)
    services = build_services(Settings(database_url=database_url, admin_token=token))
    metrics: list[Metric] = []
    try:
        admin = await services.identity.authenticate(token)
        for shape, hot in SHAPES.items():
            ids = ["hot"] if hot else [f"own-{n}" for n in range(concurrency)]
            elapsed, latencies = await _run(services, admin, ids, total, concurrency)
            kept = 0
            for session_id in ids:
                kept += len((await services.agent_sessions.get(admin, session_id)).state)
            assert kept == total, f"{total - kept} keys lost"
            note = f"{total} updates, {concurrency} loops, {shape}, {elapsed:.2f} s, none lost"
            metrics.append(
                Metric("session_updates", backend, f"updates/s ({shape})", total / elapsed,
                       "/s", None, note)
            )  # fmt: skip
            metrics += latency_metrics("session_updates", backend, f"update ({shape})", latencies)
    finally:
        services.close()
    return metrics


async def _run(
    services: Services, admin: Principal, ids: list[str], total: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def loop(n: int) -> None:
        session_id = ids[n % len(ids)]
        for i in counter:
            update = StateUpdate(state={f"k{i}": i}, reasoning=f"update {i}")
            started = time.perf_counter()
            await services.agent_sessions.update_state(admin, session_id, update)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(concurrency)))
    return time.perf_counter() - started, latencies
