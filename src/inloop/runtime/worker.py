"""Workers: claim a run's pending events, run the steps, send back what they emitted.

A worker claims events of the agents it serves in batches, leased to it; a long-poll on
the server wakes it the moment an event is appended (a run starts, a human answers). Each
event runs its step in a task of its own, up to ``concurrency`` at once, and completions
go back in batches. If the process dies, its leases run out and another worker claims
the events again: a step may run again, but it completes at most once (the server keeps
the first completion and refuses the others).

Failures: while the server is unreachable or failing (``RETRYABLE``), claims and
completions are tried again with a growing pause, and a step that met such an error is
run again rather than failing its run. What the server refuses for good (a step's
output it will not store) fails that step's run with the reason, never the worker.
Credentials the server refuses stop the worker with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from inloop.client import AsyncClient
from inloop.domain.errors import DomainError
from inloop.domain.runs import Completion, CompletionResult, RunEvent
from inloop.errors import (
    RETRYABLE,
    APIError,
    AuthenticationError,
    InloopError,
    PermissionDeniedError,
    UsageError,
)
from inloop.runtime.context import Context
from inloop.runtime.events import Event, StopEvent
from inloop.runtime.hitl import HumanInTheLoopRequestEvent

if TYPE_CHECKING:
    from inloop.runtime.agent import Agent

log = logging.getLogger("inloop.runtime")

MAX_COMPLETIONS = 1000
MAX_PAUSE = 30.0
#: Refusals that no retry mends and that would refuse every call: the worker stops.
_FATAL: tuple[type[InloopError], ...] = (AuthenticationError, PermissionDeniedError)
_NOT_REFUSALS: tuple[type[InloopError], ...] = (*RETRYABLE, *_FATAL)


class _Backoff:
    """Pauses that double from 0.1 s up to ``MAX_PAUSE`` while failures go on."""

    def __init__(self) -> None:
        self.pause = 0.1

    async def sleep(self) -> None:
        await asyncio.sleep(self.pause)
        self.pause = min(self.pause * 2, MAX_PAUSE)

    def reset(self) -> None:
        self.pause = 0.1


class _Retry(Exception):
    """A step met a RETRYABLE error: run it again later instead of failing its run."""


class Worker:
    """Serves one or more agents from one process."""

    def __init__(
        self,
        agents: Sequence[Agent],
        client: AsyncClient,
        *,
        concurrency: int = 256,
        batch: int = 256,
        lease: float = 300.0,
        poll: float = 30.0,
        name: str | None = None,
    ) -> None:
        if not agents:
            raise UsageError("a worker serves at least one agent")
        self.agents = {agent.agent_name: agent for agent in agents}
        if len(self.agents) != len(agents):
            raise UsageError("two of the agents have the same name")
        self.client = client
        self.concurrency = concurrency
        self.batch = min(batch, 1000)
        self.lease = lease
        self.poll = min(poll, 60.0)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        self.completed = 0  # steps completed by this worker (for logs and benchmarks)
        self._outbox: list[dict[str, Any]] = []
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[asyncio.Task[None], int] = {}
        self._stopping = False
        self._wake_claim = asyncio.Event()
        self._fatal: InloopError | None = None

    async def serve(self) -> None:
        """Run until cancelled or :meth:`stop`; raise if the server refuses the credentials."""
        sender = asyncio.create_task(self._send_completions())
        keeper = asyncio.create_task(self._keep_leases())
        try:
            await self._claim_loop()
        except asyncio.CancelledError:
            # Cancelled (the process is going away): steps still running stop here, and
            # their events go to another worker when the leases run out. A stop() instead
            # lets them finish.
            for task in self._tasks:
                task.cancel()
            raise
        finally:
            self._stopping = True
            keeper.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._ready.set()
            await asyncio.gather(sender, return_exceptions=True)
        if self._fatal is not None:
            raise self._fatal

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()
        self._wake_claim.set()

    def _fail(self, exc: InloopError) -> None:
        """Stop serving because of an error no retry can mend (refused credentials)."""
        log.error("worker %s stops: %s", self.name, exc)
        if self._fatal is None:
            self._fatal = exc
        self.stop()

    async def _claim_loop(self) -> None:
        names = list(self.agents)
        backoff = _Backoff()
        while not self._stopping:
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                events = await self._claim(names, free)
            except RETRYABLE as exc:
                log.warning("claim failed, retrying in %.1fs: %s", backoff.pause, exc)
                await backoff.sleep()
                continue
            except APIError as exc:  # credentials or a call the server will never take
                self._fail(exc)
                return
            backoff.reset()
            for event in events:
                task = asyncio.create_task(self._execute(event))
                self._tasks.add(task)
                self._running[task] = event.id
                task.add_done_callback(self._done)

    async def _claim(self, names: list[str], free: int) -> list[RunEvent]:
        """One claim, given up early when the worker is told to stop."""
        claim = asyncio.ensure_future(
            self.client.runs.claim(
                names, self.name, limit=min(free, self.batch), lease=self.lease, wait=self.poll
            )
        )
        stopped = asyncio.ensure_future(self._wake_claim.wait())
        try:
            await asyncio.wait({claim, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not claim.done():
            claim.cancel()  # leased events of a cancelled claim go back when the lease ends
            with contextlib.suppress(asyncio.CancelledError, InloopError):
                await claim
            return []
        return claim.result()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._running.pop(task, None)

    async def _keep_leases(self) -> None:
        """Renew the leases of steps still running, every third of a lease, so a long
        step is not claimed again by another worker while it runs here."""
        while True:
            await asyncio.sleep(self.lease / 3)
            ids = list(self._running.values())
            if not ids:
                continue
            try:
                await self.client.runs.renew(self.name, ids, lease=self.lease)
            except InloopError as exc:
                log.warning("lease renewal failed: %s", exc)

    async def _execute(self, event: RunEvent) -> None:
        agent = self.agents.get(event.agent)
        if agent is None:  # the server only gives us events of our agents
            return
        backoff = _Backoff()
        while True:
            try:
                item = await execute(agent, event, self.client)
                break
            except _Retry as retry:
                if self._stopping:  # the lease runs out and another worker runs it again
                    return
                log.warning(
                    "step of run %s met %s; running it again in %.1fs",
                    event.run_id,
                    retry.__cause__,
                    backoff.pause,
                )
                await backoff.sleep()
        self._outbox.append(item)
        self._ready.set()

    async def _send_completions(self) -> None:
        backoff = _Backoff()
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox and self._fatal is None:
                items = self._outbox[:MAX_COMPLETIONS]
                try:
                    results = await self._complete(items)
                except RETRYABLE as exc:
                    log.warning("completion failed, retrying in %.1fs: %s", backoff.pause, exc)
                    await backoff.sleep()
                    continue
                except _FATAL as exc:
                    self._fail(exc)
                    break
                backoff.reset()
                del self._outbox[: len(items)]
                for result in results:
                    self._report(result)
            if self._fatal is not None or (self._stopping and not self._tasks):
                return

    async def _complete(self, items: list[dict[str, Any]]) -> list[CompletionResult]:
        """Send completions. A call refused as a whole (an item the server will not take)
        is sent again item by item, and an item refused alone fails its run, with the
        server's reason, so one bad step output never holds up the others."""
        try:
            return await self.client.runs.complete(items)
        except _NOT_REFUSALS:
            raise
        except APIError as exc:
            if len(items) > 1:
                return [result for item in items for result in await self._complete([item])]
            [item] = items
            if "error" in item:  # not even the failure could be recorded
                return [
                    CompletionResult(
                        event_id=item["event_id"], ok=False, code=exc.code, message=exc.message
                    )
                ]
            log.error("completion of event %s refused: %s", item["event_id"], exc)
            return await self._complete([_refused(item, exc.message)])

    def _report(self, result: CompletionResult) -> None:
        if result.ok:
            self.completed += 1
        elif result.code == "event_done":
            log.info("event %s was completed elsewhere: %s", result.event_id, result.message)
        else:
            log.error("completion of event %s refused: %s", result.event_id, result.message)


async def execute(agent: Agent, event: RunEvent, client: AsyncClient) -> dict[str, Any]:
    """Run the step that consumes ``event``; the completion to send (emitted or error).

    Raises ``_Retry`` if the step met a RETRYABLE error (the server was unreachable from
    inside the step, say from ``ctx.once``): the step should run again, not fail its run.
    """
    table = agent.dispatch()
    entry = table.by_name.get(event.type)
    if entry is None:
        return {
            "event_id": event.id,
            "step": "(none)",
            "error": f"{agent.agent_name} has no step consuming {event.type}: is this worker "
            "running another version of the agent?",
        }
    event_type, spec = entry
    try:
        parsed = event_type.model_validate(event.payload)
        kwargs: dict[str, Any] = {spec.event_param: parsed}
        if spec.ctx_param is not None:
            kwargs[spec.ctx_param] = Context(client, event.run_id, event.id, spec.name)
        result = spec.fn(agent, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        emitted = [_emitted(spec.name, spec.emits, e) for e in _as_list(result)]
    except RETRYABLE as exc:
        raise _Retry() from exc
    except Exception as exc:  # the step's own failure fails the run, with its traceback
        if isinstance(exc, InloopError) and not isinstance(exc, UsageError):
            log.warning("step %s of run %s: %s", spec.name, event.run_id, exc)
        text = "".join(traceback.format_exception(exc, limit=-8))
        return {"event_id": event.id, "step": spec.name, "error": text[-20_000:]}
    item = {"event_id": event.id, "step": spec.name, "emitted": emitted}
    try:  # the server's own checks, here, so a bad output fails the step with the reason
        Completion.model_validate(item)
    except (DomainError, ValidationError) as exc:
        return _refused(item, str(exc))
    return item


def _refused(item: dict[str, Any], reason: str) -> dict[str, Any]:
    """The completion that fails a step whose output the server would not store."""
    return {
        "event_id": item["event_id"],
        "step": item["step"],
        "error": f"step {item['step']} returned what the server refuses to store: {reason}"[
            :20_000
        ],
    }


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, list | tuple):
        return list(result)
    return [result]


def _emitted(step: str, declared: tuple[type[Event], ...], event: Any) -> dict[str, Any]:
    if not isinstance(event, Event):
        raise UsageError(f"step {step} returned {event!r}: a step returns an event or None")
    if type(event) not in declared:
        names = ", ".join(t.__name__ for t in declared) or "nothing"
        raise UsageError(
            f"step {step} returned {type(event).__name__}, but its return annotation "
            f"declares {names}: add it there, so the agent's check can see who consumes it"
        )
    item: dict[str, Any] = {"type": type(event).wire_name(), "payload": event.wire_payload()}
    if isinstance(event, StopEvent):
        item.update(kind="stop", result=item["payload"].get("result"))
    elif isinstance(event, HumanInTheLoopRequestEvent):
        item.update(
            kind="request",
            request=event.request_body(),
            reply_type=event.response_type.wire_name(),
        )
    return item
