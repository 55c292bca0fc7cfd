"""``HumanInTheLoopInputResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopInputResponseEvent

__all__ = ["HumanInTheLoopInputResponseEvent"]
