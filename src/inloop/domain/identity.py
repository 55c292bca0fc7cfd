"""Who is acting: users, their roles and teams, and the principal behind a request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from inloop.domain.enums import Presence, Scope
from inloop.domain.errors import PermissionDeniedError

HANDLE = re.compile(r"[A-Za-z0-9_.@+-]{1,100}")


def _check_name(value: str) -> str:
    if not HANDLE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name: use 1 to 100 letters, digits or _ . @ + -"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]


@dataclass(frozen=True)
class Principal:
    """The caller of a service: an API key, the bootstrap admin token, or a signed-in user."""

    actor: str
    scopes: frozenset[Scope]
    user_id: str | None = None
    key_id: str | None = None
    handle: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)

    @property
    def refs(self) -> frozenset[str]:
        """The candidate refs that name this principal; ``*`` (anyone) for responders."""
        anyone = {"*"} if self.is_admin or Scope.RESPONDER in self.scopes else set()
        if self.handle is None:
            return frozenset(anyone)
        return frozenset(
            anyone
            | {f"user:{self.handle}"}
            | {f"role:{r}" for r in self.roles}
            | {f"team:{t}" for t in self.teams}
        )

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def require(self, *any_of: Scope) -> None:
        """Raise PermissionDeniedError unless the principal has one of the scopes (or admin)."""
        if self.is_admin or self.scopes.intersection(any_of):
            return
        wanted = " or ".join(s.value for s in any_of) or "admin"
        raise PermissionDeniedError(
            f"this needs the {wanted} scope; the credentials used have "
            f"{', '.join(sorted(s.value for s in self.scopes)) or 'no scopes'}",
            code="missing_scope",
        )


SYSTEM = Principal(actor="system", scopes=frozenset({Scope.ADMIN}))


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: Name = Field(description="Unique: what user:<handle> assignee specs name.")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    roles: list[str] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return sorted({_check_name(r) for r in value})


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    disabled: bool | None = None
    capacity: int | None = Field(
        default=None, ge=1, le=10_000, description="Most open assigned requests; null: no limit."
    )

    @field_validator("name", "disabled")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        # Only an explicit null gets here (defaults are not validated): the column needs a value.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null: leave it out to keep it")
        return value


class PresenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    presence: Presence


class User(BaseModel):
    id: str
    handle: str
    name: str
    email: str | None = None
    disabled: bool = False
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    created_at: datetime
    presence: Presence = Presence.ONLINE
    capacity: int | None = None
    last_active_at: datetime | None = None
    open_assigned: int = 0


class NewTeam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str | None = Field(default=None, max_length=2000)


class Team(BaseModel):
    id: str
    name: str
    description: str | None = None
    members: list[str] = Field(default_factory=list)
    created_at: datetime


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    user: str | None = Field(default=None, description="Handle of the user the key acts for.")


class ApiKey(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    user: str | None = None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CreatedApiKey(ApiKey):
    """Returned once, at creation: the only time the secret is shown."""

    secret: str
