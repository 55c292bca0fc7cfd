"""The providers' outbox: what ``webhook`` and ``zendesk`` send to their helpdesk.

A provider never calls out from inside a transaction: it adds a call (``provider_calls``)
in the transaction that causes it, and this dispatcher sends it after the commit, in
order per session (a ticket's comments wait for the ticket), retried with exponential
backoff, and dead-lettered after the last attempt, which ends the session with
``internal_error`` (the customer is told, and the AI continues).

Why not the general delivery outbox (issue 8)? Zendesk's calls depend on each other's
answers (the requester's id, then the ticket's id) and must go in order; a webhook
delivery is fire-and-forget. This is the seam: ``RemoteProvider.perform`` does the I/O,
``apply_result`` records what came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from inloop.domain.handoffs import EndReason, HandoffSession
from inloop.server.services.clock import Clock
from inloop.server.services.handoffs import HandoffService
from inloop.server.services.providers import HitlProvider
from inloop.server.store import conversations as conversation_sql
from inloop.server.store import provider_calls as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.provider_calls import ProviderCall

log = logging.getLogger(__name__)


class CallFailed(Exception):
    """A call the helpdesk refused or did not answer; ``final`` when retrying is pointless."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class RemoteProvider(HitlProvider, Protocol):
    async def perform(
        self,
        call: ProviderCall,
        session: HandoffSession,
        settings: Mapping[str, Any],
        http: httpx.AsyncClient,
        now: datetime,
    ) -> dict[str, Any]: ...

    def apply_result(
        self,
        tx: Tx,
        session: HandoffSession,
        call: ProviderCall,
        result: dict[str, Any],
        now: datetime,
    ) -> None: ...


def check_response(response: httpx.Response, what: str) -> None:
    """2xx passes; 4xx but 408/409/429 is final (the request itself is wrong); else retry."""
    if response.is_success:
        return
    final = 400 <= response.status_code < 500 and response.status_code not in (408, 409, 429)
    raise CallFailed(f"{what}: HTTP {response.status_code} {response.text[:300]}", final=final)


class ProviderDispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        handoffs: HandoffService,
        *,
        http: httpx.AsyncClient | None = None,
        max_attempts: int = 8,
        backoff: timedelta = timedelta(seconds=5),
        cap: timedelta = timedelta(minutes=30),
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
    ) -> None:
        self.db = db
        self.clock = clock
        self.handoffs = handoffs
        self.http = http
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.cap = cap
        self.lease = lease
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def delay(self, attempts: int) -> timedelta:
        """Exponential, capped, with equal jitter (half fixed, half random)."""
        full: timedelta = min(self.cap, self.backoff * (2 ** max(0, attempts - 1)))
        return full / 2 + full / 2 * random.random()

    async def run_due(self) -> int:
        """Send every call due now (one pass); how many were tried."""
        now = self.clock.now()
        skip_locked = self.db.dialect == "postgresql"
        claimed = await self.db.write(
            lambda tx: sql.claim(
                tx.conn, now, now + self.lease, self.batch, skip_locked=skip_locked
            )
        )
        if not claimed:
            return 0
        settings = await self.db.read(self.handoffs.settings_tx)
        http = self.http or httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        try:
            outcomes = await asyncio.gather(
                *(self._perform(c, settings, http, now) for c in claimed)
            )
        finally:
            if self.http is None:
                await http.aclose()
        await self.db.write(
            self._record, list(zip(claimed, outcomes, strict=True)), self.clock.now()
        )
        return len(claimed)

    async def _perform(
        self,
        call: ProviderCall,
        settings: Mapping[str, Any],
        http: httpx.AsyncClient,
        now: datetime,
    ) -> dict[str, Any] | CallFailed:
        session = await self.db.read(conversation_sql.get_session, call.session_id)
        if session is None:
            return CallFailed(f"handoff session {call.session_id} is gone", final=True)
        try:
            return await self._remote(call).perform(call, session, settings, http, now)
        except CallFailed as exc:
            return exc
        except httpx.HTTPError as exc:
            return CallFailed(f"{call.op}: {type(exc).__name__}: {exc}")

    def _remote(self, call: ProviderCall) -> RemoteProvider:
        provider = self.handoffs.provider(call.provider)
        if not hasattr(provider, "perform"):
            raise CallFailed(f"the {call.provider} provider makes no calls", final=True)
        return provider  # type: ignore[return-value]  # checked just above

    def _record(
        self,
        tx: Tx,
        outcomes: list[tuple[ProviderCall, dict[str, Any] | CallFailed]],
        now: datetime,
    ) -> None:
        for call, outcome in outcomes:
            session = conversation_sql.get_session(tx.conn, call.session_id)
            if not isinstance(outcome, CallFailed):
                sql.finish(tx.conn, call.id, now)
                if session is not None:
                    self._remote(call).apply_result(tx, session, call, outcome, now)
                continue
            if not outcome.final and call.attempts < self.max_attempts:
                sql.retry(tx.conn, call.id, now + self.delay(call.attempts), str(outcome))
                continue
            log.warning("provider call %s (%s) failed for good: %s", call.id, call.op, outcome)
            sql.bury(tx.conn, call.id, now, str(outcome))
            if session is not None and session.is_open:
                conversation = conversation_sql.get_conversation(
                    tx.conn, session.conversation_id, lock=True
                )
                assert conversation is not None
                self.handoffs.end_tx(
                    tx,
                    conversation,
                    session,
                    EndReason.INTERNAL_ERROR,
                    now,
                    actor="system",
                    note=str(outcome)[:500],
                )

    # the loop inside `inloop serve`

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inloop-provider-calls")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_due() >= self.batch:
                    pass
                self._wake.clear()
                due = await self.db.read(sql.next_due)
            except Exception:
                log.exception("the provider dispatcher failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            seconds = 30.0
            if due is not None:
                seconds = min(seconds, max(0.0, (due - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
