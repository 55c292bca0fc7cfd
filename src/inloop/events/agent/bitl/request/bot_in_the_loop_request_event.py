"""``BotInTheLoopRequestEvent``, ``SlackConfig``, ``TeamsConfig`` (see ``inloop.runtime.bitl``)."""

from inloop.runtime.bitl import BotInTheLoopRequestEvent, SlackConfig, TeamsConfig

__all__ = ["BotInTheLoopRequestEvent", "SlackConfig", "TeamsConfig"]
