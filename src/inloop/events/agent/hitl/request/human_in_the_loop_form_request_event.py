"""``HumanInTheLoopFormRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopFormRequestEvent

__all__ = ["HumanInTheLoopFormRequestEvent"]
