"""``BotInTheLoop``: ask in Slack or Teams (see ``inloop.runtime.bitl``)."""

from inloop.runtime.bitl import BotInTheLoop

__all__ = ["BotInTheLoop"]
