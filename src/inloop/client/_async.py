"""``inloop.AsyncClient``: the asyncio twin of ``Client``, method for method."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack, overload

import httpx
from pydantic import BaseModel

from inloop.client import _calls as calls
from inloop.client._agent_sessions import AsyncSessions
from inloop.client._base import DEFAULT_TIMEOUT, BaseClient, CreateOptions, RequestFilters
from inloop.client._channels import AsyncChannels
from inloop.client._confirmations import AsyncConfirmations
from inloop.client._conversations import AsyncConversations, AsyncHandoff
from inloop.client._identity import AsyncIdentity
from inloop.client._monitoring import AsyncMonitoring
from inloop.client._routing import AsyncRouting
from inloop.client._runs import AsyncRuns
from inloop.client._sse import SSEDecoder
from inloop.client._tickets import AsyncTickets
from inloop.client._workflows import AsyncWorkflows
from inloop.models import Answer, Event, Health, Kind, Option, Page, Priority, Request, Status

T = TypeVar("T")


class AsyncClient(
    AsyncHandoff, AsyncRouting, AsyncIdentity, AsyncChannels, AsyncMonitoring, BaseClient
):
    """Talks to an Inloop server without blocking the event loop; see ``Client``.

    Close it with ``await client.close()``, or use it as an async context manager.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def conversations(self) -> AsyncConversations:
        """Conversations with customers: open, send, read, consult, the event log."""
        return AsyncConversations(self._send)

    @property
    def runs(self) -> AsyncRuns:
        """Durable agent runs: start, list, get, cancel, wait (see inloop.runtime)."""
        return AsyncRuns(self._send)

    @property
    def sessions(self) -> AsyncSessions:
        """Agent sessions (seed 004): state with reasoning, turns, history."""
        return AsyncSessions(self._send)

    @property
    def tickets(self) -> AsyncTickets:
        """Handoff tickets (seed 004's escalate_to_human) and their priority rules."""
        return AsyncTickets(self._send)

    @property
    def confirmations(self) -> AsyncConfirmations:
        """End-user confirmations: yes/no, or a code by email and SMS (multi-factor)."""
        return AsyncConfirmations(self._send)

    @property
    def workflows(self) -> AsyncWorkflows:
        """Declarative workflow runs: validate, start, get (see docs/workflows.md)."""
        return AsyncWorkflows(self._send)

    async def close(self) -> None:
        """Close the connections, unless the ``http_client`` was passed in."""
        if self._owns_http:
            await self._http.aclose()

    aclose = close  # the name httpx users reach for

    async def _send(self, call: calls.Call[T]) -> T:
        try:
            response = await self._http.send(self._http.build_request(**self._request_args(call)))
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return self._parse(call, response)

    async def create(
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
        return await self._send(calls.create(prompt, fields, idempotency_key))

    async def get(self, id: str) -> Request:
        """The request with this id."""
        return await self._send(calls.get(id))

    async def list(
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
        return await self._send(calls.list_requests(filters))

    async def iter(self, **filters: Unpack[RequestFilters]) -> AsyncIterator[Request]:
        """Every request matching the filters of ``list``, following the cursors."""
        cursor = None
        while True:
            page = await self.list(**filters, cursor=cursor)
            for request in page.items:
                yield request
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def respond(
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
        return await self._send(calls.respond(id, response, comment, edited))

    async def cancel(self, id: str, *, reason: str | None = None) -> Request:
        """Cancel an open request; raises ConflictError if it is already closed."""
        return await self._send(calls.cancel(id, reason))

    async def wait(
        self,
        id: str,
        *,
        timeout: float | None = None,
        poll: float = 30.0,
    ) -> Request:
        """Block until the request closes, in server long-polls of at most ``poll`` seconds.

        With ``timeout`` (seconds), returns once it passes even if the request is still
        open: check ``request.is_open``. ``timeout=0`` looks once without waiting.
        """
        budget = self._budget(timeout, poll)
        while True:
            request = await self._send(calls.wait(id, budget.next_poll()))
            if not request.is_open or budget.expired:
                return request

    async def events(self, id: str) -> builtins.list[Event]:
        """The request's audit events, oldest first."""
        return await self._send(calls.events(id))

    async def stream_events(
        self,
        *,
        request_id: str | None = None,
        types: Sequence[str] | None = None,
        conversation_id: str | None = None,
        last_event_id: str | None = None,
    ) -> AsyncIterator[tuple[Event, Request]]:
        """Yield (event, request) pairs as they happen; ``last_event_id`` resumes after it."""
        filters = {"request_id": request_id, "type": types, "conversation_id": conversation_id}
        call = calls.event_stream(filters, last_event_id)
        request = self._http.build_request(**self._request_args(call))
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        try:
            if response.is_error:
                await response.aread()
                self._parse(call, response)
            decoder = SSEDecoder()
            async for line in response.aiter_lines():
                message = decoder.feed(line)
                pair = self._stream_message(message) if message else None
                if pair:
                    yield pair
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        finally:
            await response.aclose()

    @overload
    async def ask(
        self,
        prompt: str,
        *,
        timeout_wait: float | None = None,
        response_model: None = None,
        **create_kwargs: Unpack[CreateOptions],
    ) -> Answer[Any]: ...
    @overload
    async def ask(
        self,
        prompt: str,
        *,
        timeout_wait: float | None = None,
        response_model: type[T],
        **create_kwargs: Unpack[CreateOptions],
    ) -> Answer[T]: ...
    async def ask(
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
        request = await self.create(prompt, **fields)
        request = await self.wait(request.id, timeout=timeout_wait)
        return self._answer(request, response_model, timeout_wait)

    async def health(self) -> Health:
        """The server's health; needs no token."""
        return await self._send(calls.health())
