"""Durable agent runs over HTTP: ``client.runs``, sync and async.

``start``, ``list``, ``get`` (the timeline), ``cancel`` and ``wait`` are for people and
scripts; ``claim``, ``complete`` and the ``once`` calls are what a worker uses (see
``inloop.runtime``). Each is one call; the clients supply ``_send``.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx

from inloop.client._calls import Call, json_body, one, query, read, segment
from inloop.domain.runs import (
    NOT_RECORDED,
    CompletionResult,
    OnceValue,
    Run,
    RunEvent,
    RunStatus,
    RunTimeline,
)
from inloop.errors import NotFoundError
from inloop.models import Page

T = TypeVar("T")

#: The longest a claim may park on the server, in seconds.
MAX_CLAIM_WAIT = 60.0


def _runs_page(response: httpx.Response) -> Page[Run]:
    body = response.json()
    return Page([read(Run, item) for item in body["items"]], body.get("next_cursor"))


def _events(response: httpx.Response) -> list[RunEvent]:
    return [read(RunEvent, item) for item in response.json()["items"]]


def _results(response: httpx.Response) -> list[CompletionResult]:
    return [read(CompletionResult, item) for item in response.json()["items"]]


def start_call(agent: str, type: str, payload: dict[str, Any]) -> Call[Run]:
    body = {"agent": agent, "start_event": {"type": type, "payload": payload}}
    return Call("POST", "/v1/runs", one(Run), body=body)


def list_call(
    agent: str | None,
    status: RunStatus | str | Sequence[RunStatus | str] | None,
    limit: int | None,
    cursor: str | None,
) -> Call[Page[Run]]:
    params = query({"agent": agent, "status": status, "limit": limit, "cursor": cursor})
    return Call("GET", "/v1/runs", _runs_page, params=params)


def get_call(id: str) -> Call[RunTimeline]:
    return Call("GET", f"/v1/runs/{segment(id)}", one(RunTimeline))


def cancel_call(id: str, reason: str | None) -> Call[Run]:
    body = json_body({"reason": reason})
    return Call("POST", f"/v1/runs/{segment(id)}/cancel", one(Run), body=body)


def wait_call(id: str, timeout: float, paused: bool = False) -> Call[Run]:
    params: dict[str, Any] = {"timeout": timeout}
    if paused:
        params["paused"] = "true"
    return Call(
        "GET",
        f"/v1/runs/{segment(id)}/wait",
        one(Run),
        params=params,
        holds_for=timeout,
    )


def claim_call(
    agents: Sequence[str], worker: str, limit: int, lease: float, wait: float
) -> Call[list[RunEvent]]:
    body = {"agents": list(agents), "worker": worker, "limit": limit, "lease": lease, "wait": wait}
    return Call("POST", "/v1/run-events/claim", _events, body=body, holds_for=wait)


def complete_call(items: Sequence[dict[str, Any]]) -> Call[list[CompletionResult]]:
    return Call("POST", "/v1/run-events/complete", _results, body={"items": list(items)})


def renew_call(worker: str, event_ids: Sequence[int], lease: float) -> Call[list[int]]:
    body = {"worker": worker, "event_ids": list(event_ids), "lease": lease}
    return Call("POST", "/v1/run-events/renew", lambda r: list(r.json()["event_ids"]), body=body)


def once_get_call(run_id: str, key: str) -> Call[OnceValue]:
    return Call("GET", f"/v1/runs/{segment(run_id)}/once/{segment(key)}", one(OnceValue))


def once_record_call(run_id: str, key: str, value: Any) -> Call[OnceValue]:
    path = f"/v1/runs/{segment(run_id)}/once/{segment(key)}"
    return Call("PUT", path, one(OnceValue), body={"value": value})


class Runs:
    """``client.runs`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def start(self, agent: str, type: str, payload: dict[str, Any] | None = None) -> Run:
        """Start a run of ``agent`` with a start event of ``type``; a worker runs it."""
        result: Run = self._send(start_call(agent, type, payload or {}))
        return result

    def list(
        self,
        *,
        agent: str | None = None,
        status: RunStatus | str | Sequence[RunStatus | str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Run]:
        """One page of runs, newest first."""
        result: Page[Run] = self._send(list_call(agent, status, limit, cursor))
        return result

    def get(self, id: str) -> RunTimeline:
        """The run with its events and requests, oldest first."""
        result: RunTimeline = self._send(get_call(id))
        return result

    def cancel(self, id: str, *, reason: str | None = None) -> Run:
        """Cancel an open run and its open requests."""
        result: Run = self._send(cancel_call(id, reason))
        return result

    def wait(self, id: str, *, timeout: float = 30.0, paused: bool = False) -> Run:
        """The run once it finishes (with ``paused``, or once it waits on humans only), or
        as it stands after ``timeout`` seconds (at most 600)."""
        result: Run = self._send(wait_call(id, timeout, paused))
        return result

    def claim(
        self,
        agents: Sequence[str],
        worker: str,
        *,
        limit: int = 100,
        lease: float = 300,
        wait: float = 0,
    ) -> builtins.list[RunEvent]:
        """Lease pending events of these agents (a worker's call)."""
        result: builtins.list[RunEvent] = self._send(claim_call(agents, worker, limit, lease, wait))
        return result

    def renew(
        self, worker: str, event_ids: Sequence[int], *, lease: float = 300
    ) -> builtins.list[int]:
        """Keep this worker's leases on events whose steps still run; the ids renewed."""
        result: builtins.list[int] = self._send(renew_call(worker, event_ids, lease))
        return result

    def complete(self, items: Sequence[dict[str, Any]]) -> builtins.list[CompletionResult]:
        """Report step completions (a worker's call); each succeeds or fails alone."""
        result: builtins.list[CompletionResult] = self._send(complete_call(items))
        return result

    def recorded(self, run_id: str, key: str) -> tuple[bool, Any]:
        """(True, value) if ``ctx.once(key)`` recorded a value for the run, else (False, None)."""
        try:
            found: OnceValue = self._send(once_get_call(run_id, key))
        except NotFoundError as exc:
            if exc.code != NOT_RECORDED:
                raise
            return False, None
        return True, found.value

    def record(self, run_id: str, key: str, value: Any) -> Any:
        """Record a once-value; returns the value that stands (the first one recorded)."""
        result: OnceValue = self._send(once_record_call(run_id, key, value))
        return result.value


class AsyncRuns:
    """``client.runs`` of an ``AsyncClient``; see ``Runs``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def start(self, agent: str, type: str, payload: dict[str, Any] | None = None) -> Run:
        """Start a run of ``agent`` with a start event of ``type``; a worker runs it."""
        result: Run = await self._send(start_call(agent, type, payload or {}))
        return result

    async def list(
        self,
        *,
        agent: str | None = None,
        status: RunStatus | str | Sequence[RunStatus | str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Run]:
        """One page of runs, newest first."""
        result: Page[Run] = await self._send(list_call(agent, status, limit, cursor))
        return result

    async def get(self, id: str) -> RunTimeline:
        """The run with its events and requests, oldest first."""
        result: RunTimeline = await self._send(get_call(id))
        return result

    async def cancel(self, id: str, *, reason: str | None = None) -> Run:
        """Cancel an open run and its open requests."""
        result: Run = await self._send(cancel_call(id, reason))
        return result

    async def wait(self, id: str, *, timeout: float = 30.0, paused: bool = False) -> Run:
        """The run once it finishes (with ``paused``, or once it waits on humans only), or
        as it stands after ``timeout`` seconds (at most 600)."""
        result: Run = await self._send(wait_call(id, timeout, paused))
        return result

    async def claim(
        self,
        agents: Sequence[str],
        worker: str,
        *,
        limit: int = 100,
        lease: float = 300,
        wait: float = 0,
    ) -> builtins.list[RunEvent]:
        """Lease pending events of these agents (a worker's call)."""
        call = claim_call(agents, worker, limit, lease, wait)
        result: builtins.list[RunEvent] = await self._send(call)
        return result

    async def renew(
        self, worker: str, event_ids: Sequence[int], *, lease: float = 300
    ) -> builtins.list[int]:
        """Keep this worker's leases on events whose steps still run; the ids renewed."""
        result: builtins.list[int] = await self._send(renew_call(worker, event_ids, lease))
        return result

    async def complete(self, items: Sequence[dict[str, Any]]) -> builtins.list[CompletionResult]:
        """Report step completions (a worker's call); each succeeds or fails alone."""
        result: builtins.list[CompletionResult] = await self._send(complete_call(items))
        return result

    async def recorded(self, run_id: str, key: str) -> tuple[bool, Any]:
        """(True, value) if ``ctx.once(key)`` recorded a value for the run, else (False, None)."""
        try:
            found: OnceValue = await self._send(once_get_call(run_id, key))
        except NotFoundError as exc:
            if exc.code != NOT_RECORDED:
                raise
            return False, None
        return True, found.value

    async def record(self, run_id: str, key: str, value: Any) -> Any:
        """Record a once-value; returns the value that stands (the first one recorded)."""
        result: OnceValue = await self._send(once_record_call(run_id, key, value))
        return result.value
