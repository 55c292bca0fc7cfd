"""``ask`` and ``confirm``: one question, a blocking (or awaited) answer.

Both create the request (with ``key`` as its idempotency key) and then wait in server
long-polls until the request closes: there is no deadline on the client's side, so only
the request's own timeout and escalation policy end a wait. A server that cannot be
reached for a while (a restart, a network cut) is retried, with growing pauses, rather
than abandoning a wait that may have lasted days.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar, Unpack, overload

from inloop.client import AsyncClient, Client
from inloop.client._base import BaseClient, CreateOptions
from inloop.errors import RETRYABLE, UsageError
from inloop.models import Answer, Kind, Request

T = TypeVar("T")

log = logging.getLogger("inloop")

#: The longest pause between two attempts to reach a server that stopped answering.
MAX_RETRY_PAUSE = 30.0
MAX_KEY = 255


@contextmanager
def using(client: Client | None) -> Iterator[Client]:
    """The given client (left open), or the default one (closed afterwards)."""
    if client is not None:
        yield client
        return
    from inloop.embedded import default_client

    with default_client() as made:
        yield made


@asynccontextmanager
async def ausing(client: AsyncClient | None) -> AsyncIterator[AsyncClient]:
    if client is not None:
        yield client
        return
    from inloop.embedded import default_async_client

    async with default_async_client() as made:
        yield made


def idempotency_key(key: str | None, fields: CreateOptions) -> str | None:
    """``key`` (or the ``idempotency_key`` field, not both), shortened to fit the server."""
    given = fields.pop("idempotency_key", None)
    if key is not None and given is not None:
        raise UsageError("give key or idempotency_key, not both (they are the same thing)")
    key = key if key is not None else given
    if key is not None and not key:
        raise UsageError("key must not be empty")
    if key is not None and len(key) > MAX_KEY:
        key = key[:190] + "~" + hashlib.sha256(key.encode()).hexdigest()
    return key


def wait_closed(client: Client, request: Request) -> Request:
    """Block until the request closes; keep trying while the server cannot be reached."""
    pause = 1.0
    _log_waiting(client, request)
    while request.is_open:
        try:
            request = client.wait(request.id)
            pause = 1.0
        except RETRYABLE as exc:
            log.warning("inloop: %s; trying again in %.0fs", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE)
    return request


async def await_closed(client: AsyncClient, request: Request) -> Request:
    pause = 1.0
    _log_waiting(client, request)
    while request.is_open:
        try:
            request = await client.wait(request.id)
            pause = 1.0
        except RETRYABLE as exc:
            log.warning("inloop: %s; trying again in %.0fs", exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE)
    return request


def _log_waiting(client: BaseClient, request: Request) -> None:
    if request.is_open:
        log.info(
            "inloop: waiting for a human to answer %s (%s) at %s",
            request.id,
            request.title,
            client.base_url,
        )


@overload
def ask(
    prompt: str,
    *,
    response_model: None = None,
    key: str | None = None,
    client: Client | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[Any]: ...
@overload
def ask(
    prompt: str,
    *,
    response_model: type[T],
    key: str | None = None,
    client: Client | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[T]: ...
def ask(
    prompt: str,
    *,
    response_model: type[Any] | None = None,
    key: str | None = None,
    client: Client | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[Any]:
    """Ask a human and block until the answer comes; every field of a request may be given.

    With ``key``, calling again (after a crash, in another process) returns the same
    request and, once given, its answer. ``response_model`` parses the answer (a pydantic
    model also becomes the form's schema). Raises NoAnswerError if the request closes
    without an answer (cancelled, timed out, transferred).
    """
    fields = BaseClient._ask_fields(response_model, fields)
    fields["idempotency_key"] = idempotency_key(key, fields)
    with using(client) as c:
        request = wait_closed(c, c.create(prompt, **fields))
        return BaseClient._answer(request, response_model, None)


@overload
async def aask(
    prompt: str,
    *,
    response_model: None = None,
    key: str | None = None,
    client: AsyncClient | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[Any]: ...
@overload
async def aask(
    prompt: str,
    *,
    response_model: type[T],
    key: str | None = None,
    client: AsyncClient | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[T]: ...
async def aask(
    prompt: str,
    *,
    response_model: type[Any] | None = None,
    key: str | None = None,
    client: AsyncClient | None = None,
    **fields: Unpack[CreateOptions],
) -> Answer[Any]:
    """The asyncio form of ``ask``."""
    fields = BaseClient._ask_fields(response_model, fields)
    fields["idempotency_key"] = idempotency_key(key, fields)
    async with ausing(client) as c:
        request = await await_closed(c, await c.create(prompt, **fields))
        return BaseClient._answer(request, response_model, None)


def confirm(
    prompt: str,
    *,
    key: str | None = None,
    client: Client | None = None,
    **fields: Unpack[CreateOptions],
) -> bool:
    """Ask a yes/no question; True only for a yes (an auto-rejection is a no).

    Raises NoAnswerError if the request closes without an answer.
    """
    return ask(prompt, key=key, client=client, **_confirmation(fields)).value is True


async def aconfirm(
    prompt: str,
    *,
    key: str | None = None,
    client: AsyncClient | None = None,
    **fields: Unpack[CreateOptions],
) -> bool:
    """The asyncio form of ``confirm``."""
    answer = await aask(prompt, key=key, client=client, **_confirmation(fields))
    return answer.value is True


def _confirmation(fields: CreateOptions) -> CreateOptions:
    kind = fields.get("kind")
    if kind not in (None, Kind.CONFIRMATION, "confirmation"):
        raise UsageError(f"confirm asks a confirmation; use ask for kind {kind!s}")
    return CreateOptions(**{**fields, "kind": Kind.CONFIRMATION})
