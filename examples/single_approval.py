"""Seed 002's single approval: the run pauses on a question and resumes with the answer.

    uv run python examples/single_approval.py                 # answer it yourself (see below)
    uv run python examples/single_approval.py --auto-answer   # the script answers itself

With no INLOOP_URL, an Inloop server runs inside this process (embedded mode) and prints
how to answer from another terminal; with INLOOP_URL, the run lives on that server, and
`inloop worker examples.single_approval:ApprovalAgent` can finish it if this script dies.
"""

import asyncio
import sys

from inloop import AsyncClient
from inloop.agent.agents.agent import Agent
from inloop.agent.workflow.decorators.step import step
from inloop.events.agent.control.start.start_event import StartEvent
from inloop.events.agent.control.stop.stop_event import StopEvent
from inloop.events.agent.hitl.human_in_the_loop_input import HumanInTheLoopInput


class ApprovalAgent(Agent):
    @step()
    async def request_approval(self, event: StartEvent) -> HumanInTheLoopInput.request:
        return HumanInTheLoopInput.invoke(question="Please enter your feedback:")

    @step()
    async def handle_response(self, event: HumanInTheLoopInput.response) -> StopEvent:
        user_response = event.response
        return StopEvent(result=f"feedback received: {user_response}")


async def answer_when_asked(client: AsyncClient, run_id: str, answers: list[object]) -> None:
    """What a human would do in the desk: answer each question as the run asks it."""
    for answer in answers:
        await client.runs.wait(run_id, timeout=60, paused=True)
        for request in (await client.runs.get(run_id)).requests:
            if request.is_open:
                print(f"asked: {request.prompt!r} -> answering {answer!r}")
                await client.respond(request.id, answer)


async def main(auto_answer: bool) -> None:
    async with ApprovalAgent() as agent:
        handle = await agent.run()
        print(f"run {handle.id} started; it waits for a human (no timeout)")
        if auto_answer:
            await answer_when_asked(agent.client(), handle.id, ["ship it"])
        print(await handle.result())


if __name__ == "__main__":
    asyncio.run(main("--auto-answer" in sys.argv))
