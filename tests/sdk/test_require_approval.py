"""@require_approval: approve runs the call, modify runs the edited call, denial raises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

import inloop
from tests.sdk.conftest import Decision, Human

Start = Callable[[Decision], Human]


def approve(_: inloop.Request) -> dict[str, Any]:
    return {"response": "approve"}


def modify(**arguments: Any) -> Decision:
    def decide(request: inloop.Request) -> dict[str, Any]:
        assert request.payload is not None
        edited = {**request.payload, "arguments": {**request.payload["arguments"], **arguments}}
        return {"response": "modify", "edited": edited, "comment": "fixed it"}

    return decide


def reject(_: inloop.Request) -> dict[str, Any]:
    return {"response": "reject", "comment": "not to this customer"}


def tools(client: inloop.Client) -> tuple[Callable[..., str], list[tuple[Any, ...]]]:
    calls: list[tuple[Any, ...]] = []

    @inloop.require_approval(client=client, assignee="role:admin", priority="high")
    def send_email(to: str, subject: str, when: date, copies: int = 1) -> str:
        """Send an email to a customer."""
        calls.append((to, subject, when, copies))
        return f"sent to {to}"

    return send_email, calls


def test_the_approver_sees_the_function_and_its_exact_arguments(
    client: inloop.Client, human: Start
) -> None:
    """Payload {function, arguments}, a readable prompt, approve/reject/modify, the fields."""
    send_email, calls = tools(client)
    person = human(approve)
    assert send_email("bob@example.com", subject="Hi", when=date(2026, 1, 2)) == (
        "sent to bob@example.com"
    )
    request = person.join()
    assert calls == [("bob@example.com", "Hi", date(2026, 1, 2), 1)]
    assert request.payload == {
        "function": "send_email",
        "arguments": {"to": "bob@example.com", "subject": "Hi", "when": "2026-01-02", "copies": 1},
    }
    assert [o.value for o in request.options or []] == ["approve", "reject", "modify"]
    assert 'to = "bob@example.com"' in request.prompt and "copies = 1" in request.prompt
    assert request.description == "Send an email to a customer."
    assert request.priority == "high" and request.assignee == "role:admin"
    assert send_email.__name__ == "send_email"  # the wrapper keeps what LLM tools read


def test_modify_runs_the_call_with_the_edited_arguments(
    client: inloop.Client, human: Start
) -> None:
    """Edited arguments are coerced to the annotations; unchanged ones keep their value."""
    send_email, calls = tools(client)
    human(modify(to="carol@example.com", when="2026-03-04", copies="2"))
    assert send_email("bob@example.com", "Hi", date(2026, 1, 2)) == "sent to carol@example.com"
    assert calls == [("carol@example.com", "Hi", date(2026, 3, 4), 2)]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"bcc": "eve@example.com"}, "unknown arguments ['bcc']"),
        ({"copies": "many"}, "copies: Input should be a valid integer"),
        ({"when": "someday"}, "when:"),
    ],
)
def test_a_bad_edit_is_an_error_and_the_function_does_not_run(
    client: inloop.Client, human: Start, edit: dict[str, Any], problem: str
) -> None:
    send_email, calls = tools(client)
    human(modify(**edit))
    with pytest.raises(inloop.EditError) as error:
        send_email("bob@example.com", "Hi", date(2026, 1, 2))
    assert problem in str(error.value)
    assert calls == []


def test_an_edit_that_drops_a_required_argument_is_an_error(
    client: inloop.Client, human: Start
) -> None:
    send_email, calls = tools(client)

    def drop_to(request: inloop.Request) -> dict[str, Any]:
        assert request.payload is not None
        arguments = {k: v for k, v in request.payload["arguments"].items() if k != "to"}
        return {"response": "modify", "edited": {**request.payload, "arguments": arguments}}

    human(drop_to)
    with pytest.raises(inloop.EditError, match="missing a required argument: 'to'"):
        send_email("bob@example.com", "Hi", date(2026, 1, 2))
    assert calls == []


def test_reject_raises_approval_denied_with_the_reason(client: inloop.Client, human: Start) -> None:
    send_email, calls = tools(client)
    human(reject)
    with pytest.raises(inloop.ApprovalDenied) as denied:
        send_email("bob@example.com", "Hi", date(2026, 1, 2))
    assert denied.value.reason == "not to this customer"
    assert denied.value.request.response == "reject"
    assert denied.value.request.resolved_by == "admin-token"
    assert calls == []


def test_a_cancelled_request_is_a_denial(client: inloop.Client, human: Start) -> None:
    send_email, calls = tools(client)
    human(lambda _: None)
    with pytest.raises(inloop.ApprovalDenied, match="cancelled"):
        send_email("bob@example.com", "Hi", date(2026, 1, 2))
    assert calls == []


def test_the_same_key_finds_the_same_request_and_answer(
    client: inloop.Client, human: Start
) -> None:
    """A key makes the approval durable: the second call asks nobody and runs again."""
    calls: list[str] = []

    @inloop.require_approval(client=client, key="run-7")
    def refund(order: str, amount: int) -> None:
        calls.append(order)

    person = human(approve)
    refund("A-1", 30)
    first = person.join()
    refund("A-1", 30)  # no human this time: the answered request is found again
    assert calls == ["A-1", "A-1"]
    found = client.list(kind="approval").items
    assert [r.id for r in found] == [first.id]
    assert first.idempotency_key is not None and first.idempotency_key.startswith("run-7:")


async def test_async_functions_are_guarded_too(live: str, human: Start) -> None:
    """approve, modify and deny on an async tool, through an AsyncClient."""
    from tests.support import ADMIN_TOKEN

    calls: list[int] = []
    async with inloop.AsyncClient(live, ADMIN_TOKEN) as aclient:

        @inloop.require_approval(client=aclient)
        async def transfer(amount: int, to: str) -> int:
            calls.append(amount)
            return amount

        person = human(approve)
        assert await transfer(5, "bob") == 5
        person.join()
        person = human(modify(amount=3))
        assert await transfer(50, "bob") == 3
        person.join()
        person = human(reject)
        with pytest.raises(inloop.ApprovalDenied):
            await transfer(500, "bob")
        person.join()
    assert calls == [5, 3]


def test_misuse_is_refused_when_decorating() -> None:
    with pytest.raises(inloop.UsageError, match="unknown request fields"):
        inloop.require_approval(asignee="role:admin")
    with pytest.raises(inloop.UsageError, match="payload"):
        inloop.require_approval(payload={"a": 1})


@pytest.mark.parametrize(("answer", "runs"), [(True, True), (False, False)])
def test_a_confirmation_gate_runs_on_yes_only(
    client: inloop.Client, human: Start, answer: bool, runs: bool
) -> None:
    """kind="confirmation": a yes/no with no options; yes runs the call, no raises."""
    calls: list[str] = []

    @inloop.require_approval(client=client, kind="confirmation")
    def delete_file(path: str) -> str:
        calls.append(path)
        return "deleted"

    person = human(lambda _: {"response": answer})
    if runs:
        assert delete_file("reports/q3.csv") == "deleted"
    else:
        with pytest.raises(inloop.ApprovalDenied):
            delete_file("reports/q3.csv")
    request = person.join()
    assert request.kind == "confirmation" and request.options is None
    assert request.payload == {"function": "delete_file", "arguments": {"path": "reports/q3.csv"}}
    assert "Yes runs it as shown" in request.prompt
    assert calls == (["reports/q3.csv"] if runs else [])
