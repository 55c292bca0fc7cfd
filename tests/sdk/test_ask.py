"""inloop.ask / confirm / human_as_tool, blocking and async, and keys that find a request again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

import inloop
from tests.sdk.conftest import Decision, Human
from tests.support import ADMIN_TOKEN

Start = Callable[[Decision], Human]


def answer(value: Any, comment: str | None = None) -> Decision:
    return lambda _: {"response": value, "comment": comment}


class Refund(BaseModel):
    amount: int
    reason: str


def test_ask_takes_every_request_field_and_returns_the_answer(
    client: inloop.Client, human: Start
) -> None:
    person = human(answer("Use the blue one", "checked stock"))
    got = inloop.ask(
        "Which colour should we ship?",
        client=client,
        title="Colour",
        context={"order": "A-1"},
        priority="urgent",
        assignee="role:admin",
        timeout="4h",
        escalation={"action": "escalate", "to": "role:admin", "timeout": "1h"},
        metadata={"agent": "shipper"},
    )
    request = person.join()
    assert got.value == "Use the blue one" and got.comment == "checked stock"
    assert got.request.id == request.id
    assert request.title == "Colour" and request.context == {"order": "A-1"}
    assert request.priority == "urgent" and request.timeout == "4h"
    assert request.escalation["to"] == "role:admin"


def test_ask_with_a_response_model_returns_it_typed(client: inloop.Client, human: Start) -> None:
    human(answer({"amount": 30, "reason": "late"}))
    got = inloop.ask("How much do we refund?", response_model=Refund, client=client)
    assert got.value == Refund(amount=30, reason="late")
    assert got.request.kind == "form"


@pytest.mark.parametrize("value", [True, False])
def test_confirm_returns_the_yes_or_no(client: inloop.Client, human: Start, value: bool) -> None:
    person = human(answer(value))
    assert inloop.confirm("Delete the draft?", client=client) is value
    assert person.join().kind == "confirmation"


def test_a_request_closed_without_an_answer_raises(client: inloop.Client, human: Start) -> None:
    human(lambda _: None)
    with pytest.raises(inloop.NoAnswerError, match="cancelled"):
        inloop.ask("Anything to add?", client=client)


def test_the_same_key_returns_the_same_request_and_answer(
    client: inloop.Client, human: Start
) -> None:
    """After a crash, asking again with the key finds the answer instead of asking twice."""
    person = human(answer("ship it"))
    first = inloop.ask("Release notes ok?", key="release-42", client=client)
    person.join()
    again = inloop.ask("Release notes ok?", key="release-42", client=client)
    assert again.request.id == first.request.id and again.value == "ship it"
    with pytest.raises(inloop.ConflictError, match="different body"):
        inloop.ask("Another question", key="release-42", client=client)


def test_key_and_idempotency_key_are_one_thing(client: inloop.Client) -> None:
    with pytest.raises(inloop.UsageError, match="not both"):
        inloop.ask("Hm?", key="a", idempotency_key="b", client=client)
    with pytest.raises(inloop.UsageError, match="kind"):
        inloop.confirm("Hm?", kind="input", client=client)


async def test_aask_and_aconfirm(live: str, human: Start) -> None:
    async with inloop.AsyncClient(live, ADMIN_TOKEN) as aclient:
        person = human(answer("42"))
        got = await inloop.aask("The answer?", client=aclient, key="q-1")
        person.join()
        assert got.value == "42"
        assert (await inloop.aask("The answer?", client=aclient, key="q-1")).value == "42"
        person = human(answer(True))
        assert await inloop.aconfirm("Proceed?", client=aclient) is True
        person.join()


def test_human_as_tool_is_a_described_one_string_function(
    client: inloop.Client, human: Start
) -> None:
    """Name, docstring and a JSON schema with a single `question`; returns the answer text."""
    tool = inloop.human_as_tool(client=client, assignee="role:admin", priority="high")
    assert tool.__name__ == "ask_human" and tool.__doc__
    schema = tool.json_schema  # type: ignore[attr-defined]
    assert schema["parameters"]["required"] == ["question"]
    assert list(schema["parameters"]["properties"]) == ["question"]
    person = human(answer("Refund the customer"))
    assert tool("What should I do about order A-1?") == "Refund the customer"
    request = person.join()
    assert request.kind == "input" and request.priority == "high"
    assert request.prompt == "What should I do about order A-1?"
    with pytest.raises(inloop.UsageError, match="non-empty question"):
        tool("  ")


async def test_ahuman_as_tool_answers_with_a_key_per_question(live: str, human: Start) -> None:
    async with inloop.AsyncClient(live, ADMIN_TOKEN) as aclient:
        tool = inloop.ahuman_as_tool(client=aclient, name="consult", key="run-3")
        assert tool.__name__ == "consult"
        person = human(answer("yes"))
        assert await tool("Is the refund allowed?") == "yes"
        first = person.join()
        assert await tool("Is the refund allowed?") == "yes"  # found again, nobody asked
        assert first.idempotency_key is not None and first.idempotency_key.startswith("run-3:")
