"""Workers: claim a run's pending events, run the steps, send back what they emitted.

A worker claims events of the agents it serves in batches, leased to it; a long-poll on
the server wakes it the moment an event is appended (a run starts, a human answers). Each
event runs its step in a task of its own, up to ``concurrency`` at once, and completions
go back in batches. If the process dies, its leases run out and another worker claims
the events again: a step may run again, but it completes at most once (the server keeps
the first completion and refuses the others).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inloop.client import AsyncClient
from inloop.domain.runs import RunEvent
from inloop.errors import InloopError, TransportError, UsageError
from inloop.runtime.context import Context
from inloop.runtime.events import Event, StopEvent
from inloop.runtime.hitl import HumanInTheLoopRequestEvent

if TYPE_CHECKING:
    from inloop.runtime.agent import Agent

log = logging.getLogger("inloop.runtime")

MAX_COMPLETIONS = 1000


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
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = False

    async def serve(self) -> None:
        """Run until cancelled or :meth:`stop`."""
        sender = asyncio.create_task(self._send_completions())
        keeper = asyncio.create_task(self._keep_leases())
        try:
            await self._claim_loop()
        finally:
            self._stopping = True
            keeper.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._ready.set()
            await asyncio.gather(sender, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()

    async def _claim_loop(self) -> None:
        names = list(self.agents)
        backoff = 0.1
        while not self._stopping:
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                events = await self.client.runs.claim(
                    names,
                    self.name,
                    limit=min(free, self.batch),
                    lease=self.lease,
                    wait=self.poll,
                )
            except TransportError as exc:
                log.warning("claim failed, retrying in %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            for event in events:
                task = asyncio.create_task(self._execute(event))
                self._tasks.add(task)
                self._running[task] = event.id
                task.add_done_callback(self._done)

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
        item = await execute(agent, event, self.client) if agent else None
        if item is None:  # the server only gives us events of our agents
            return
        self._outbox.append(item)
        self._ready.set()

    async def _send_completions(self) -> None:
        backoff = 0.1
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox:
                items = self._outbox[:MAX_COMPLETIONS]
                try:
                    results = await self.client.runs.complete(items)
                except TransportError as exc:
                    log.warning("completion failed, retrying in %.1fs: %s", backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                del self._outbox[: len(items)]
                for result in results:
                    if result.ok:
                        self.completed += 1
                    elif result.code == "event_done":
                        log.info(
                            "event %s was completed elsewhere: %s", result.event_id, result.message
                        )
                    else:
                        log.warning(
                            "completion of event %s refused: %s", result.event_id, result.message
                        )
            if self._stopping and not self._tasks:
                return


async def execute(agent: Agent, event: RunEvent, client: AsyncClient) -> dict[str, Any]:
    """Run the step that consumes ``event``; the completion to send (emitted or error)."""
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
    except Exception as exc:  # the step's own failure fails the run, with its traceback
        if isinstance(exc, InloopError) and not isinstance(exc, UsageError):
            log.warning("step %s of run %s: %s", spec.name, event.run_id, exc)
        text = "".join(traceback.format_exception(exc, limit=-8))
        return {"event_id": event.id, "step": spec.name, "error": text[-20_000:]}
    return {"event_id": event.id, "step": spec.name, "emitted": emitted}


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
    item: dict[str, Any] = {"type": type(event).wire_name(), "payload": event.payload()}
    if isinstance(event, StopEvent):
        item.update(kind="stop", result=item["payload"].get("result"))
    elif isinstance(event, HumanInTheLoopRequestEvent):
        item.update(
            kind="request",
            request=event.request_body(),
            reply_type=event.response_type.wire_name(),
        )
    return item
