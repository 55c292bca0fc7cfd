"""The HTTP clients: ``Client`` (blocking) and ``AsyncClient`` (asyncio)."""

from inloop.client._async import AsyncClient
from inloop.client._sync import Client

__all__ = ["AsyncClient", "Client"]
