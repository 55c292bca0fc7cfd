"""``HumanInTheLoopInputRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopInputRequestEvent

__all__ = ["HumanInTheLoopInputRequestEvent"]
