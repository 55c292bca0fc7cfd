"""Seed 002's Bot-in-the-Loop: ask in a Slack or Teams channel, know who answered, and
go on with the conversation until the answer is yes.

    uv run python examples/bot_in_the_loop.py slack C0123456789
    uv run python examples/bot_in_the_loop.py teams 19:abc123@thread.tacv2 <tenant id> <bot id>
    uv run python examples/bot_in_the_loop.py slack C0123456789 --auto-answer

The server posts the question through its ``slack`` (or ``teams``) channel, configured
with ``inloop channels add slack slack --secret bot_token --secret signing_secret`` (see
docs/channels.md); people answer by replying in the message's thread, as the Inloop
users their accounts are linked to (``inloop channels link alice slack U0123ABCD``).
With no channel configured the question still waits in the desk. ``--auto-answer``
answers "no" then "yes" through the API, to show the loop without a Slack workspace.
"""

import asyncio
import sys

from inloop import AsyncClient
from inloop.agent.agents.agent import Agent
from inloop.agent.workflow.decorators.step import step
from inloop.events.agent.bitl.bot_in_the_loop import BotInTheLoop
from inloop.events.agent.bitl.request.bot_in_the_loop_request_event import (
    SlackConfig,
    TeamsConfig,
)
from inloop.events.agent.control.start.start_event import StartEvent
from inloop.events.agent.control.stop.stop_event import StopEvent


class MyStartEvent(StartEvent):
    user: str
    channel_config: SlackConfig | TeamsConfig


class BotInTheLoopAgent(Agent):
    """Seed 002's basic usage: one question, and who answered it."""

    @step()
    async def request_approval(self, start_event: MyStartEvent) -> BotInTheLoop.request:
        return BotInTheLoop.invoke(
            user=start_event.user,
            question="Should the agent proceed with the deployment?",
            channel_config=start_event.channel_config,  # TeamsConfig or SlackConfig
        )

    @step()
    async def handle_response(self, event: BotInTheLoop.response) -> StopEvent:
        answer = event.response
        if event.responder:
            print(f"Answered by: {event.responder.user_name} ({event.responder.user_id})")
            if event.responder.aad_object_id:  # Teams-specific
                print(f"AAD Object ID: {event.responder.aad_object_id}")
        return StopEvent(result={"answer": answer, "responder": _who(event)})


class IterativeBotAgent(Agent):
    """Seed 002's iterative conversation: ask again until the answer is yes."""

    @step()
    async def request_approval(self, start_event: MyStartEvent) -> BotInTheLoop.request:
        return BotInTheLoop.invoke(
            user=start_event.user,
            question="Should the agent proceed with the deployment?",
            channel_config=start_event.channel_config,
        )

    @step()
    async def handle_response(
        self, event: BotInTheLoop.response
    ) -> BotInTheLoop.request | StopEvent:
        if event.responder:
            print(f"{event.responder.user_name} said: {event.response}")
        if event.response.lower() == "yes":
            return StopEvent(result={"answer": event.response, "responder": _who(event)})
        else:
            return BotInTheLoop.invoke(
                user=event.request_event.user,
                question="What about now? Ready to proceed?",
                channel_config=event.request_event.channel_config,
            )


def _who(event: BotInTheLoop.response) -> dict[str, object] | None:
    return event.responder.model_dump() if event.responder else None


def config_from(args: list[str]) -> SlackConfig | TeamsConfig:
    if args[:1] == ["teams"] and len(args) >= 4:
        return TeamsConfig(channel_id=args[1], tenant_id=args[2], bot_id=args[3])
    if args[:1] == ["slack"] and len(args) >= 2:
        return SlackConfig(channel_id=args[1], service_url="https://slack.botframework.com")
    raise SystemExit(__doc__)


async def answer_when_asked(client: AsyncClient, run_id: str, answers: list[str]) -> None:
    """What the channel's members would do: answer each question as the run asks it."""
    for answer in answers:
        await client.runs.wait(run_id, timeout=60, paused=True)
        for request in (await client.runs.get(run_id)).requests:
            if request.is_open:
                print(f"asked: {request.prompt!r} -> answering {answer!r}")
                await client.respond(request.id, answer)


async def main(args: list[str]) -> None:
    auto = "--auto-answer" in args
    config = config_from([a for a in args if a != "--auto-answer"])
    async with IterativeBotAgent() as agent:
        handle = await agent.run(MyStartEvent(user="deploy-bot", channel_config=config))
        print(f"run {handle.id} started; it waits for an answer in {config.platform}")
        if auto:
            await answer_when_asked(agent.client(), handle.id, ["no", "yes"])
        print(await handle.result())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
