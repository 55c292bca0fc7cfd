"""``HumanInTheLoopConfirmationRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopConfirmationRequestEvent

__all__ = ["HumanInTheLoopConfirmationRequestEvent"]
