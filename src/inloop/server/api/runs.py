"""``/v1/runs``: durable agent runs; ``/v1/run-events``: what workers claim and complete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from inloop.domain.runs import (
    Claim,
    CompletionResult,
    Completions,
    NewRun,
    OnceRecord,
    OnceValue,
    Renewal,
    Run,
    RunEvent,
    RunStatus,
    RunTimeline,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, json

runs = APIRouter(prefix="/v1/runs", tags=["runs"])
workers = APIRouter(prefix="/v1/run-events", tags=["runs"])


class RunPage(BaseModel):
    items: list[Run]
    next_cursor: str | None


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


class Claimed(BaseModel):
    items: list[RunEvent]


class CompletionResults(BaseModel):
    items: list[CompletionResult]


@runs.post("", status_code=201, response_model=Run)
async def start_run(new: NewRun, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Start a run of an agent with its start event; a worker serving the agent runs it."""
    return json(await services.runs.start(principal, new), 201)


@runs.get("", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    principal: PrincipalDep,
    agent: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Response:
    """Runs, newest first: the caller's own (an admin sees all)."""
    found, next_cursor = await services.runs.list_runs(
        principal, agent=agent, status=status, limit=limit, cursor=cursor
    )
    return json(RunPage(items=found, next_cursor=next_cursor))


@runs.get("/{run_id}", response_model=RunTimeline)
async def get_run(run_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """The run with its timeline: every event, and the requests it asked (who answered, when)."""
    return json(await services.runs.timeline(principal, run_id))


@runs.post("/{run_id}/cancel", response_model=Run, responses={409: {"description": "Closed"}})
async def cancel_run(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Cancellation | None, Body()] = None,
) -> Response:
    """Cancel the run and its open requests."""
    reason = body.reason if body else None
    return json(await services.runs.cancel(principal, run_id, reason=reason))


@runs.get("/{run_id}/wait", response_model=Run)
async def wait_run(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    timeout: Annotated[float, Query(ge=0, le=600)] = 30.0,
    paused: Annotated[bool, Query(description="Also answer once it waits on humans")] = False,
) -> Response:
    """Long-poll: answers the moment the run finishes, or when ``timeout`` seconds pass."""
    return json(await services.runs.wait(principal, run_id, timeout, paused=paused))


@runs.get("/{run_id}/once/{key:path}", response_model=OnceValue)
async def get_once(
    run_id: str, key: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The value recorded for ``ctx.once(key, ...)``; 404 ``not_recorded`` if none yet. The
    key may hold ``/``."""
    return json(await services.runs.once(principal, run_id, key))


@runs.put("/{run_id}/once/{key:path}", response_model=OnceValue)
async def record_once(
    run_id: str, key: str, record: OnceRecord, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Record the value of ``ctx.once(key, ...)``: the first value recorded wins."""
    return json(await services.runs.record_once(principal, run_id, key, record.value))


@workers.post("/claim", response_model=Claimed)
async def claim(
    claim: Claim, request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Lease pending events of these agents to a worker; with ``wait``, a long-poll."""
    events = await services.runs.claim(principal, claim, request.is_disconnected)
    return json(Claimed(items=events))


class Renewed(BaseModel):
    event_ids: list[int]


@workers.post("/renew", response_model=Renewed)
async def renew(renewal: Renewal, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Keep the leases of events whose steps are still running (a worker's heartbeat)."""
    return json(Renewed(event_ids=await services.runs.renew(principal, renewal)))


@workers.post("/complete", response_model=CompletionResults)
async def complete(
    completions: Completions, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Record step completions; each item succeeds or fails (``event_done``) on its own."""
    results = await services.runs.complete(principal, completions.items)
    return json(CompletionResults(items=results))


router = APIRouter()
router.include_router(runs)
router.include_router(workers)
