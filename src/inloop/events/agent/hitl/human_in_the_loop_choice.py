"""``HumanInTheLoopChoice``: one of several options (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChoice

__all__ = ["HumanInTheLoopChoice"]
