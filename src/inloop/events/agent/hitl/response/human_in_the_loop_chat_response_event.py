"""``HumanInTheLoopChatResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChatResponseEvent

__all__ = ["HumanInTheLoopChatResponseEvent"]
