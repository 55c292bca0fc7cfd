"""``step`` (see ``inloop.runtime.steps``)."""

from inloop.runtime.steps import step

__all__ = ["step"]
