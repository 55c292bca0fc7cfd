"""Who works on a request (claim, release, reassign, escalate) and presence, sync and async.

Each is one call; the clients mix these in and supply ``_send``. See docs/routing.md.
"""

from __future__ import annotations

from typing import TypeVar

from inloop.client import _calls as calls
from inloop.models import Request, User

T = TypeVar("T")


class SyncRouting:
    """Assignment and presence for ``Client``."""

    def _send(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    def claim(self, id: str) -> Request:
        """Assign a request to the caller; ConflictError if someone else holds it."""
        return self._send(calls.claim(id))

    def release(self, id: str, *, reason: str | None = None) -> Request:
        """Give a request back to its candidates (its assignee or an admin)."""
        return self._send(calls.release(id, reason))

    def reassign(self, id: str, to: str, *, reason: str | None = None) -> Request:
        """Hand a request to ``user:<handle>``, or make a ``role:``/``team:`` its candidates."""
        return self._send(calls.reassign(id, to, reason))

    def escalate(self, id: str, *, reason: str | None = None) -> Request:
        """Run the request's escalation now, as if its timeout had passed."""
        return self._send(calls.escalate(id, reason))

    def set_presence(self, presence: str, *, user: str | None = None) -> User:
        """Set ``online``, ``away`` or ``offline``: the caller's, or a user's (admin)."""
        return self._send(calls.presence(presence, user))


class AsyncRouting:
    """Assignment and presence for ``AsyncClient``."""

    async def _send(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    async def claim(self, id: str) -> Request:
        """Assign a request to the caller; ConflictError if someone else holds it."""
        return await self._send(calls.claim(id))

    async def release(self, id: str, *, reason: str | None = None) -> Request:
        """Give a request back to its candidates (its assignee or an admin)."""
        return await self._send(calls.release(id, reason))

    async def reassign(self, id: str, to: str, *, reason: str | None = None) -> Request:
        """Hand a request to ``user:<handle>``, or make a ``role:``/``team:`` its candidates."""
        return await self._send(calls.reassign(id, to, reason))

    async def escalate(self, id: str, *, reason: str | None = None) -> Request:
        """Run the request's escalation now, as if its timeout had passed."""
        return await self._send(calls.escalate(id, reason))

    async def set_presence(self, presence: str, *, user: str | None = None) -> User:
        """Set ``online``, ``away`` or ``offline``: the caller's, or a user's (admin)."""
        return await self._send(calls.presence(presence, user))
