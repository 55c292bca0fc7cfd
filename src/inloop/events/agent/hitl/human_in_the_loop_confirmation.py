"""``HumanInTheLoopConfirmation``: yes or no (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopConfirmation

__all__ = ["HumanInTheLoopConfirmation"]
