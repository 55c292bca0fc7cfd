"""``HumanInTheLoopConfirmationResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopConfirmationResponseEvent

__all__ = ["HumanInTheLoopConfirmationResponseEvent"]
