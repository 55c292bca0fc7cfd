"""``HumanInTheLoopApprovalResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopApprovalResponseEvent

__all__ = ["HumanInTheLoopApprovalResponseEvent"]
