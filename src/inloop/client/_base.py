"""What ``Client`` and ``AsyncClient`` share: configuration, error mapping, parsing, waiting.

Nothing here does I/O; the two clients only send what this builds.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from inloop._version import __version__
from inloop.client._calls import Call, read
from inloop.client._sse import ServerSentEvent
from inloop.errors import (
    APIError,
    NoAnswerError,
    TransportError,
    UsageError,
    WaitTimeoutError,
    api_error_class,
)
from inloop.models import ANSWERED, Answer, Event, Kind, Option, Priority, Request, Status

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
#: The longest long-poll the server accepts, in seconds.
MAX_POLL = 600
#: How much longer than a long-poll a read may take before it counts as a network timeout.
POLL_MARGIN = 15.0


class CreateOptions(TypedDict, total=False):
    """The optional fields of a new request, as ``create`` and ``ask`` take them."""

    kind: Kind | str | None
    title: str | None
    description: str | None
    options: Sequence[str | Option | Mapping[str, Any]] | None
    response_schema: Mapping[str, Any] | type[BaseModel] | None
    context: Any
    display: Mapping[str, Any] | None
    priority: Priority | str | None
    assignee: str | Sequence[str] | Mapping[str, Any] | None
    timeout: str | timedelta | None
    escalation: str | Mapping[str, Any] | None
    approvals: Sequence[Mapping[str, Any]] | None
    quorum: Mapping[str, Any] | None
    assignment: Mapping[str, Any] | None
    conversation_id: str | None
    user_id: str | None
    metadata: Mapping[str, Any] | None
    callback_url: str | None
    idempotency_key: str | None
    payload: Mapping[str, Any] | None
    channels: Sequence[str | Mapping[str, Any]] | None


class RequestFilters(TypedDict, total=False):
    """The filters of a request listing; a sequence matches any of its values."""

    status: Status | str | Sequence[Status | str] | None
    kind: Kind | str | Sequence[Kind | str] | None
    priority: Priority | str | Sequence[Priority | str] | None
    assignee: str | None
    assigned_to: str | None
    conversation_id: str | None
    user_id: str | None
    created_after: datetime | str | None
    created_before: datetime | str | None
    q: str | None
    limit: int | None


class WaitBudget:
    """Splits a wait into long-polls of at most ``poll`` seconds, up to an optional deadline."""

    def __init__(self, timeout: float | None, poll: float, clock: Callable[[], float]) -> None:
        if not 0 < poll <= MAX_POLL:
            raise UsageError(f"poll must be more than 0 and at most {MAX_POLL} seconds")
        if timeout is not None and timeout < 0:
            raise UsageError("timeout must not be negative")
        self._clock = clock
        self._poll = poll
        self._deadline = None if timeout is None else clock() + timeout

    def next_poll(self) -> int:
        """Seconds to ask the server to hold the next poll; 0 once the deadline has passed."""
        if self._deadline is None:
            return math.ceil(self._poll)
        remaining = self._deadline - self._clock()
        return max(0, math.ceil(min(self._poll, remaining)))

    @property
    def expired(self) -> bool:
        return self._deadline is not None and self._clock() >= self._deadline


class BaseClient:
    """Configuration and every non-I/O step of a call."""

    #: The monotonic clock that wait deadlines are measured by; tests replace it.
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(
        self, base_url: str | None, token: str | None, timeout: float | httpx.Timeout
    ) -> None:
        url = base_url or os.environ.get("INLOOP_URL") or DEFAULT_URL
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"the server URL must start with http:// or https://, got {url!r}")
        self.base_url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("INLOOP_TOKEN") or None
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)

    def _request_args(self, call: Call[Any]) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client.build_request`` for a call."""
        headers = {"User-Agent": f"inloop-python/{__version__}", **call.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        timeout = self.timeout
        if call.stream:
            timeout = httpx.Timeout(self.timeout.connect, read=None)
        elif call.holds_for is not None:
            read = call.holds_for + max(POLL_MARGIN, self.timeout.read or 0.0)
            timeout = httpx.Timeout(self.timeout.connect, read=read)
        return {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": call.params,
            "json": call.body,
            "headers": headers,
            "timeout": timeout,
        }

    def _parse(self, call: Call[T], response: httpx.Response) -> T:
        """Raise the APIError an error response stands for, or read the answer."""
        if response.is_error:
            raise self._api_error(response)
        try:
            return call.parse(response)
        except (ValueError, KeyError, TypeError) as exc:
            raise APIError(
                response.status_code,
                "unexpected_response",
                f"the server's answer to {call.method} {call.path} could not be read: {exc}",
            ) from None

    @staticmethod
    def _api_error(response: httpx.Response) -> APIError:
        """The APIError for an error response; a body that is not the API's still explains."""
        code, message, field = f"http_{response.status_code}", "", None
        details = None
        try:
            error = response.json()["error"]
            code = str(error.get("code") or code)
            message = str(error.get("message") or "")
            field = error.get("field")
            details = error.get("details") if isinstance(error.get("details"), list) else None
        except (ValueError, KeyError, TypeError, AttributeError):
            text = response.text.strip()
            message = text[:200] if text and not text.startswith("<") else ""
        message = message or response.reason_phrase or "the server refused the call"
        return api_error_class(response.status_code)(
            response.status_code,
            code,
            message,
            field=str(field) if field is not None else None,
            request_id=response.headers.get("X-Request-ID"),
            details=details,
        )

    def _transport_error(self, exc: httpx.TransportError) -> TransportError:
        if isinstance(exc, httpx.TimeoutException):
            return TransportError(f"the Inloop server at {self.base_url} did not answer in time")
        return TransportError(f"cannot reach the Inloop server at {self.base_url}: {exc}")

    def _budget(self, timeout: float | None, poll: float) -> WaitBudget:
        return WaitBudget(timeout, poll, self.clock)

    @staticmethod
    def _stream_message(message: ServerSentEvent) -> tuple[Event, Request] | None:
        """The (event, request) pair a stream message carries; None for other messages."""
        try:
            payload = json.loads(message.data)
            return read(Event, payload["event"]), read(Request, payload["request"])
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _ask_fields(response_model: Any, fields: CreateOptions) -> CreateOptions:
        """A pydantic response_model doubles as the form's schema when none is given."""
        fields = CreateOptions(**fields)
        is_model = isinstance(response_model, type) and issubclass(response_model, BaseModel)
        asks_form = fields.get("kind") in (None, Kind.FORM) and fields.get("options") is None
        if is_model and asks_form and fields.get("response_schema") is None:
            fields["response_schema"] = response_model
        return fields

    @staticmethod
    def _answer(request: Request, response_model: Any, waited: float | None) -> Answer[Any]:
        """The answer of a closed request, or the error that says why there is none."""
        if request.is_open:
            raise WaitTimeoutError(request, waited or 0.0)
        if request.resolution not in ANSWERED:
            raise NoAnswerError(request)
        value = request.response
        if response_model is not None and value is not None:
            try:
                value = TypeAdapter(response_model).validate_python(value)
            except ValidationError as exc:
                raise UsageError(
                    f"the answer to {request.id} does not fit {response_model!r}: {exc}"
                ) from exc
        return Answer.from_request(request, value)
