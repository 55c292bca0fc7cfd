"""``HumanInTheLoopForm``: a typed form (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopForm

__all__ = ["HumanInTheLoopForm"]
