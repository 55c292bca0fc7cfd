"""Routing a new request among 500 humans of one team, through the service layer.

Each request is created with ``{"strategy": ..., "pool": "team:big"}``; the time spent in
``Lifecycle.route`` inside the create transaction is the routing cost. Creating the same
request with no assignee is timed beside it, for the whole create's cost.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from benchmarks._report import Metric, Target, latency_metrics
from inloop.domain import NewRequest
from inloop.domain.identity import NewTeam, NewUser
from inloop.server.config import Settings
from inloop.server.services import Services, build_services
from inloop.server.store.database import Tx

ROUTE_TARGET = Target("<", 5)  # ms
TEAM = "big"


async def route_among(
    backend: str, database_url: str, *, humans: int, requests: int
) -> list[Metric]:
    token = secrets.token_urlsafe(16)
    services = build_services(Settings(database_url=database_url, admin_token=token))
    try:
        principal = await services.identity.authenticate(token)
        started = time.perf_counter()
        await services.identity.create_team(principal, NewTeam(name=TEAM))
        handles = [f"human{i:03d}" for i in range(humans)]
        for chunk in range(0, humans, 50):  # concurrent writes share group commits
            batch = handles[chunk : chunk + 50]
            await asyncio.gather(
                *(
                    services.identity.create_user(principal, NewUser(handle=h, name=h))
                    for h in batch
                )
            )
            await asyncio.gather(
                *(services.identity.set_member(principal, TEAM, h, member=True) for h in batch)
            )
        setup = time.perf_counter() - started
        routed = _time_route(services)
        metrics: list[Metric] = []
        name = "routing_500"
        note = f"{humans} humans in team:{TEAM} (created in {setup:.1f} s)"
        for label, assignee in (
            ("no routing", None),
            ("round_robin", {"strategy": "round_robin", "pool": f"team:{TEAM}"}),
            ("least_busy", {"strategy": "least_busy", "pool": f"team:{TEAM}"}),
        ):
            body: dict[str, Any] = {"kind": "approval", "prompt": "Refund order 1234?"}
            if assignee is not None:
                body["assignee"] = assignee
            new = NewRequest.model_validate(body)
            for _ in range(20):  # warm-up
                await services.requests.create(principal, new)
            routed.clear()
            creates: list[float] = []
            for _ in range(requests):
                started = time.perf_counter()
                request, _ = await services.requests.create(principal, new)
                creates.append(time.perf_counter() - started)
                assert (request.assigned_to is not None) == (assignee is not None)
            metrics += latency_metrics(name, backend, f"create, {label}", creates)
            if assignee is not None:
                metrics += [
                    Metric(**{**m.__dict__, "note": f"{m.note}; {note}"})
                    for m in latency_metrics(
                        name,
                        backend,
                        f"route, {label}",
                        routed,
                        p50=ROUTE_TARGET,
                        p99=ROUTE_TARGET,
                    )
                ]
        return metrics
    finally:
        services.close()


def _time_route(services: Services) -> list[float]:
    """Wrap ``Lifecycle.route`` to record how long each outermost call takes."""
    lifecycle = services.requests.lifecycle
    route: Callable[..., Any] = lifecycle.route
    seconds: list[float] = []
    depth = 0

    def timed(tx: Tx, request: Any, spec: Any, now: datetime) -> Any:
        nonlocal depth
        depth += 1
        started = time.perf_counter()
        try:
            return route(tx, request, spec, now)
        finally:
            depth -= 1
            if depth == 0 and spec is not None:
                seconds.append(time.perf_counter() - started)

    lifecycle.route = timed  # type: ignore[method-assign]
    return seconds
