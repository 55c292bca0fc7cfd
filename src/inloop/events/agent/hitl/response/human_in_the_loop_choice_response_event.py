"""``HumanInTheLoopChoiceResponseEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChoiceResponseEvent

__all__ = ["HumanInTheLoopChoiceResponseEvent"]
