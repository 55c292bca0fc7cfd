"""An agent class is checked when it is defined; each mistake names the steps and the fix."""

import pytest
from pydantic import BaseModel

from inloop import UsageError
from inloop.runtime import (
    Agent,
    AgentDefinitionError,
    Event,
    HumanInTheLoopChoice,
    HumanInTheLoopConfirmation,
    HumanInTheLoopForm,
    HumanInTheLoopInput,
    StartEvent,
    StopEvent,
    step,
)


class Draft(Event):
    text: str


def test_two_steps_consuming_one_type() -> None:
    """Reusing one HITL pair for two questions is ambiguous: the error says so."""
    with pytest.raises(AgentDefinitionError) as caught:

        class Twice(Agent):
            @step()
            async def first(self, event: StartEvent) -> HumanInTheLoopInput.request:
                return HumanInTheLoopInput.invoke("one?")

            @step()
            async def second(self, event: HumanInTheLoopInput.response) -> StopEvent:
                return StopEvent()

            @step()
            async def third(self, event: HumanInTheLoopInput.response) -> StopEvent:
                return StopEvent()

    assert str(caught.value) == (
        "Twice: steps second and third both consume HumanInTheLoopInputResponseEvent. "
        "A step is chosen by the type of its event, so each event type has one consuming "
        "step. Give each interaction its own event type, e.g. `class "
        "SecondInputResponseEvent(...): ...` (a HITL subclass such as `class "
        "SecondQuestion(HumanInTheLoopInput): pass` gets its own request/response pair)."
    )


def test_emitted_event_without_consumer() -> None:
    with pytest.raises(AgentDefinitionError) as caught:

        class Orphan(Agent):
            @step()
            async def begin(self, event: StartEvent) -> Draft:
                return Draft(text="x")

    assert str(caught.value) == (
        "Orphan: step begin emits Draft, but no step consumes Draft. Add a step whose event "
        "parameter is annotated `Draft` (or remove it from begin's return annotation)."
    )


def test_request_whose_response_has_no_consumer() -> None:
    with pytest.raises(AgentDefinitionError) as caught:

        class Unanswered(Agent):
            @step()
            async def begin(self, event: StartEvent) -> HumanInTheLoopConfirmation.request:
                return HumanInTheLoopConfirmation.invoke("ok?")

    assert str(caught.value) == (
        "Unanswered: step begin asks HumanInTheLoopConfirmationRequestEvent, answered with "
        "HumanInTheLoopConfirmationResponseEvent, but no step consumes "
        "HumanInTheLoopConfirmationResponseEvent. Add a step whose event parameter is "
        "annotated `HumanInTheLoopConfirmationResponseEvent` (or remove it from begin's "
        "return annotation)."
    )


def test_no_start_consumer() -> None:
    with pytest.raises(AgentDefinitionError) as caught:

        class Headless(Agent):
            @step()
            async def only(self, event: Draft) -> StopEvent:
                return StopEvent()

    assert str(caught.value) == (
        "Headless: no step consumes a StartEvent, so no run can start. Add a step whose "
        "event parameter is annotated `StartEvent` (or a subclass such as UserMessageEvent)."
    )


def test_unannotated_steps() -> None:
    with pytest.raises(AgentDefinitionError, match="annotate its event parameter 'event'"):

        class NoType(Agent):
            @step()
            async def begin(self, event) -> StopEvent:  # type: ignore[no-untyped-def]
                return StopEvent()

    with pytest.raises(AgentDefinitionError, match="annotate what the step returns"):

        class NoReturn(Agent):
            @step()
            async def begin(self, event: StartEvent):  # type: ignore[no-untyped-def]
                return StopEvent()


def test_consuming_a_request_event_is_refused() -> None:
    with pytest.raises(AgentDefinitionError, match="a step consumes the answer instead"):

        class Backwards(Agent):
            @step()
            async def begin(self, event: StartEvent) -> StopEvent:
                return StopEvent()

            @step()
            async def wrong(self, event: HumanInTheLoopInput.request) -> StopEvent:
                return StopEvent()


def test_same_event_name_twice() -> None:
    """Events travel by class name; two classes of one name in an agent are refused."""
    first = type("Note", (Event,), {"__module__": "a"})
    second = type("Note", (Event,), {"__module__": "b"})
    with pytest.raises(AgentDefinitionError, match="two event types are named Note"):

        class Clash(Agent):
            @step()
            async def begin(self, event: StartEvent) -> first | second:  # type: ignore[valid-type]
                return first()

            @step()
            async def one(self, event: first) -> StopEvent:  # type: ignore[valid-type]
                return StopEvent()

            @step()
            async def two(self, event: second) -> StopEvent:  # type: ignore[valid-type]
                return StopEvent()


def test_fresh_pairs_from_subclasses() -> None:
    """A HITL subclass that names no pair gets its own, so two questions need no boilerplate."""

    class Continue(HumanInTheLoopInput):
        pass

    class Sure(HumanInTheLoopInput):
        pass

    class TwoQuestions(Agent):
        @step()
        async def begin(self, event: StartEvent) -> Continue.request:
            return Continue.invoke("Continue?")

        @step()
        async def middle(self, event: Continue.response) -> Sure.request:
            return Sure.invoke("Sure?")

        @step()
        async def end(self, event: Sure.response) -> StopEvent:
            return StopEvent()

    assert Continue.request.__name__ == "ContinueRequestEvent"
    assert Continue.request.response_type is Continue.response
    assert set(TwoQuestions.dispatch().by_name) == {
        "StartEvent",
        "ContinueResponseEvent",
        "SureResponseEvent",
    }


def test_invoke_takes_every_request_field_and_checks_them() -> None:
    event = HumanInTheLoopConfirmation.invoke(
        "Refund 120 EUR?",
        title="Refund",
        description="Customer 42",
        context={"amount": 120},
        display={"layout": "side-by-side", "highlight": ["amount"]},
        priority="high",
        assignee="role:finance",
        timeout="4h",
        escalation={"action": "auto_reject"},
        metadata={"ticket": "T-1"},
    )
    body = event.request_body()
    assert body["kind"] == "confirmation" and body["prompt"] == "Refund 120 EUR?"
    assert body["assignee"] == "role:finance" and body["escalation"] == {"action": "auto_reject"}
    request = event.new_request()
    assert request.priority == "high" and request.timeout == "4h"
    with pytest.raises(UsageError, match="an escalation needs a timeout"):
        HumanInTheLoopConfirmation.invoke("x?", escalation={"action": "auto_reject"})
    with pytest.raises(UsageError, match="question is blank"):
        HumanInTheLoopInput.invoke("   ")
    with pytest.raises(UsageError, match=r"unknown field\(s\) asignee"):
        HumanInTheLoopInput.invoke("x?", asignee="user:bob")
    with pytest.raises(UsageError, match="needs options"):
        HumanInTheLoopChoice.invoke("Which?")


def test_form_with_a_model() -> None:
    class Address(BaseModel):
        street: str
        city: str

    class Shipping(HumanInTheLoopForm):
        model = Address

    event = Shipping.invoke("Where to?")
    assert event.request_body()["response_schema"]["required"] == ["street", "city"]
    answer = Shipping.response.model_validate(
        {"response": {"street": "Main 1", "city": "Bern"}, "request_id": "req_1"}
    )
    assert answer.response == Address(street="Main 1", city="Bern")


class Contact(BaseModel):
    email: str


def test_base_form_with_an_importable_model() -> None:
    """``HumanInTheLoopForm.invoke(schema=Model)``: the answer comes back as the model where
    the model can be imported (its module path travels with the request event)."""
    asked = HumanInTheLoopForm.invoke("Who?", schema=Contact)
    assert asked.request_body()["response_schema"]["required"] == ["email"]
    assert "response_model" not in asked.request_body()
    answer = HumanInTheLoopForm.response.model_validate(
        {"response": {"email": "a@b.c"}, "request_id": "r", "request_event": asked.wire_payload()}
    )
    assert answer.response == Contact(email="a@b.c")
    raw = HumanInTheLoopForm.invoke("Who?", schema={"type": "object"})
    plain = HumanInTheLoopForm.response.model_validate(
        {"response": {"x": 1}, "request_id": "r", "request_event": raw.wire_payload()}
    )
    assert plain.response == {"x": 1}
    with pytest.raises(UsageError, match="unknown field"):
        HumanInTheLoopForm.invoke("Who?", schema=Contact, colour="red")


def test_a_model_path_from_event_data_is_never_imported() -> None:
    """The model path of a form's request event comes from stored data: a module this
    process has not loaded stays unloaded, and the answer stays JSON."""
    import sys

    asked = HumanInTheLoopForm.invoke("Who?", schema=Contact).wire_payload()
    asked["response_model"] = "antigravity:Flying"  # importing it would open a browser
    answer = HumanInTheLoopForm.response.model_validate(
        {"response": {"email": "a@b.c"}, "request_id": "r", "request_event": asked}
    )
    assert answer.response == {"email": "a@b.c"}
    assert "antigravity" not in sys.modules


def test_an_agent_defined_inside_a_function_with_string_annotations() -> None:
    """Steps may name HITL pairs defined beside the agent in a function, also when
    annotations are strings (``from __future__ import annotations``)."""
    namespace: dict[str, object] = {}
    exec(  # noqa: S102 (a module with string annotations, written here to keep it beside the test)
        compile(
            "from __future__ import annotations\n"
            "from inloop.runtime import Agent, HumanInTheLoopConfirmation, StartEvent, StopEvent, step\n"
            "def make():\n"
            "    class Sure(HumanInTheLoopConfirmation): ...\n"
            "    class Local(Agent):\n"
            "        @step()\n"
            "        async def ask(self, event: StartEvent) -> Sure.request:\n"
            "            return Sure.invoke('Sure?')\n"
            "        @step()\n"
            "        async def done(self, event: Sure.response) -> StopEvent:\n"
            "            return StopEvent(result=event.response)\n"
            "    return Local\n",
            "<local agent>",
            "exec",
        ),
        namespace,
    )
    local = namespace["make"]()  # type: ignore[operator]
    assert set(local.dispatch().by_name) == {"StartEvent", "SureResponseEvent"}


def test_the_seed_paths_with_swiss_ai_hub_renamed_to_inloop() -> None:
    """Seed 002 writes ``swiss_ai_hub.core.events...``: ``inloop.core.events...`` is the
    same modules, so the classes are the same objects."""
    from inloop.core.events.agent.control.start.start_event import StartEvent as Start
    from inloop.core.events.agent.hitl.human_in_the_loop_input import HumanInTheLoopInput as Input
    from inloop.core.events.agent.hitl.request.human_in_the_loop_input_request_event import (
        HumanInTheLoopInputRequestEvent,
    )

    import inloop

    assert Input is HumanInTheLoopInput and Start is StartEvent
    assert HumanInTheLoopInputRequestEvent is inloop.HumanInTheLoopInputRequestEvent
    assert issubclass(HumanInTheLoopInputRequestEvent, inloop.runtime.DisplayEvent)
    assert issubclass(HumanInTheLoopInputRequestEvent, inloop.runtime.ControlEvent)


def test_an_approval_pair_offers_modify_with_a_payload() -> None:
    from inloop.runtime import HumanInTheLoopApproval

    plain = HumanInTheLoopApproval.invoke("Deploy?").request_body()
    assert plain["kind"] == "approval" and plain["options"] == ["approve", "reject"]
    action = {"function": "deploy", "arguments": {"version": "2.3"}}
    body = HumanInTheLoopApproval.invoke(
        "Deploy?", payload=action, callback_url="https://example.com/hook"
    ).request_body()
    assert body["options"] == ["approve", "reject", "modify"]
    assert body["payload"] == action and body["callback_url"] == "https://example.com/hook"
