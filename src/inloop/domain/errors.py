"""Errors raised by the domain and the services.

    DomainError                 the root; every error names a stable ``code``
    ├── InvalidError            bad input: says what and which ``field`` (HTTP 422)
    ├── NotFoundError           no such thing (404)
    ├── ConflictError           the state forbids it: a second answer, a reused key (409)
    ├── AuthenticationError     no valid credentials (401)
    ├── PermissionDeniedError   valid credentials, not allowed (403)
    └── RateLimitedError        too soon: try again in ``retry_after`` seconds (429)

The server maps these to HTTP in one place (``inloop.server.api.errors``).
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    #: Further problems of the same input, each a ``{"path", "message"}`` (e.g. every
    #: problem of a workflow definition); the API sends them as ``error.details``.
    details: list[dict[str, str]] | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidError(DomainError):
    code = "invalid"


class NotFoundError(DomainError):
    code = "not_found"


class ConflictError(DomainError):
    code = "conflict"


class AuthenticationError(DomainError):
    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    code = "forbidden"


class RateLimitedError(DomainError):
    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: int, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after = retry_after
        self.details = [{"path": "retry_after", "message": str(retry_after)}]
