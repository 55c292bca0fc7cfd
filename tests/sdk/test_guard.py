"""inloop.guard and @inloop.guarded against a live server: what runs is what was approved."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

import inloop
from inloop.policies import (
    Action,
    ActionRefusedError,
    ActionTamperedError,
    EscalatedError,
    InvalidEditError,
    NeedsConfirmationError,
    Pending,
    Ran,
    Refused,
    loads_policy,
)
from tests.sdk.conftest import Decision, Human
from tests.support import ADMIN_TOKEN

Start = Callable[[Decision], Human]

POLICY = loads_policy(
    """
rules:
  - name: refunds
    risk: high
    strategy: approve
    keywords: [refund]
    in: [tool]
"""
)


def approve(_: inloop.Request) -> dict[str, Any]:
    return {"response": "approve"}


def edit(**arguments: Any) -> Decision:
    def decide(request: inloop.Request) -> dict[str, Any]:
        assert request.payload is not None
        edited = {**request.payload, "arguments": {**request.payload["arguments"], **arguments}}
        return {"response": "modify", "edited": edited, "comment": "lowered it"}

    return decide


def test_auto_runs_at_once_without_asking(client: inloop.Client) -> None:
    """A low-risk action runs with no request created."""
    ran: list[Action] = []
    action = Action(tool="get_weather", arguments={"city": "Oslo"})
    outcome = inloop.guard(
        action, run=lambda a: ran.append(a) or "sunny", policy=POLICY, client=client
    )
    assert isinstance(outcome, Ran) and outcome.result == "sunny" and ran == [action]
    assert client.list().items == []


def test_the_approver_sees_the_canonical_action_and_it_runs_as_approved(
    client: inloop.Client, human: Start
) -> None:
    """The request's payload is the canonical action; approve runs exactly that action."""
    ran: list[Action] = []
    person = human(approve)
    action = Action(tool="refund", arguments={"order": "A-17", "amount": 250}, text="Refund it")
    outcome = inloop.guard(
        action,
        run=ran.append,
        policy=POLICY,
        client=client,
        wait=True,
        priority="high",
        metadata={"case": "C-9", "action_digest": "forged"},
    )
    request = person.join()
    assert request.payload == action.canonical()
    assert request.metadata == {
        "case": "C-9",
        "action_digest": action.digest,
        "policy_rule": "refunds",
    }
    assert request.context["decision"]["rule"] == "refunds"
    assert request.display is not None and request.display.highlight == ["decision"]
    assert 'refund(order="A-17", amount=250)' in request.prompt
    assert request.priority == "high"
    assert isinstance(outcome, Ran) and outcome.request_id == request.id
    assert ran == [action] and ran[0].canonical_bytes() == action.canonical_bytes()


def test_an_edited_action_is_the_one_that_runs_and_the_request_shows_it(
    client: inloop.Client, human: Start
) -> None:
    """modify with an edited payload: the edit is what was approved, what runs, and what
    the request holds as `edited`."""
    ran: list[Action] = []
    person = human(edit(amount=80))
    action = Action(tool="refund", arguments={"order": "A-17", "amount": 250})
    outcome = inloop.guard(action, run=ran.append, policy=POLICY, client=client, wait=True)
    request = client.get(person.join().id)
    assert isinstance(outcome, Ran)
    assert ran == [outcome.action] and outcome.action.arguments == {"order": "A-17", "amount": 80}
    assert request.edited == outcome.action.canonical()
    assert outcome.approved_by == "admin-token"


def test_a_rejection_runs_nothing(client: inloop.Client, human: Start) -> None:
    """reject: Refused with the approver's comment; run is never called."""
    person = human(lambda _: {"response": "reject", "comment": "too much"})
    outcome = inloop.guard(
        {"tool": "refund", "arguments": {"amount": 9}},
        run=pytest.fail,
        policy=POLICY,
        client=client,
    )
    person.join()
    assert isinstance(outcome, Refused) and outcome.reason == "rejected by admin-token: too much"


def test_an_edit_that_names_another_tool_is_refused(client: inloop.Client, human: Start) -> None:
    """The edit cannot swap the tool: InvalidEditError, nothing runs."""
    person = human(
        lambda r: {"response": "modify", "edited": {**(r.payload or {}), "tool": "wire"}}
    )
    with pytest.raises(InvalidEditError, match="another tool"):
        inloop.guard({"tool": "refund"}, run=pytest.fail, policy=POLICY, client=client)
    person.join()


class Tampering(httpx.BaseTransport):
    """A proxy between the agent and the server that changes the amount in every payload."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        response.close()
        body = json.loads(response.content) if response.content else None
        if isinstance(body, dict) and isinstance(body.get("payload"), dict):
            body["payload"]["arguments"]["amount"] = 99999
            return httpx.Response(response.status_code, json=body, headers={"X-Request-ID": "x"})
        return response

    def close(self) -> None:
        self.inner.close()


def test_an_action_changed_on_the_way_back_is_refused(live: str, human: Start) -> None:
    """If the approved request comes back holding other bytes than guard sent, nothing runs."""
    person = human(approve)
    with (
        inloop.Client(live, ADMIN_TOKEN, transport=Tampering()) as client,
        pytest.raises(ActionTamperedError, match="refused to run"),
    ):
        inloop.guard(
            {"tool": "refund", "arguments": {"amount": 5}},
            run=pytest.fail,
            policy=POLICY,
            client=client,
        )
    person.join()


def test_guarded_runs_the_approved_arguments_decoded_from_json(
    client: inloop.Client, human: Start
) -> None:
    """@guarded: the tool runs with the approved (edited) arguments, typed by its
    annotations; a rejection raises ActionRefusedError."""
    calls: list[tuple[str, int, date]] = []

    @inloop.guarded(policy=POLICY, client=client, assignee="role:admin")
    def refund(order: str, amount: int, on: date) -> str:
        calls.append((order, amount, on))
        return f"refunded {amount}"

    @inloop.guarded(policy=POLICY, client=client)
    def lookup(order: str) -> str:
        return f"order {order}"

    assert lookup("A-1") == "order A-1"
    person = human(edit(amount=80, on="2026-03-04"))
    assert refund("A-17", 250, on=date(2026, 1, 2)) == "refunded 80"
    assert person.join().payload == {
        "tool": "refund",
        "arguments": {"order": "A-17", "amount": 250, "on": "2026-01-02"},
    }
    assert calls == [("A-17", 80, date(2026, 3, 4))]
    person = human(lambda _: {"response": "reject"})
    with pytest.raises(ActionRefusedError, match="refund did not run: rejected by admin-token"):
        refund("A-18", 1, on=date(2026, 1, 2))
    person.join()


def test_guarded_refuses_an_edit_its_signature_cannot_take(
    client: inloop.Client, human: Start
) -> None:
    """An edited argument of the wrong type or an unknown one: InvalidEditError, not run."""

    @inloop.guarded(policy=POLICY, client=client)
    def refund(amount: int) -> int:
        raise AssertionError("must not run")

    person = human(edit(amount="lots"))
    with pytest.raises(InvalidEditError, match="amount: Input should be a valid integer"):
        refund(5)
    person.join()
    person = human(edit(extra=1))
    with pytest.raises(InvalidEditError, match=r"unknown arguments \['extra'\]"):
        refund(5)
    person.join()


async def test_aguard_waits_and_runs_a_coroutine(live: str, human: Start) -> None:
    """The asyncio form: awaits the approval, awaits an async run."""
    person = human(approve)

    async def run(action: Action) -> str:
        return f"done {action.arguments['amount']}"

    async with inloop.AsyncClient(live, ADMIN_TOKEN) as client:
        outcome = await inloop.aguard(
            {"tool": "refund", "arguments": {"amount": 7}}, run=run, policy=POLICY, client=client
        )
    person.join()
    assert isinstance(outcome, Ran) and outcome.result == "done 7"


def test_a_pending_approval_waits_in_the_session_and_resume_runs_it(
    client: inloop.Client, human: Start
) -> None:
    """With a session, approve returns Pending at once (kept in the state, with the
    seed's keys); once approved, resume runs the approved action and clears the state."""
    ran: list[Action] = []
    action = Action(tool="refund", arguments={"amount": 30})
    pending = inloop.guard(action, policy=POLICY, client=client, session_id="s-approve")
    assert isinstance(pending, Pending) and pending.strategy == "approve"
    state = client.sessions.get("s-approve").state
    assert state["pending_approval"] is True and state["approval_id"] == pending.id
    assert state["pending_action"] == action.canonical()
    still = inloop.resume("s-approve", run=ran.append, client=client)
    assert isinstance(still, Pending) and ran == []
    person = human(approve)
    person.join()
    done = inloop.resume("s-approve", run=ran.append, client=client)
    assert isinstance(done, Ran) and ran == [action]
    state = client.sessions.get("s-approve").state
    assert (state["pending_approval"], state["approval_status"]) == (False, "approved")
    assert inloop.resume("s-approve", run=ran.append, client=client) is None


def test_a_pending_action_changed_in_the_session_state_is_refused(
    client: inloop.Client, human: Start
) -> None:
    """Someone rewrites the state's pending_action between the turns: resume refuses
    to run it, even though the approval itself went through."""
    action = Action(tool="refund", arguments={"amount": 30})
    inloop.guard(action, policy=POLICY, client=client, session_id="s-tamper")
    human(approve).join()
    forged = {**action.canonical(), "arguments": {"amount": 30000}}
    client.sessions.update_state(session_id="s-tamper", state={"pending_action": forged})
    with pytest.raises(ActionTamperedError, match="the session state's pending_action"):
        inloop.resume("s-tamper", run=pytest.fail, client=client)


def test_strategies_that_talk_to_the_end_user_need_a_session(client: inloop.Client) -> None:
    """confirm, mfa and escalate without session_id, or an approval given its own
    payload: a UsageError before any call."""
    with pytest.raises(inloop.UsageError, match="sets the approval's payload"):
        inloop.guard({"tool": "refund"}, policy=POLICY, client=client, payload={"x": 1})
    assert client.list().items == []
    policy = loads_policy(
        "rules:\n  - {name: b, risk: medium, strategy: confirm, keywords: [book]}\n"
    )
    with pytest.raises(inloop.UsageError, match="pass session_id="):
        inloop.guard({"tool": "book"}, run=pytest.fail, policy=policy, client=client)


CONFIRM = loads_policy(
    "rules:\n  - {name: booking, risk: medium, strategy: confirm, keywords: [book]}\n"
    "  - {name: deletion, risk: critical, strategy: escalate, keywords: [delete], priority: urgent}\n"
)


def test_a_confirmation_rewritten_in_the_state_is_refused(client: inloop.Client) -> None:
    """confirm: the server holds the action; a state whose pending_action was changed
    between the turns is refused on "yes", and nothing runs."""
    action = Action(tool="book_flight", arguments={"destination": "NYC"})
    pending = inloop.guard(action, policy=CONFIRM, client=client, session_id="s-forge")
    assert isinstance(pending, Pending) and pending.strategy == "confirm"
    assert client.confirmations.get(pending.id).action_digest == action.digest
    forged = {**action.canonical(), "arguments": {"destination": "Pyongyang"}}
    client.sessions.update_state(session_id="s-forge", state={"pending_action": forged})
    with pytest.raises(ActionTamperedError):
        inloop.resume("s-forge", "yes", run=pytest.fail, client=client)
    assert client.confirmations.get(pending.id).status == "pending"


def test_a_guarded_tool_asks_the_user_and_runs_in_the_next_turn(client: inloop.Client) -> None:
    """@guarded with confirm raises NeedsConfirmationError with the message for the
    user; resume("yes") runs the registered tool with the confirmed arguments; a high
    risk raises EscalatedError with the ticket."""
    booked: list[str] = []

    @inloop.guarded(policy=CONFIRM, client=client, session_id=lambda destination: "s-tool")
    def book_trip(destination: str) -> str:
        booked.append(destination)
        return f"booked {destination}"

    @inloop.guarded(policy=CONFIRM, client=client, session_id="s-tool")
    def delete_trip(trip: str) -> str:
        raise AssertionError("must not run")

    with pytest.raises(NeedsConfirmationError) as asked:
        book_trip("Oslo")
    assert asked.value.pending.message == 'I can book_trip(destination="Oslo"). Confirm? [Yes/No]'
    assert booked == []
    done = inloop.resume("s-tool", "Yes", client=client)
    assert isinstance(done, Ran) and done.result == "booked Oslo" and booked == ["Oslo"]
    with pytest.raises(EscalatedError) as escalated:
        delete_trip("T-1")
    ticket = escalated.value.escalated.ticket
    assert ticket.priority == "urgent" and ticket.action == {
        "tool": "delete_trip",
        "arguments": {"trip": "T-1"},
    }
    assert str(ticket.number) in str(escalated.value)


def test_a_guard_retried_after_a_crash_finds_its_approval_request(
    client: inloop.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies between creating the request and saving the state: the retried
    guard finds the same request; the same action once the state moved on asks afresh."""
    import importlib

    guard_module = importlib.import_module("inloop.policies.guard")  # not the function

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    action = Action(tool="refund", arguments={"amount": 12})
    with monkeypatch.context() as patched:
        patched.setattr(guard_module, "_save", crash)
        with pytest.raises(KeyboardInterrupt):
            inloop.guard(action, policy=POLICY, client=client, session_id="s-crash")
    [first] = client.list().items
    retried = inloop.guard(action, policy=POLICY, client=client, session_id="s-crash")
    assert isinstance(retried, Pending) and retried.id == first.id
    client.cancel(first.id)
    assert isinstance(inloop.resume("s-crash", run=pytest.fail, client=client), Refused)
    again = inloop.guard(action, policy=POLICY, client=client, session_id="s-crash")
    assert isinstance(again, Pending) and again.id != first.id


def test_a_confirmation_whose_guard_record_was_lost_can_still_be_closed(
    client: inloop.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the server held the confirmation but before guard saved
    its record: resume still finds it (from the server's own state keys) and runs the
    held action on a yes."""
    import importlib

    guard_module = importlib.import_module("inloop.policies.guard")

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    action = Action(tool="book_flight", arguments={"destination": "Lima"})
    with monkeypatch.context() as patched:
        patched.setattr(guard_module, "_save", crash)
        with pytest.raises(KeyboardInterrupt):
            inloop.guard(action, policy=CONFIRM, client=client, session_id="s-lost")
    ran: list[Action] = []
    done = inloop.resume("s-lost", "yes", run=ran.append, client=client)
    assert isinstance(done, Ran) and ran == [action]
    assert "recovered from the session state" in done.decision.reason
    assert client.sessions.get("s-lost").state["requires_confirmation"] is False


def test_the_canonical_bytes_survive_the_store(client: inloop.Client, human: Start) -> None:
    """Floats, big numbers, nested lists and non-ASCII text come back from the store
    (SQLite JSON, PostgreSQL JSONB) as the same bytes: approved, not refused as changed."""
    ran: list[Action] = []
    action = Action(
        tool="refund",
        arguments={"x": 1e20, "y": 0.1, "z": 250.0, "n": -7, "s": "ünï 😀", "l": [[1.5], {}]},
        amount=100.0,
        metadata={"k": None},
    )
    person = human(approve)
    outcome = inloop.guard(action, run=ran.append, policy=POLICY, client=client)
    person.join()
    assert isinstance(outcome, Ran) and ran[0].canonical_bytes() == action.canonical_bytes()
