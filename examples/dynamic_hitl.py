"""Seed 002's dynamic HITL type selection: a union return type, chosen at run time.

uv run python examples/dynamic_hitl.py "I want a confirmation" --auto-answer
"""

import asyncio
import sys

from inloop import AsyncClient
from inloop.agent.agents.agent import Agent
from inloop.agent.workflow.decorators.step import step
from inloop.events.agent.control.stop.stop_event import StopEvent
from inloop.events.agent.hitl.human_in_the_loop_chat import HumanInTheLoopChat
from inloop.events.agent.hitl.human_in_the_loop_confirmation import HumanInTheLoopConfirmation
from inloop.events.agent.hitl.human_in_the_loop_input import HumanInTheLoopInput
from inloop.events.agent.user.user_message_event import UserMessageEvent


class HitlDemoAgent(Agent):
    @step()
    async def select_hitl_type(
        self, event: UserMessageEvent
    ) -> (
        HumanInTheLoopInput.request
        | HumanInTheLoopConfirmation.request
        | HumanInTheLoopChat.request
    ):
        choice = event.user_query.lower()
        if "confirmation" in choice:
            return HumanInTheLoopConfirmation.invoke("Do you confirm this action?")
        elif "chat" in choice:
            return HumanInTheLoopChat.invoke(
                "This is a chat-style question. What is your response?"
            )
        else:
            return HumanInTheLoopInput.invoke("Please enter your text input:")

    @step()
    async def handle_response(
        self,
        event: HumanInTheLoopInput.response
        | HumanInTheLoopConfirmation.response
        | HumanInTheLoopChat.response,
    ) -> StopEvent:
        if isinstance(event, HumanInTheLoopConfirmation.response):
            result = f"Confirmation: {'Yes' if event.response else 'No'}"
        else:
            result = f"Response: {event.response}"
        return StopEvent(result=result)


async def answer_when_asked(client: AsyncClient, run_id: str) -> None:
    """What a human would do in the desk: yes to a confirmation, text otherwise."""
    await client.runs.wait(run_id, timeout=60, paused=True)
    for request in (await client.runs.get(run_id)).requests:
        if request.is_open:
            answer = True if request.kind == "confirmation" else "hello from the script"
            print(f"asked ({request.kind}): {request.prompt!r} -> answering {answer!r}")
            await client.respond(request.id, answer)


async def main(query: str, auto_answer: bool) -> None:
    async with HitlDemoAgent() as agent:
        handle = await agent.run(UserMessageEvent(user_query=query))
        print(f"run {handle.id} started")
        if auto_answer:
            await answer_when_asked(agent.client(), handle.id)
        print(await handle.result())


if __name__ == "__main__":
    words = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(" ".join(words) or "plain input", "--auto-answer" in sys.argv))
