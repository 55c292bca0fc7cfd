"""Inloop: pause an AI agent, ask a human, resume.

The SDK (this package's top level) needs only httpx and pydantic; the server lives in
``inloop.server`` and is installed with the ``server`` extra.
"""

from inloop._version import __version__
from inloop.client import AsyncClient, Client
from inloop.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InloopError,
    InvalidError,
    NoAnswerError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    TransportError,
    UsageError,
    WaitTimeoutError,
)
from inloop.models import (
    Answer,
    ApiKey,
    CreatedApiKey,
    Event,
    EventType,
    Kind,
    Option,
    Page,
    Priority,
    Request,
    Resolution,
    Scope,
    Status,
    Team,
    User,
)

__all__ = [
    "APIError",
    "Answer",
    "ApiKey",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "CreatedApiKey",
    "Event",
    "EventType",
    "InloopError",
    "InvalidError",
    "Kind",
    "NoAnswerError",
    "NotFoundError",
    "Option",
    "Page",
    "PermissionDeniedError",
    "Priority",
    "Request",
    "Resolution",
    "Scope",
    "ServerError",
    "Status",
    "Team",
    "TransportError",
    "UsageError",
    "User",
    "WaitTimeoutError",
    "__version__",
]
