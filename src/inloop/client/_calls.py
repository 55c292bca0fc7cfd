"""What each endpoint sends and how its answer is read, with no I/O.

Each function returns a ``Call``; ``Client`` and ``AsyncClient`` send it and hand its
response to ``Call.parse``, so the sync and async clients cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from inloop.errors import UsageError
from inloop.models import ApiKey, CreatedApiKey, Event, Health, Me, Page, Request, Role, Team, User

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Unset(Enum):
    """The type of ``UNSET``: an argument that was not given, where None means something."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP call, ready to send: where, what, and how to read the answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds the server may hold the call open (a long-poll); reads wait that much longer.
    holds_for: float | None = None
    stream: bool = False


def read(model: type[M], data: Any) -> M:
    """``data`` as a ``model``, keeping the fields a newer server sends that it does not name.

    They stay readable as attributes (``request.candidates``) and in ``model_extra``.
    """
    return model.model_validate(data, extra="allow")


def one(model: type[M]) -> Callable[[httpx.Response], M]:
    """A parser for a body that is one ``model``."""
    return lambda response: read(model, response.json())


def items(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    """A parser for an ``{"items": [...]}`` body."""
    return lambda response: [read(model, item) for item in response.json()["items"]]


def nothing(response: httpx.Response) -> None:
    """A parser for a body the SDK ignores."""


def _page(response: httpx.Response) -> Page[Request]:
    body = response.json()
    return Page([read(Request, item) for item in body["items"]], body.get("next_cursor"))


def segment(value: str) -> str:
    """One URL path segment; handles and ids may hold characters such as ``@`` or ``/``."""
    if not value:
        raise UsageError("an id, handle or name must not be empty")
    return quote(value, safe="")


def json_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of the fields that were given (None means "not given")."""
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, type) and issubclass(value, BaseModel):
            value = value.model_json_schema()
        try:
            body[name] = to_jsonable_python(value)
        except PydanticSerializationError as exc:
            raise UsageError(f"{name} is not JSON-serializable: {exc}") from None
    return body


def query(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters from filters; a sequence repeats the parameter."""
    return {name: _param(value) for name, value in filters.items() if value is not None}


def _param(value: Any) -> Any:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        # A time without a timezone is taken as UTC, as the server would.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_param(item) for item in value]
    raise UsageError(f"cannot send {value!r} as a query parameter")


def create(prompt: str, fields: Mapping[str, Any], idempotency_key: str | None) -> Call[Request]:
    """``POST /v1/requests``; the idempotency key travels as a header."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    body = json_body({"prompt": prompt, **fields})
    return Call("POST", "/v1/requests", one(Request), body=body, headers=headers)


def list_requests(filters: Mapping[str, Any]) -> Call[Page[Request]]:
    """``GET /v1/requests`` with filters and a cursor."""
    return Call("GET", "/v1/requests", _page, params=query(filters))


def get(id: str) -> Call[Request]:
    return Call("GET", f"/v1/requests/{segment(id)}", one(Request))


def respond(
    id: str, response: Any, comment: str | None, edited: Mapping[str, Any] | None = None
) -> Call[Request]:
    body = json_body({"response": response, "comment": comment, "edited": edited})
    return Call("POST", f"/v1/requests/{segment(id)}/respond", one(Request), body=body)


def cancel(id: str, reason: str | None) -> Call[Request]:
    body = json_body({"reason": reason})
    return Call("POST", f"/v1/requests/{segment(id)}/cancel", one(Request), body=body)


def claim(id: str) -> Call[Request]:
    return Call("POST", f"/v1/requests/{segment(id)}/claim", one(Request))


def release(id: str, reason: str | None) -> Call[Request]:
    body = json_body({"reason": reason})
    return Call("POST", f"/v1/requests/{segment(id)}/release", one(Request), body=body)


def reassign(id: str, to: str, reason: str | None) -> Call[Request]:
    body = json_body({"to": to, "reason": reason})
    return Call("POST", f"/v1/requests/{segment(id)}/reassign", one(Request), body=body)


def escalate(id: str, reason: str | None) -> Call[Request]:
    body = json_body({"reason": reason})
    return Call("POST", f"/v1/requests/{segment(id)}/escalate", one(Request), body=body)


def wait(id: str, seconds: int) -> Call[Request]:
    """One long-poll: the server answers when the request closes or ``seconds`` pass."""
    path = f"/v1/requests/{segment(id)}/wait"
    return Call("GET", path, one(Request), params={"timeout": seconds}, holds_for=seconds)


def events(id: str) -> Call[list[Event]]:
    return Call("GET", f"/v1/requests/{segment(id)}/events", items(Event))


def event_stream(filters: Mapping[str, Any], last_event_id: str | None) -> Call[None]:
    """``GET /v1/events``, read as a stream by the caller."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return Call("GET", "/v1/events", nothing, params=query(filters), headers=headers, stream=True)


def me() -> Call[Me]:
    return Call("GET", "/v1/me", one(Me))


def health() -> Call[Health]:
    return Call("GET", "/healthz", one(Health))


def user(method: str, handle: str, body: Any = None) -> Call[User]:
    """A call on one user: read, update."""
    return Call(method, f"/v1/users/{segment(handle)}", one(User), body=body)


def update_user(handle: str, fields: Mapping[str, Any], capacity: int | Unset | None) -> Call[User]:
    """``PATCH /v1/users/{handle}``: the given fields; ``capacity=None`` clears it."""
    body = json_body(fields)
    if capacity is not UNSET:
        body["capacity"] = capacity
    return user("PATCH", handle, body)


def presence(value: str, handle: str | None) -> Call[User]:
    """Set the caller's presence, or with a handle, that user's."""
    path = "/v1/me/presence" if handle is None else f"/v1/users/{segment(handle)}/presence"
    return Call("PUT", path, one(User), body=json_body({"presence": value}))


def role(method: str, handle: str, role: str) -> Call[User]:
    """Grant (PUT) or revoke (DELETE) a role."""
    return Call(method, f"/v1/users/{segment(handle)}/roles/{segment(role)}", one(User))


def team(method: str, name: str) -> Call[Team]:
    return Call(method, f"/v1/teams/{segment(name)}", one(Team))


def member(method: str, team: str, handle: str) -> Call[Team]:
    """Add (PUT) or remove (DELETE) a team member."""
    return Call(method, f"/v1/teams/{segment(team)}/members/{segment(handle)}", one(Team))


def create_user(fields: Mapping[str, Any]) -> Call[User]:
    return Call("POST", "/v1/users", one(User), body=json_body(fields))


def create_team(fields: Mapping[str, Any]) -> Call[Team]:
    return Call("POST", "/v1/teams", one(Team), body=json_body(fields))


def create_key(fields: Mapping[str, Any]) -> Call[CreatedApiKey]:
    return Call("POST", "/v1/keys", one(CreatedApiKey), body=json_body(fields))


def list_users() -> Call[list[User]]:
    return Call("GET", "/v1/users", items(User))


def list_roles() -> Call[list[Role]]:
    return Call("GET", "/v1/roles", items(Role))


def list_teams() -> Call[list[Team]]:
    return Call("GET", "/v1/teams", items(Team))


def list_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/v1/keys", items(ApiKey))


def delete_team(name: str) -> Call[None]:
    return Call("DELETE", f"/v1/teams/{segment(name)}", nothing)


def revoke_key(id: str) -> Call[ApiKey]:
    return Call("DELETE", f"/v1/keys/{segment(id)}", one(ApiKey))
