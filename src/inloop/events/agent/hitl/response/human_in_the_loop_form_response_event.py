"""``HumanInTheLoopFormResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopFormResponseEvent

__all__ = ["HumanInTheLoopFormResponseEvent"]
