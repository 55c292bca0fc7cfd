"""What a worker does when things go wrong: the server refuses a step's output, fails or
cannot be reached for a while, refuses the credentials; a step meets an unreachable server;
a step re-runs after its worker died. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest

from inloop import AsyncClient, AuthenticationError, NotFoundError
from inloop.domain.runs import RunStatus
from inloop.runtime import (
    Agent,
    Context,
    HumanInTheLoopConfirmation,
    RunFailedError,
    StartEvent,
    StopEvent,
    Worker,
    step,
)
from tests.runtime.conftest import runs_app
from tests.support import ADMIN_TOKEN, FakeClock


@dataclass
class Fault:
    """Answer calls that ``matches`` with ``status`` (or a dropped connection), ``times`` times."""

    matches: Callable[[httpx.Request], bool]
    status: int | None = None
    times: int = 1
    hits: int = 0


class FaultyTransport(httpx.AsyncBaseTransport):
    """The ASGI app, behind faults a test sets up."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.faults: list[Fault] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for fault in self.faults:
            if fault.hits < fault.times and fault.matches(request):
                fault.hits += 1
                if fault.status is None:
                    raise httpx.ConnectError("injected: connection refused", request=request)
                body = {"error": {"code": "injected", "message": "injected failure"}}
                return httpx.Response(fault.status, json=body, request=request)
        return await self.inner.handle_async_request(request)


def calls(path: str) -> Callable[[httpx.Request], bool]:
    return lambda request: request.url.path.endswith(path)


@pytest.fixture
async def faulty(services: Any) -> AsyncIterator[tuple[AsyncClient, FaultyTransport]]:
    transport = FaultyTransport(httpx.ASGITransport(app=runs_app(services)))
    async with AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
        yield client, transport


class Numbers(StartEvent):
    n: int


class Huge(Agent):
    """Run 0 returns a result JSON cannot carry exactly; the others return their number."""

    @step()
    async def answer(self, event: Numbers) -> StopEvent:
        return StopEvent(result=2**70 if event.n == 0 else event.n)


async def test_a_refused_output_fails_its_run_and_not_the_worker(
    faulty: tuple[AsyncClient, FaultyTransport],
) -> None:
    client, _ = faulty
    async with Huge(client) as agent:
        bad = await agent.run(Numbers(n=0))
        good = await agent.run(Numbers(n=1))
        with pytest.raises(RunFailedError, match=r"refuses to store.*result"):
            await bad.result(timeout=30)
        assert await good.result(timeout=30) == 1
        later = await agent.run(Numbers(n=2))  # the worker still serves
        assert await later.result(timeout=30) == 2


async def test_a_completion_the_server_refuses_is_sent_again_alone(
    faulty: tuple[AsyncClient, FaultyTransport],
) -> None:
    """A batch refused as a whole (422) is split; the item refused alone fails its run with
    the server's reason, and the others complete."""
    client, transport = faulty
    bad_run: list[str] = []

    def carries_the_bad_run(request: httpx.Request) -> bool:
        if not request.url.path.endswith("/run-events/complete") or not bad_run:
            return False
        items = json.loads(request.content)["items"]
        return any("emitted" in i and i["event_id"] == int(bad_run[0]) for i in items)

    class Plain(Agent):
        @step()
        async def answer(self, event: Numbers) -> StopEvent:
            return StopEvent(result=event.n)

    worker_client = client
    started = [await client.runs.start("Plain", "Numbers", {"n": n}) for n in range(3)]
    events = {e.run_id: e.id for e in (await client.runs.get(started[0].id)).events}
    bad_run.append(str(events[started[0].id]))
    transport.faults.append(Fault(carries_the_bad_run, status=422, times=10))
    worker = Worker([Plain(worker_client)], worker_client, poll=1)
    serving = asyncio.create_task(worker.serve())
    try:
        finished = [await client.runs.wait(r.id, timeout=30) for r in started]
    finally:
        worker.stop()
        await serving
    assert [r.status for r in finished] == ["failed", "completed", "completed"]
    assert "refuses to store" in (finished[0].error or "")
    assert "injected failure" in (finished[0].error or "")
    assert [r.result for r in finished[1:]] == [1, 2]


class Once(Agent):
    """Charges once through ctx.once, under a key with a slash."""

    charges: ClassVar[int] = 0

    @step()
    async def charge(self, event: StartEvent, ctx: Context) -> StopEvent:
        def pay() -> str:
            Once.charges += 1
            return "paid"

        return StopEvent(result=await ctx.once("refund/A-17", pay))


async def test_an_unreachable_server_is_waited_out(
    faulty: tuple[AsyncClient, FaultyTransport],
) -> None:
    """A 503 on a claim, a dropped completion, and a step whose ctx.once cannot reach the
    server: each is tried again; the run completes and its side effect ran once."""
    client, transport = faulty
    Once.charges = 0
    transport.faults += [
        Fault(calls("/run-events/claim"), status=503),
        Fault(lambda r: "/once/" in r.url.path and r.method == "GET"),
        Fault(calls("/run-events/complete")),
    ]
    async with Once(client) as agent:
        handle = await agent.run()
        assert await handle.result(timeout=30) == "paid"
    assert [f.hits for f in transport.faults] == [1, 1, 1]
    assert Once.charges == 1
    with pytest.raises(NotFoundError) as caught:  # not "nothing recorded": no such run
        await client.runs.recorded("run_unknown", "refund/A-17")
    assert caught.value.code == "not_found"
    assert await client.runs.recorded(handle.id, "refund/A-17") == (True, "paid")


async def test_refused_credentials_stop_the_worker(
    faulty: tuple[AsyncClient, FaultyTransport],
) -> None:
    client, transport = faulty
    transport.faults.append(Fault(calls("/run-events/claim"), status=401))
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(Worker([Once(client)], client).serve(), 30)


async def test_the_result_waits_out_a_server_restart(
    faulty: tuple[AsyncClient, FaultyTransport],
) -> None:
    """RunHandle.result keeps waiting through failed long-polls (a restart, a proxy's 502)."""
    client, transport = faulty
    transport.faults += [
        Fault(calls("/wait"), times=2),
        Fault(calls("/wait"), status=502),
    ]
    async with Once(client) as agent:
        handle = await agent.run()
        assert await handle.result(timeout=60) == "paid"
    assert [f.hits for f in transport.faults] == [2, 1]


class Asked(HumanInTheLoopConfirmation):
    pass


class Crashy(Agent):
    """Records a side effect with ctx.once, then (the first time) never finishes: as if its
    process died in the middle of the step."""

    effects: ClassVar[int] = 0
    executions: ClassVar[int] = 0
    recorded: ClassVar[asyncio.Event]
    hang: ClassVar[asyncio.Event]

    @step()
    async def act(self, event: StartEvent, ctx: Context) -> StopEvent:
        Crashy.executions += 1

        def effect() -> int:
            Crashy.effects += 1
            return 42

        value = await ctx.once("effect", effect)
        Crashy.recorded.set()
        if Crashy.executions == 1:
            await Crashy.hang.wait()  # never set: the worker is cancelled here
        return StopEvent(result=value)


async def test_a_step_run_again_after_its_worker_died_does_not_repeat_once(
    services: Any, clock: FakeClock
) -> None:
    """The first worker dies mid-step after ctx.once recorded; when the lease runs out, a
    second worker runs the step again: once returns the recorded value, fn does not run."""
    Crashy.effects, Crashy.executions = 0, 0
    Crashy.recorded, Crashy.hang = asyncio.Event(), asyncio.Event()
    transport = httpx.ASGITransport(app=runs_app(services))
    async with AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as client:
        run = await client.runs.start("Crashy", "StartEvent", {})
        first = Worker([Crashy(client)], client, lease=60)
        dying = asyncio.create_task(first.serve())
        await asyncio.wait_for(Crashy.recorded.wait(), 30)  # the step is in its middle
        dying.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dying
        assert (await client.runs.wait(run.id, timeout=0)).status == RunStatus.RUNNING
        clock.advance(seconds=61)  # the dead worker's lease runs out
        second = Worker([Crashy(client)], client)
        serving = asyncio.create_task(second.serve())
        try:
            done = await client.runs.wait(run.id, timeout=30)
        finally:
            second.stop()
            await serving
    assert done.status == RunStatus.COMPLETED and done.result == 42
    assert (Crashy.executions, Crashy.effects) == (2, 1)
