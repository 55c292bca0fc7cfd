"""``ctx``: what a step may ask of its run."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python

from inloop.client import AsyncClient
from inloop.errors import UsageError

T = TypeVar("T")


class Context:
    """Given to a step that declares a ``ctx: Context`` parameter."""

    def __init__(self, client: AsyncClient, run_id: str, event_id: int, step: str) -> None:
        self.client = client
        self.run_id = run_id
        self.event_id = event_id
        self.step = step

    def idempotency_key(self, key: str) -> str:
        """A key stable across retries of this run's ``once(key, ...)``: pass it to the
        external system (a payment API's Idempotency-Key) so a retry is not a second act."""
        return f"{self.run_id}:{key}"

    async def once(self, key: str, fn: Callable[[], T | Awaitable[T]]) -> Any:
        """Run ``fn`` once per run for ``key`` and return its (JSON) result.

        The result is recorded on the server; a recorded key never runs its ``fn`` again, in
        this process or another. If the process dies after ``fn`` returned but before the
        record was written, ``fn`` runs again when the step is retried: at least once. Pass
        ``ctx.idempotency_key(key)`` to the external system to make that retry harmless.
        """
        if not 1 <= len(key) <= 200:
            raise UsageError("a once key has 1 to 200 characters")
        found, value = await self.client.runs.recorded(self.run_id, key)
        if found:
            return value
        result = fn()
        if inspect.isawaitable(result):
            result = await result
        try:
            value = to_jsonable_python(result)
        except Exception as exc:
            raise UsageError(f"ctx.once({key!r}): the result is not JSON data: {exc}") from exc
        return await self.client.runs.record(self.run_id, key, value)
