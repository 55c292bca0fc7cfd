"""``HumanInTheLoopApprovalRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopApprovalRequestEvent

__all__ = ["HumanInTheLoopApprovalRequestEvent"]
