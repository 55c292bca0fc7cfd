"""Seed 002's multi-step approval: two questions, each with its own event pair.

uv run python examples/multistep_approval.py --auto-answer
"""

import asyncio
import sys

from inloop import AsyncClient
from inloop.agent.agents.agent import Agent
from inloop.agent.workflow.decorators.step import step
from inloop.events.agent.control.start.start_event import StartEvent
from inloop.events.agent.control.stop.stop_event import StopEvent
from inloop.events.agent.hitl.human_in_the_loop_input import HumanInTheLoopInput
from inloop.events.agent.hitl.request.human_in_the_loop_input_request_event import (
    HumanInTheLoopInputRequestEvent,
)
from inloop.events.agent.hitl.response.human_in_the_loop_input_response_event import (
    HumanInTheLoopInputResponseEvent,
)


class FirstStepHumanInTheLoopRequestEvent(HumanInTheLoopInputRequestEvent):
    pass


class FirstStepHumanInTheLoopResponseEvent(HumanInTheLoopInputResponseEvent):
    pass


class FirstStepHumanInTheLoop(HumanInTheLoopInput):
    request = FirstStepHumanInTheLoopRequestEvent
    response = FirstStepHumanInTheLoopResponseEvent


# The short form: a subclass that names no pair gets its own (SecondStepRequestEvent, ...).
class SecondStep(HumanInTheLoopInput):
    pass


class MultistepHumanInTheLoopAgent(Agent):
    @step()
    async def start_step(self, event: StartEvent) -> FirstStepHumanInTheLoop.request:
        return FirstStepHumanInTheLoop.invoke(question="Shall I continue?")

    @step()
    async def second_hitl(self, event: FirstStepHumanInTheLoop.response) -> SecondStep.request:
        print(f"First response: {event.response}")
        return SecondStep.invoke(question="Are you sure?")

    @step()
    async def end_step(self, event: SecondStep.response) -> StopEvent:
        print(f"Second response: {event.response}")
        return StopEvent(result="both answered")


async def answer_when_asked(client: AsyncClient, run_id: str, answers: list[object]) -> None:
    """What a human would do in the desk: answer each question as the run asks it."""
    for answer in answers:
        await client.runs.wait(run_id, timeout=60, paused=True)
        for request in (await client.runs.get(run_id)).requests:
            if request.is_open:
                print(f"asked: {request.prompt!r} -> answering {answer!r}")
                await client.respond(request.id, answer)


async def main(auto_answer: bool) -> None:
    async with MultistepHumanInTheLoopAgent() as agent:
        handle = await agent.run()
        print(f"run {handle.id} started")
        if auto_answer:
            await answer_when_asked(agent.client(), handle.id, ["yes", "quite sure"])
        print(await handle.result())


if __name__ == "__main__":
    asyncio.run(main("--auto-answer" in sys.argv))
