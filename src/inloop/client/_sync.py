"""``inloop.Client``: the blocking client."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack, overload

import httpx
from pydantic import BaseModel

from inloop.client import _calls as calls
from inloop.client._agent_sessions import Sessions
from inloop.client._base import DEFAULT_TIMEOUT, BaseClient, CreateOptions, RequestFilters
from inloop.client._channels import SyncChannels
from inloop.client._confirmations import Confirmations
from inloop.client._conversations import Conversations, SyncHandoff
from inloop.client._identity import SyncIdentity
from inloop.client._monitoring import SyncMonitoring
from inloop.client._routing import SyncRouting
from inloop.client._runs import Runs
from inloop.client._sse import SSEDecoder
from inloop.client._tickets import Tickets
from inloop.client._workflows import Workflows
from inloop.models import Answer, Event, Health, Kind, Option, Page, Priority, Request, Status

T = TypeVar("T")


class Client(SyncHandoff, SyncRouting, SyncIdentity, SyncChannels, SyncMonitoring, BaseClient):
    """Talks to an Inloop server. ``base_url`` defaults to ``$INLOOP_URL``, ``token`` to
    ``$INLOOP_TOKEN``. Close it, or use it as a context manager."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def conversations(self) -> Conversations:
        """Conversations with customers: open, send, read, consult, the event log."""
        return Conversations(self._send)

    @property
    def runs(self) -> Runs:
        """Durable agent runs: start, list, get, cancel, wait (see inloop.runtime)."""
        return Runs(self._send)

    @property
    def sessions(self) -> Sessions:
        """Agent sessions (seed 004): state with reasoning, turns, history."""
        return Sessions(self._send)

    @property
    def tickets(self) -> Tickets:
        """Handoff tickets (seed 004's escalate_to_human) and their priority rules."""
        return Tickets(self._send)

    @property
    def confirmations(self) -> Confirmations:
        """End-user confirmations: yes/no, or a code by email and SMS (multi-factor)."""
        return Confirmations(self._send)

    @property
    def workflows(self) -> Workflows:
        """Declarative workflow runs: validate, start, get (see docs/workflows.md)."""
        return Workflows(self._send)

    def close(self) -> None:
        """Close the connections, unless the ``http_client`` was passed in."""
        if self._owns_http:
            self._http.close()

    def _send(self, call: calls.Call[T]) -> T:
        try:
            response = self._http.send(self._http.build_request(**self._request_args(call)))
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return self._parse(call, response)

    def create(
        self,
        prompt: str,
        *,
        kind: Kind | str | None = None,
        title: str | None = None,
        description: str | None = None,
        options: Sequence[str | Option | Mapping[str, Any]] | None = None,
        response_schema: Mapping[str, Any] | type[BaseModel] | None = None,
        context: Any = None,
        display: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        assignee: str | Sequence[str] | Mapping[str, Any] | None = None,
        timeout: str | timedelta | None = None,
        escalation: str | Mapping[str, Any] | None = None,
        approvals: Sequence[Mapping[str, Any]] | None = None,
        quorum: Mapping[str, Any] | None = None,
        assignment: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        payload: Mapping[str, Any] | None = None,
        channels: Sequence[str | Mapping[str, Any]] | None = None,
    ) -> Request:
        """Ask a question; returns the pending request at once. Only given fields are sent.

        ``response_schema`` may be a pydantic model class: its JSON Schema is sent. With an
        ``idempotency_key``, a retried create returns the first request instead of a second.
        ``approvals`` (levels), ``quorum`` and ``assignment`` are described in docs/routing.md.
        ``payload`` (a JSON object) is the proposed action, which an answer of modify or
        edit sends back changed as ``request.edited``. ``channels`` says where people are
        told (docs/channels.md): channel names, or destinations such as
        ``{"channel": "slack", "to": "C0123456789"}``; ``[]`` for the desk only.
        """
        fields = {k: v for k, v in locals().items() if k not in ("self", "prompt")}
        del fields["idempotency_key"]
        return self._send(calls.create(prompt, fields, idempotency_key))

    def get(self, id: str) -> Request:
        """The request with this id."""
        return self._send(calls.get(id))

    def list(
        self,
        *,
        status: Status | str | Sequence[Status | str] | None = None,
        kind: Kind | str | Sequence[Kind | str] | None = None,
        priority: Priority | str | Sequence[Priority | str] | None = None,
        assignee: str | None = None,
        assigned_to: str | None = None,
        conversation_id: str | None = None,
        user_id: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Request]:
        """One page of requests, urgent first, then oldest first; see ``iter`` for all."""
        filters = {k: v for k, v in locals().items() if k != "self"}
        return self._send(calls.list_requests(filters))

    def iter(self, **filters: Unpack[RequestFilters]) -> Iterator[Request]:
        """Every request matching the filters of ``list``, following the cursors."""
        cursor = None
        while True:
            page = self.list(**filters, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def respond(
        self,
        id: str,
        response: Any,
        *,
        comment: str | None = None,
        edited: Mapping[str, Any] | None = None,
    ) -> Request:
        """Answer a request as the token's actor; returns the resolved request.

        ``edited`` is the changed payload, sent with the answer modify (or edit) to a
        request that has a payload.
        """
        return self._send(calls.respond(id, response, comment, edited))

    def cancel(self, id: str, *, reason: str | None = None) -> Request:
        """Cancel an open request; raises ConflictError if it is already closed."""
        return self._send(calls.cancel(id, reason))

    def wait(self, id: str, *, timeout: float | None = None, poll: float = 30.0) -> Request:
        """Block until the request closes, in server long-polls of at most ``poll`` seconds.

        With ``timeout`` (seconds), returns once it passes even if the request is still
        open: check ``request.is_open``. ``timeout=0`` looks once without waiting.
        """
        budget = self._budget(timeout, poll)
        while True:
            request = self._send(calls.wait(id, budget.next_poll()))
            if not request.is_open or budget.expired:
                return request

    def events(self, id: str) -> builtins.list[Event]:
        """The request's audit events, oldest first."""
        return self._send(calls.events(id))

    def stream_events(
        self,
        *,
        request_id: str | None = None,
        types: Sequence[str] | None = None,
        conversation_id: str | None = None,
        last_event_id: str | None = None,
    ) -> Iterator[tuple[Event, Request]]:
        """Yield (event, request) pairs as they happen; ``last_event_id`` resumes after it."""
        filters = {"request_id": request_id, "type": types, "conversation_id": conversation_id}
        call = calls.event_stream(filters, last_event_id)
        request = self._http.build_request(**self._request_args(call))
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        try:
            if response.is_error:
                response.read()
                self._parse(call, response)
            decoder = SSEDecoder()
            for line in response.iter_lines():
                message = decoder.feed(line)
                pair = self._stream_message(message) if message else None
                if pair:
                    yield pair
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        finally:
            response.close()

    @overload
    def ask(
        self,
        prompt: str,
        *,
        timeout_wait: float | None = None,
        response_model: None = None,
        **create_kwargs: Unpack[CreateOptions],
    ) -> Answer[Any]: ...
    @overload
    def ask(
        self,
        prompt: str,
        *,
        timeout_wait: float | None = None,
        response_model: type[T],
        **create_kwargs: Unpack[CreateOptions],
    ) -> Answer[T]: ...
    def ask(
        self,
        prompt: str,
        *,
        timeout_wait: float | None = None,
        response_model: type[Any] | None = None,
        **create_kwargs: Unpack[CreateOptions],
    ) -> Answer[Any]:
        """Create a request and block until a human answers it.

        ``response_model`` parses the answer (a pydantic model also becomes the form's
        schema). Raises NoAnswerError if the request closes without an answer, and
        WaitTimeoutError if ``timeout_wait`` seconds pass first (the request stays open).
        """
        fields = self._ask_fields(response_model, create_kwargs)
        request = self.create(prompt, **fields)
        request = self.wait(request.id, timeout=timeout_wait)
        return self._answer(request, response_model, timeout_wait)

    def health(self) -> Health:
        """The server's health; needs no token."""
        return self._send(calls.health())
