"""``StopEvent`` (see ``inloop.runtime.events``)."""

from inloop.runtime.events import StopEvent

__all__ = ["StopEvent"]
