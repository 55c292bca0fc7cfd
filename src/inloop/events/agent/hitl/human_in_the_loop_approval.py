"""``HumanInTheLoopApproval``: approve, reject or modify (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopApproval

__all__ = ["HumanInTheLoopApproval"]
