"""The durable agent runtime: ``@step`` agents, HITL event pairs, runs and workers.

See docs/runtime.md. A run lives on the server: a process that dies loses nothing but
the steps it was running, which run again in whichever worker serves the agent next.
"""

from inloop.domain.runs import Run, RunEvent, RunStatus, RunTimeline
from inloop.runtime.agent import Agent, RunCancelledError, RunFailedError, RunHandle
from inloop.runtime.bitl import (
    BotInTheLoop,
    BotInTheLoopRequestEvent,
    BotInTheLoopResponderInfo,
    BotInTheLoopResponseEvent,
    SlackConfig,
    TeamsConfig,
)
from inloop.runtime.context import Context
from inloop.runtime.events import (
    ControlEvent,
    DisplayEvent,
    Event,
    HitlContinueEvent,
    StartEvent,
    StopEvent,
    UserMessageEvent,
)
from inloop.runtime.hitl import (
    HumanInTheLoop,
    HumanInTheLoopApproval,
    HumanInTheLoopApprovalRequestEvent,
    HumanInTheLoopApprovalResponseEvent,
    HumanInTheLoopChat,
    HumanInTheLoopChatRequestEvent,
    HumanInTheLoopChatResponseEvent,
    HumanInTheLoopChoice,
    HumanInTheLoopChoiceRequestEvent,
    HumanInTheLoopChoiceResponseEvent,
    HumanInTheLoopConfirmation,
    HumanInTheLoopConfirmationRequestEvent,
    HumanInTheLoopConfirmationResponseEvent,
    HumanInTheLoopForm,
    HumanInTheLoopFormRequestEvent,
    HumanInTheLoopFormResponseEvent,
    HumanInTheLoopInput,
    HumanInTheLoopInputRequestEvent,
    HumanInTheLoopInputResponseEvent,
    HumanInTheLoopRequestEvent,
    HumanInTheLoopResponseEvent,
)
from inloop.runtime.steps import AgentDefinitionError, step
from inloop.runtime.worker import Worker

#: ``inloop.AgentEvent``: the top level's ``Event`` is the request audit record.
AgentEvent = Event

__all__ = [
    "Agent",
    "AgentDefinitionError",
    "AgentEvent",
    "BotInTheLoop",
    "BotInTheLoopRequestEvent",
    "BotInTheLoopResponderInfo",
    "BotInTheLoopResponseEvent",
    "Context",
    "ControlEvent",
    "DisplayEvent",
    "Event",
    "HitlContinueEvent",
    "HumanInTheLoop",
    "HumanInTheLoopApproval",
    "HumanInTheLoopApprovalRequestEvent",
    "HumanInTheLoopApprovalResponseEvent",
    "HumanInTheLoopChat",
    "HumanInTheLoopChatRequestEvent",
    "HumanInTheLoopChatResponseEvent",
    "HumanInTheLoopChoice",
    "HumanInTheLoopChoiceRequestEvent",
    "HumanInTheLoopChoiceResponseEvent",
    "HumanInTheLoopConfirmation",
    "HumanInTheLoopConfirmationRequestEvent",
    "HumanInTheLoopConfirmationResponseEvent",
    "HumanInTheLoopForm",
    "HumanInTheLoopFormRequestEvent",
    "HumanInTheLoopFormResponseEvent",
    "HumanInTheLoopInput",
    "HumanInTheLoopInputRequestEvent",
    "HumanInTheLoopInputResponseEvent",
    "HumanInTheLoopRequestEvent",
    "HumanInTheLoopResponseEvent",
    "Run",
    "RunCancelledError",
    "RunEvent",
    "RunFailedError",
    "RunHandle",
    "RunStatus",
    "RunTimeline",
    "SlackConfig",
    "StartEvent",
    "StopEvent",
    "TeamsConfig",
    "UserMessageEvent",
    "Worker",
    "step",
]
