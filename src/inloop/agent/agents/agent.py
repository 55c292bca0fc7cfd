"""``Agent`` (see ``inloop.runtime.agent``)."""

from inloop.runtime.agent import Agent

__all__ = ["Agent"]
