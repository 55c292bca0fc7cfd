"""``StartEvent`` (see ``inloop.runtime.events``)."""

from inloop.runtime.events import StartEvent

__all__ = ["StartEvent"]
