"""``HumanInTheLoopChatRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChatRequestEvent

__all__ = ["HumanInTheLoopChatRequestEvent"]
