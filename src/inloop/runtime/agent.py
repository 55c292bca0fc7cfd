"""``Agent``: a class of ``@step`` methods, and its runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar, Self

from inloop.client import AsyncClient
from inloop.domain.runs import Run, RunStatus, RunTimeline
from inloop.errors import RETRYABLE, InloopError, UsageError
from inloop.runtime.context import Context
from inloop.runtime.events import Event, StartEvent
from inloop.runtime.steps import (
    AgentDefinitionError,
    Dispatch,
    _Unresolved,
    collect,
    remember_locals,
)
from inloop.runtime.worker import Worker

log = logging.getLogger("inloop.runtime")

#: How long one server long-poll of ``RunHandle.result`` lasts, in seconds.
RESULT_POLL = 30.0
#: The longest pause between tries while the server cannot be reached.
MAX_RETRY_PAUSE = 30.0


class RunFailedError(InloopError):
    """The run failed: a step raised (``.run.error`` has its traceback)."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.id} failed: {run.error}")
        self.run = run


class RunCancelledError(InloopError):
    """The run was cancelled before it completed."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.id} was cancelled" + (f": {run.error}" if run.error else ""))
        self.run = run


class Agent:
    """An event-driven agent: ``@step()`` methods chosen by the type of their event.

    The class is checked when it is defined (see ``inloop.runtime.steps``). ``name`` is how
    workers find its runs (the class name unless set); every process serving the agent
    must use the same name.
    """

    name: ClassVar[str | None] = None
    _dispatch: ClassVar[Dispatch | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        remember_locals(cls, depth=1)  # the frame of the class statement
        cls._dispatch = None
        with contextlib.suppress(_Unresolved):  # checked at first use instead
            cls._dispatch = collect(cls, Context)

    @classmethod
    def dispatch(cls) -> Dispatch:
        """The checked table of steps (built when the class was defined, or now)."""
        if cls._dispatch is None:
            try:
                cls._dispatch = collect(cls, Context)
            except _Unresolved as exc:
                raise AgentDefinitionError(str(exc)) from None
        return cls._dispatch

    def __init__(self, client: AsyncClient | None = None, *, name: str | None = None) -> None:
        if type(self) is Agent:
            raise UsageError("subclass Agent with @step() methods; Agent itself has none")
        type(self).dispatch()
        self.agent_name = name or type(self).__dict__.get("name") or type(self).__name__
        if not 1 <= len(self.agent_name) <= 200:
            raise UsageError("an agent name has 1 to 200 characters")
        self._client = client
        self._owns_client = False
        self._worker: Worker | None = None
        self._serving: asyncio.Task[None] | None = None

    def client(self) -> AsyncClient:
        """The client given, or the default one (``INLOOP_URL``, else an embedded server)."""
        if self._client is None:
            from inloop.embedded import default_async_client

            self._client = default_async_client()
            self._owns_client = True
        return self._client

    async def run(
        self,
        start_event: Event | None = None,
        /,
        *,
        client: AsyncClient | None = None,
        serve: bool = True,
        **fields: Any,
    ) -> RunHandle:
        """Start a run with ``start_event`` (or ``StartEvent(**fields)``).

        With ``serve`` (the default), this process also works on the agent's runs until
        :meth:`aclose`; without it, a worker elsewhere (``inloop worker``) picks it up.
        """
        if start_event is None:
            start_event = StartEvent(**fields)
        elif fields:
            raise UsageError("pass a start event or its fields, not both")
        starts = type(self).dispatch().start_types
        if type(start_event) not in starts:
            raise UsageError(
                f"{type(self).__name__} has no step consuming {type(start_event).__name__}; "
                f"it starts from {', '.join(t.__name__ for t in starts)}"
            )
        client = client or self.client()
        run = await client.runs.start(
            self.agent_name, type(start_event).wire_name(), start_event.wire_payload()
        )
        if serve:
            self._start_serving(client)
        return RunHandle(run, client)

    def _start_serving(self, client: AsyncClient) -> None:
        if self._serving is not None and not self._serving.done():
            return
        self._worker = Worker([self], client)
        self._serving = asyncio.create_task(self._worker.serve(), name=f"inloop-{self.agent_name}")

    async def serve(self, *, client: AsyncClient | None = None, **options: Any) -> None:
        """Work on this agent's runs (claim, run steps, complete) until cancelled."""
        self._worker = Worker([self], client or self.client(), **options)
        await self._worker.serve()

    async def aclose(self) -> None:
        """Stop serving in this process (runs go on in any other worker, or later), and
        close the default client if this agent opened it."""
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
            self._serving = None
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client, self._owns_client = None, False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class RunHandle:
    """A run started by ``Agent.run``; its id is enough to find it again from anywhere."""

    def __init__(self, run: Run, client: AsyncClient) -> None:
        self.run = run
        self.id = run.id
        self.client = client

    async def result(self, *, timeout: float | None = None) -> Any:
        """The StopEvent's ``result`` once the run completes (no time limit by default).

        Raises RunFailedError or RunCancelledError; with ``timeout`` (seconds), TimeoutError
        if the run is still going then (the run itself goes on). While the server cannot be
        reached (restarting, say), it keeps trying: a wait of days survives that.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        pause = 0.5
        while True:
            left = RESULT_POLL if deadline is None else max(0.0, deadline - loop.time())
            try:
                self.run = await self.client.runs.wait(self.id, timeout=min(RESULT_POLL, left))
            except RETRYABLE as exc:
                if deadline is not None and loop.time() + pause >= deadline:
                    raise TimeoutError(f"run {self.id}: the server is unreachable: {exc}") from exc
                log.warning("run %s: %s; trying again in %.1fs", self.id, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_PAUSE)
                continue
            pause = 0.5
            if self.run.status == RunStatus.COMPLETED:
                return self.run.result
            if self.run.status == RunStatus.FAILED:
                raise RunFailedError(self.run)
            if self.run.status == RunStatus.CANCELLED:
                raise RunCancelledError(self.run)
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"run {self.id} is still {self.run.status.value}")

    async def status(self) -> RunStatus:
        self.run = await self.client.runs.wait(self.id, timeout=0)
        return self.run.status

    async def timeline(self) -> RunTimeline:
        """Events, requests, who answered and when."""
        return await self.client.runs.get(self.id)

    async def cancel(self, *, reason: str | None = None) -> Run:
        """Cancel the run and its open requests."""
        self.run = await self.client.runs.cancel(self.id, reason=reason)
        return self.run
