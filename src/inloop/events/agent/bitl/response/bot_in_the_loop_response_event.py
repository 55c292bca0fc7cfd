"""``BotInTheLoopResponseEvent``, ``BotInTheLoopResponderInfo`` (see ``inloop.runtime.bitl``)."""

from inloop.runtime.bitl import BotInTheLoopResponderInfo, BotInTheLoopResponseEvent

__all__ = ["BotInTheLoopResponderInfo", "BotInTheLoopResponseEvent"]
