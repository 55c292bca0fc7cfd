"""The exceptions the SDK raises: one tree, rooted at ``InloopError``.

    InloopError
    ├── UsageError                  the caller misused the SDK: a bad argument, a wrong type
    ├── TransportError              the server could not be reached, or the network timed out
    ├── APIError                    the server answered with an error (status_code, code, ...)
    │   ├── BadRequestError         400: the body is not JSON
    │   ├── AuthenticationError     401: no key, an unknown key, a revoked key
    │   ├── PermissionDeniedError   403: a valid key without the needed scope
    │   ├── NotFoundError           404: no such request, user, team or key
    │   ├── ConflictError           409: already answered, a reused idempotency key, a duplicate
    │   ├── InvalidError            422: a field or an answer that does not fit
    │   ├── RateLimitError          429: too soon; ``retry_after`` says how long to wait
    │   └── ServerError             5xx: the server failed
    ├── NoAnswerError               the request closed without an answer (.request)
    └── WaitTimeoutError            the caller's wait deadline passed; still open (.request)

httpx's own exceptions never escape: they are translated where the SDK calls httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inloop.domain import Request

__all__ = [
    "RETRYABLE",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InloopError",
    "InvalidError",
    "NoAnswerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UsageError",
    "WaitTimeoutError",
]


class InloopError(Exception):
    """The root of every error the SDK raises."""


class UsageError(InloopError):
    """The SDK was called wrongly: fix the calling code."""


class TransportError(InloopError):
    """The server could not be reached, or did not answer in time."""


class APIError(InloopError):
    """The server refused the call; ``code`` is stable, ``message`` is for people."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
        details: list[Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.request_id = request_id
        #: Every problem when there are several (``{"path", "message"}``), e.g. a workflow's.
        self.details = details
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (field: {self.field})" if self.field else ""
        return f"{self.status_code} {self.code}: {self.message}{where}"


class BadRequestError(APIError):
    """400: the server could not read the call."""


class AuthenticationError(APIError):
    """401: the token is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403: the token is valid but lacks the scope the call needs."""


class NotFoundError(APIError):
    """404: no such request, user, team or key."""


class ConflictError(APIError):
    """409: the current state forbids the call, e.g. a second answer."""


class InvalidError(APIError):
    """422: a field, or an answer, does not fit; ``field`` says which."""


class RateLimitError(APIError):
    """429: too soon (a resend within its interval); ``retry_after`` is in seconds."""

    @property
    def retry_after(self) -> int | None:
        for detail in self.details or []:
            if isinstance(detail, dict) and detail.get("path") == "retry_after":
                return int(detail["message"])
        return None


class ServerError(APIError):
    """5xx: the server failed; retrying later may help."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidError,
    429: RateLimitError,
}


#: The errors worth trying again later: the server was unreachable or failed. Every other
#: error says something a retry cannot change (bad input, wrong credentials, a conflict).
RETRYABLE: tuple[type[InloopError], ...] = (TransportError, ServerError)


def api_error_class(status_code: int) -> type[APIError]:
    """The APIError subclass for an HTTP status code."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)


class NoAnswerError(InloopError):
    """The request closed without an answer: cancelled, timed out or transferred."""

    def __init__(self, request: Request) -> None:
        self.request = request
        how = request.resolution.value if request.resolution else request.status.value
        super().__init__(f"request {request.id} closed without an answer ({how})")


class WaitTimeoutError(InloopError):
    """The caller stopped waiting; the request is still open on the server."""

    def __init__(self, request: Request, waited: float) -> None:
        self.request = request
        super().__init__(
            f"request {request.id} is still {request.status.value} after waiting {waited:g}s"
        )
