"""What the SDK returns: the domain's requests and identities, pages, and answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from inloop.domain import (
    Event,
    EventType,
    Kind,
    Option,
    Priority,
    Request,
    Resolution,
    Scope,
    Status,
)
from inloop.domain.identity import ApiKey, CreatedApiKey, Team, User

__all__ = [
    "Answer",
    "ApiKey",
    "CreatedApiKey",
    "Event",
    "EventType",
    "Health",
    "Kind",
    "Me",
    "Option",
    "Page",
    "Priority",
    "Request",
    "Resolution",
    "Role",
    "Scope",
    "Status",
    "Team",
    "User",
]

T = TypeVar("T")

#: Resolutions that carry an answer; the others close a request without one.
ANSWERED = frozenset({Resolution.RESPONDED, Resolution.AUTO_APPROVED, Resolution.AUTO_REJECTED})


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next, until it is None."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A human's answer to a request, and the resolved request it came from.

    ``value`` is the response: a string for approval, choice, input and chat, a bool for
    confirmation, and for a form the submitted object (or a ``response_model`` instance).
    """

    value: T
    comment: str | None
    resolution: Resolution
    responded_by: str | None
    request: Request
    #: The changed payload, when the human answered modify (or edit); otherwise None.
    edited: dict[str, Any] | None = None

    @property
    def approved(self) -> bool:
        """False for a no: an approval answered with anything but an approving option
        (approve, approved, accept, yes) or auto-rejected, or a confirmation answered
        false. Other kinds of answer are never a no."""
        return not self.request.is_rejection

    @classmethod
    def from_request(cls, request: Request, value: Any) -> Answer[Any]:
        """The answer carried by a closed request; ``value`` is the (parsed) response."""
        assert request.resolution is not None  # the caller checked it is answered
        return Answer(
            value=value,
            comment=request.comment,
            resolution=request.resolution,
            responded_by=request.resolved_by,
            request=request,
            edited=request.edited,
        )


class Me(BaseModel):
    """Who the token acts as, and what it may do."""

    actor: str
    scopes: list[Scope]
    user: str | None = None


class Role(BaseModel):
    """A role and the handles of the users who hold it."""

    name: str
    members: list[str] = Field(default_factory=list)


class Health(BaseModel):
    """The server's health check."""

    status: str
    version: str
    database: str | None = None
