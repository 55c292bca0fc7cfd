"""``HumanInTheLoopChat``: a chat message (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChat

__all__ = ["HumanInTheLoopChat"]
