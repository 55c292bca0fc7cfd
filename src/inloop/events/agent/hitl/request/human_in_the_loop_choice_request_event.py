"""``HumanInTheLoopChoiceRequestEvent`` (see ``inloop.runtime.hitl``)."""

from inloop.runtime.hitl import HumanInTheLoopChoiceRequestEvent

__all__ = ["HumanInTheLoopChoiceRequestEvent"]
