"""Runs on the server, through the SDK: every way a request closes resumes the run once;
cancel, failures, ctx.once, double completions and bad input. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from inloop import AsyncClient, ConflictError, InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.runs import RunEventStatus, RunStatus
from inloop.runtime import (
    Agent,
    Context,
    HumanInTheLoopApproval,
    HumanInTheLoopChoice,
    HumanInTheLoopConfirmation,
    HumanInTheLoopForm,
    HumanInTheLoopInput,
    RunCancelledError,
    RunFailedError,
    StartEvent,
    StopEvent,
    step,
)
from tests.runtime.agents import ApprovalAgent
from tests.runtime.test_seed import answer_next
from tests.support import FakeClock


class Refund(StartEvent):
    amount: int


class Guarded(HumanInTheLoopConfirmation):
    pass


class RefundAgent(Agent):
    """Asks before refunding; a refund happens once however often the step runs."""

    refunds: ClassVar[list[int]] = []

    @step()
    async def ask(self, event: Refund) -> Guarded.request:
        return Guarded.invoke(
            f"Refund {event.amount} EUR?", timeout="1h", escalation={"action": "auto_approve"}
        )

    @step()
    async def act(self, event: Guarded.response, ctx: Context) -> StopEvent:
        async def refund() -> str:
            RefundAgent.refunds.append(1)
            return f"refund-{ctx.idempotency_key('refund')}"

        first = await ctx.once("refund", refund)
        again = await ctx.once("refund", refund)
        assert first == again
        return StopEvent(result={"approved": event.response, "how": event.resolution, "id": first})


async def test_policy_decision_resumes_the_run(
    client: AsyncClient, services: Any, clock: FakeClock
) -> None:
    """An auto-approval by the scheduler (a timeout) appends the response event in its own
    transaction: the run resumes with the policy's answer; ctx.once runs its fn once."""
    RefundAgent.refunds = []
    async with RefundAgent(client) as agent:
        handle = await agent.run(Refund(amount=120))
        run = await client.runs.wait(handle.id, timeout=30, paused=True)
        assert run.status == RunStatus.PAUSED
        clock.advance(hours=2)
        assert await services.scheduler.run_due() >= 1
        result = await handle.result()
    assert result["approved"] is True and result["how"] == "auto_approved"
    assert result["id"] == f"refund-{handle.id}:refund"
    assert RefundAgent.refunds == [1]


class Free(HumanInTheLoopInput):
    pass


class Impatient(Agent):
    @step()
    async def ask(self, event: StartEvent) -> Free.request:
        return Free.invoke("Anything?", timeout="1h")

    @step()
    async def done(self, event: Free.response) -> StopEvent:
        return StopEvent(result=[event.answered, event.resolution, event.response])


async def test_timeout_without_answer_resumes_with_none(
    client: AsyncClient, services: Any, clock: FakeClock
) -> None:
    async with Impatient(client) as agent:
        handle = await agent.run()
        await client.runs.wait(handle.id, timeout=30, paused=True)
        clock.advance(hours=2)
        await services.scheduler.run_due()
        assert await handle.result() == [False, "timed_out", None]


async def test_cancel_a_run_cancels_its_requests(client: AsyncClient) -> None:
    async with ApprovalAgent(client) as agent:
        handle = await agent.run()
        await client.runs.wait(handle.id, timeout=30, paused=True)
        cancelled = await handle.cancel(reason="no longer needed")
        assert cancelled.status == RunStatus.CANCELLED
        with pytest.raises(RunCancelledError, match="no longer needed"):
            await handle.result()
    timeline = await client.runs.get(handle.id)
    assert [r.status for r in timeline.requests] == ["cancelled"]
    assert timeline.events[1].status == RunEventStatus.CANCELLED
    with pytest.raises(ConflictError) as caught:
        await client.runs.cancel(handle.id)
    assert caught.value.code == "run_closed"


async def test_request_cancelled_by_hand_still_reaches_the_step(client: AsyncClient) -> None:
    """A request closed any way (here: cancelled directly) resumes the run once."""
    async with Impatient(client) as agent:
        handle = await agent.run()
        await client.runs.wait(handle.id, timeout=30, paused=True)
        [request] = (await client.runs.get(handle.id)).requests
        await client.cancel(request.id, reason="wrong question")
        assert await handle.result() == [False, "cancelled", None]


class Boom(Agent):
    @step()
    async def explode(self, event: StartEvent) -> StopEvent:
        raise RuntimeError("the tool is down")


async def test_a_failing_step_fails_the_run(client: AsyncClient) -> None:
    async with Boom(client) as agent:
        handle = await agent.run()
        with pytest.raises(RunFailedError, match="the tool is down") as caught:
            await handle.result()
    assert "step explode failed" in (caught.value.run.error or "")


class Address(BaseModel):
    street: str
    city: str


class Shipping(HumanInTheLoopForm):
    model = Address


class Pick(HumanInTheLoopChoice):
    pass


class Typed(Agent):
    @step()
    async def pick(self, event: StartEvent) -> Pick.request:
        return Pick.invoke("Which carrier?", options=["post", "dhl"])

    @step()
    async def form(self, event: Pick.response) -> Shipping.request:
        return Shipping.invoke(f"Address for {event.response}?")

    @step()
    async def done(self, event: Shipping.response) -> StopEvent:
        assert isinstance(event.response, Address)  # typed, not a dict
        return StopEvent(result=event.response.city)


async def test_choice_and_typed_form(client: AsyncClient) -> None:
    async with Typed(client) as agent:
        handle = await agent.run()
        await answer_next(client, handle, "dhl")
        await answer_next(client, handle, {"street": "Main 1", "city": "Bern"})
        assert await handle.result() == "Bern"


async def test_a_step_completes_once(client: AsyncClient) -> None:
    """Two workers finishing the same event: the second completion is refused, nothing
    of it is written."""
    run = await client.runs.start("Manual", "StartEvent", {})
    [event] = await client.runs.claim(["Manual"], "w1", lease=1)
    stop = {"type": "StopEvent", "kind": "stop", "payload": {"result": 1}, "result": 1}
    first = {"event_id": event.id, "step": "begin", "emitted": [stop]}
    second = {"event_id": event.id, "step": "begin", "emitted": [{**stop, "result": 2}]}
    [ok] = await client.runs.complete([first])
    [refused] = await client.runs.complete([second])
    assert ok.ok and not refused.ok and refused.code == "event_done"
    assert "consumed by step begin" in (refused.message or "")
    timeline = await client.runs.get(run.id)
    assert timeline.run.result == 1
    assert [e.type for e in timeline.events] == ["StartEvent", "StopEvent"]
    [missing] = await client.runs.complete([{**first, "event_id": 10**9}])
    assert missing.code == "not_found"


async def test_bad_input_is_refused_and_writes_nothing(client: AsyncClient) -> None:
    with pytest.raises(InvalidError) as caught:
        await client.runs.start("", "StartEvent", {})
    assert caught.value.field is not None
    with pytest.raises(InvalidError):
        await client.runs.start("A", "StartEvent", {"x": 2**70})
    with pytest.raises(InvalidError):
        await client.runs.claim([], "w")
    with pytest.raises(InvalidError):
        await client.runs.claim(["A"], "w", limit=0)
    await client.runs.start("A", "StartEvent", {})
    [event] = await client.runs.claim(["A"], "w")
    bad_request = {"type": "Q", "kind": "request", "payload": {}, "reply_type": "R",
                   "request": {"prompt": "  "}}  # fmt: skip
    with pytest.raises(InvalidError) as caught:
        await client.runs.complete([{"event_id": event.id, "step": "s", "emitted": [bad_request]}])
    assert caught.value.field == "prompt"
    with pytest.raises(InvalidError):
        await client.runs.complete(
            [{"event_id": event.id, "step": "s", "emitted": [{"type": "Q", "kind": "request"}]}]
        )
    assert (await client.runs.get(event.run_id)).events[0].status == RunEventStatus.PENDING
    with pytest.raises(NotFoundError):
        await client.runs.get("run_nope")
    with pytest.raises(NotFoundError):
        await client.runs.cancel("run_nope")
    with pytest.raises(InvalidError):
        await client.runs.list(cursor="garbage")


async def test_list_runs_and_pages(client: AsyncClient, clock: FakeClock) -> None:
    ids = []
    for _ in range(3):
        ids.append((await client.runs.start("Lister", "StartEvent", {})).id)
        clock.advance(seconds=1)
    page = await client.runs.list(agent="Lister", limit=2)
    assert [r.id for r in page.items] == ids[::-1][:2] and page.next_cursor
    rest = await client.runs.list(agent="Lister", limit=2, cursor=page.next_cursor)
    assert [r.id for r in rest.items] == [ids[0]] and rest.next_cursor is None
    assert (await client.runs.list(agent="Lister", status="completed")).items == []


async def test_once_records_the_first_value(client: AsyncClient) -> None:
    run = await client.runs.start("Oncer", "StartEvent", {})
    assert await client.runs.recorded(run.id, "k") == (False, None)
    assert await client.runs.record(run.id, "k", {"v": 1}) == {"v": 1}
    assert await client.runs.record(run.id, "k", {"v": 2}) == {"v": 1}
    assert await client.runs.recorded(run.id, "k") == (True, {"v": 1})


class Legal(HumanInTheLoopConfirmation):
    pass


class Finance(HumanInTheLoopConfirmation):
    pass


class TwoAtOnce(Agent):
    """Asks two people at once; each answer goes to its own step."""

    @step()
    async def ask_both(self, event: StartEvent) -> list[Legal.request | Finance.request]:
        return [Legal.invoke("Legal OK?"), Finance.invoke("Finance OK?")]

    @step()
    async def legal(self, event: Legal.response) -> None:
        return None

    @step()
    async def finance(self, event: Finance.response) -> StopEvent:
        return StopEvent(result=event.response)


async def test_several_questions_at_once(client: AsyncClient) -> None:
    async with TwoAtOnce(client) as agent:
        handle = await agent.run()
        await client.runs.wait(handle.id, timeout=30, paused=True)
        finance, legal = sorted((await client.runs.get(handle.id)).requests, key=lambda r: r.prompt)
        await client.respond(legal.id, True)
        run = await client.runs.wait(handle.id, timeout=30, paused=True)
        assert run.status == RunStatus.PAUSED  # still waiting on finance
        await client.respond(finance.id, False)
        assert await handle.result() is False


async def test_leases_expire_and_are_renewed(client: AsyncClient, clock: FakeClock) -> None:
    """A claimed event is the worker's until its lease ends; renewing keeps it; after the
    lease, another worker claims it (its first worker died)."""
    await client.runs.start("Leased", "StartEvent", {})
    [event] = await client.runs.claim(["Leased"], "w1", lease=10)
    assert await client.runs.claim(["Leased"], "w2") == []
    clock.advance(seconds=8)
    assert await client.runs.renew("w1", [event.id], lease=10) == [event.id]
    assert await client.runs.renew("w2", [event.id], lease=10) == []  # not w2's lease
    clock.advance(seconds=8)
    assert await client.runs.claim(["Leased"], "w2") == []  # renewed: still w1's
    clock.advance(seconds=3)
    [again] = await client.runs.claim(["Leased"], "w2", lease=10)
    assert again.id == event.id and again.attempts == 2
    assert await client.runs.renew("w1", [event.id]) == []  # w1 lost it


async def test_a_worker_with_its_own_key(client: AsyncClient, services: Any) -> None:
    """A worker's key is not the run's creator: it still serves the run (steps, ctx.once),
    the request belongs to the creator, and only the creator (or an admin) sees the run."""
    import httpx

    from tests.runtime.conftest import runs_app

    key = await client.create_key("worker", ["agent"])
    transport = httpx.ASGITransport(app=runs_app(services))
    async with AsyncClient("http://inloop.test", key.secret, transport=transport) as worker:
        RefundAgent.refunds = []
        started = await client.runs.start("RefundAgent", "Refund", {"amount": 5})
        async with RefundAgent(worker) as agent:
            agent._start_serving(worker)
            await client.runs.wait(started.id, timeout=30, paused=True)
            [request] = (await client.runs.get(started.id)).requests
            assert request.created_by == started.created_by
            await client.respond(request.id, False)
            finished = await client.runs.wait(started.id, timeout=30)
        assert finished.result["approved"] is False and RefundAgent.refunds == [1]
        with pytest.raises(PermissionDeniedError):
            await worker.runs.get(started.id)


class Deploy(HumanInTheLoopApproval):
    pass


class DeployAgent(Agent):
    """Proposes an action; the human approves, rejects or edits it before it runs."""

    @step()
    async def propose(self, event: StartEvent) -> Deploy.request:
        return Deploy.invoke(
            "Deploy?", payload={"function": "deploy", "arguments": {"version": "2.3"}}
        )

    @step()
    async def act(self, event: Deploy.response) -> StopEvent:
        action = event.edited or (event.request_event.payload if event.request_event else None)
        return StopEvent(
            result={"approved": event.approved, "answer": event.response, "ran": action}
        )


@pytest.mark.parametrize(
    ("answer", "edited", "approved", "ran"),
    [
        ("approve", None, True, "2.3"),
        ("modify", {"function": "deploy", "arguments": {"version": "2.4"}}, False, "2.4"),
        ("reject", None, False, "2.3"),
    ],
)
async def test_an_approval_of_a_proposed_action(
    client: AsyncClient, answer: str, edited: dict[str, Any] | None, approved: bool, ran: str
) -> None:
    """The payload reaches the human; an edit comes back as ``edited`` on the response."""
    async with DeployAgent(client) as agent:
        handle = await agent.run()
        await client.runs.wait(handle.id, timeout=30, paused=True)
        [request] = (await client.runs.get(handle.id)).requests
        assert request.kind == "approval" and request.payload is not None
        await client.respond(request.id, answer, edited=edited)
        result = await handle.result(timeout=30)
    assert result["approved"] is approved and result["answer"] == answer
    assert result["ran"]["arguments"]["version"] == ran
