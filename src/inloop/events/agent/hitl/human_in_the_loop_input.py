"""``HumanInTheLoopInput``: free text (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopInput

__all__ = ["HumanInTheLoopInput"]
