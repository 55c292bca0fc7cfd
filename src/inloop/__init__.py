"""Inloop: pause an AI agent, ask a human, resume.

The SDK (this package's top level) needs only httpx and pydantic; the server lives in
``inloop.server`` and is installed with the ``server`` extra.
"""

from inloop._version import __version__

__all__ = ["__version__"]
