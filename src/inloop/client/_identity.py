"""The identity administration methods (users, roles, teams, keys), sync and async.

Each is one call; the clients mix these in and supply ``_send``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from inloop.client import _calls as calls
from inloop.client._calls import UNSET, Unset
from inloop.models import ApiKey, CreatedApiKey, Me, Role, Scope, Team, User

T = TypeVar("T")


class SyncIdentity:
    """Identity administration for ``Client``."""

    def _send(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    def me(self) -> Me:
        """Who the token acts as, and its scopes."""
        return self._send(calls.me())

    def create_user(
        self,
        handle: str,
        name: str,
        *,
        email: str | None = None,
        roles: Sequence[str] | None = None,
    ) -> User:
        """Create a user (admin)."""
        return self._send(
            calls.create_user({"handle": handle, "name": name, "email": email, "roles": roles})
        )

    def list_users(self) -> list[User]:
        """Every user (admin)."""
        return self._send(calls.list_users())

    def get_user(self, handle: str) -> User:
        """The user with this handle (admin)."""
        return self._send(calls.user("GET", handle))

    def update_user(
        self,
        handle: str,
        *,
        name: str | None = None,
        email: str | None = None,
        disabled: bool | None = None,
        capacity: int | Unset | None = UNSET,
    ) -> User:
        """Change the given fields of a user (admin).

        ``disabled=True`` locks them out. ``capacity`` caps their open assigned requests;
        ``capacity=None`` lifts the cap.
        """
        fields = {"name": name, "email": email, "disabled": disabled}
        return self._send(calls.update_user(handle, fields, capacity))

    def grant_role(self, handle: str, role: str) -> User:
        """Give a user a role (admin)."""
        return self._send(calls.role("PUT", handle, role))

    def revoke_role(self, handle: str, role: str) -> User:
        """Take a role from a user (admin)."""
        return self._send(calls.role("DELETE", handle, role))

    def list_roles(self) -> list[Role]:
        """Every role and its members (admin)."""
        return self._send(calls.list_roles())

    def create_team(self, name: str, *, description: str | None = None) -> Team:
        """Create a team (admin)."""
        return self._send(calls.create_team({"name": name, "description": description}))

    def list_teams(self) -> list[Team]:
        """Every team (admin)."""
        return self._send(calls.list_teams())

    def get_team(self, name: str) -> Team:
        """The team with this name (admin)."""
        return self._send(calls.team("GET", name))

    def delete_team(self, name: str) -> None:
        """Delete a team (admin)."""
        return self._send(calls.delete_team(name))

    def add_member(self, team: str, handle: str) -> Team:
        """Add a user to a team (admin)."""
        return self._send(calls.member("PUT", team, handle))

    def remove_member(self, team: str, handle: str) -> Team:
        """Remove a user from a team (admin)."""
        return self._send(calls.member("DELETE", team, handle))

    def create_key(
        self, name: str, scopes: Sequence[Scope | str], *, user: str | None = None
    ) -> CreatedApiKey:
        """Create an API key; its ``secret`` is in this answer only (admin)."""
        return self._send(calls.create_key({"name": name, "scopes": list(scopes), "user": user}))

    def list_keys(self) -> list[ApiKey]:
        """Every API key, without secrets (admin)."""
        return self._send(calls.list_keys())

    def revoke_key(self, id: str) -> ApiKey:
        """Revoke an API key; it stops working at once (admin)."""
        return self._send(calls.revoke_key(id))


class AsyncIdentity:
    """Identity administration for ``AsyncClient``."""

    async def _send(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    async def me(self) -> Me:
        """Who the token acts as, and its scopes."""
        return await self._send(calls.me())

    async def create_user(
        self,
        handle: str,
        name: str,
        *,
        email: str | None = None,
        roles: Sequence[str] | None = None,
    ) -> User:
        """Create a user (admin)."""
        return await self._send(
            calls.create_user({"handle": handle, "name": name, "email": email, "roles": roles})
        )

    async def list_users(self) -> list[User]:
        """Every user (admin)."""
        return await self._send(calls.list_users())

    async def get_user(self, handle: str) -> User:
        """The user with this handle (admin)."""
        return await self._send(calls.user("GET", handle))

    async def update_user(
        self,
        handle: str,
        *,
        name: str | None = None,
        email: str | None = None,
        disabled: bool | None = None,
        capacity: int | Unset | None = UNSET,
    ) -> User:
        """Change the given fields of a user (admin).

        ``disabled=True`` locks them out. ``capacity`` caps their open assigned requests;
        ``capacity=None`` lifts the cap.
        """
        fields = {"name": name, "email": email, "disabled": disabled}
        return await self._send(calls.update_user(handle, fields, capacity))

    async def grant_role(self, handle: str, role: str) -> User:
        """Give a user a role (admin)."""
        return await self._send(calls.role("PUT", handle, role))

    async def revoke_role(self, handle: str, role: str) -> User:
        """Take a role from a user (admin)."""
        return await self._send(calls.role("DELETE", handle, role))

    async def list_roles(self) -> list[Role]:
        """Every role and its members (admin)."""
        return await self._send(calls.list_roles())

    async def create_team(self, name: str, *, description: str | None = None) -> Team:
        """Create a team (admin)."""
        return await self._send(calls.create_team({"name": name, "description": description}))

    async def list_teams(self) -> list[Team]:
        """Every team (admin)."""
        return await self._send(calls.list_teams())

    async def get_team(self, name: str) -> Team:
        """The team with this name (admin)."""
        return await self._send(calls.team("GET", name))

    async def delete_team(self, name: str) -> None:
        """Delete a team (admin)."""
        return await self._send(calls.delete_team(name))

    async def add_member(self, team: str, handle: str) -> Team:
        """Add a user to a team (admin)."""
        return await self._send(calls.member("PUT", team, handle))

    async def remove_member(self, team: str, handle: str) -> Team:
        """Remove a user from a team (admin)."""
        return await self._send(calls.member("DELETE", team, handle))

    async def create_key(
        self, name: str, scopes: Sequence[Scope | str], *, user: str | None = None
    ) -> CreatedApiKey:
        """Create an API key; its ``secret`` is in this answer only (admin)."""
        return await self._send(
            calls.create_key({"name": name, "scopes": list(scopes), "user": user})
        )

    async def list_keys(self) -> list[ApiKey]:
        """Every API key, without secrets (admin)."""
        return await self._send(calls.list_keys())

    async def revoke_key(self, id: str) -> ApiKey:
        """Revoke an API key; it stops working at once (admin)."""
        return await self._send(calls.revoke_key(id))
