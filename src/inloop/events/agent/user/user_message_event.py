"""``UserMessageEvent`` (see ``inloop.runtime.events``)."""

from inloop.runtime.events import UserMessageEvent

__all__ = ["UserMessageEvent"]
