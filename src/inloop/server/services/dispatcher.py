"""The dispatcher: sends the outbox's due deliveries, in bounded batches, in every
``inloop serve``.

One pass: claim up to ``batch`` due deliveries in a transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so replicas take disjoint batches), each leased until ``lease``
from now; send them, at most ``concurrency`` at once, outside any transaction (one
channel's deliveries about one request one after another, in the order they were
written, so a peer sees ``request.created`` before ``request.responded``); record every
outcome in one transaction. A failure is retried after an exponential backoff with
jitter, and after ``max_attempts`` it is a dead letter (replayed by hand). A dispatcher
that dies while sending leaves its claimed rows to come due again when the lease lapses:
delivery is at least once, and each attempt carries the same ``webhook-id``.

The loop wakes when a commit enqueues a delivery here (``DeliveryService.wake``), and
otherwise looks every few seconds (deliveries another replica enqueued, retries due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection

from inloop.domain.deliveries import DeliveryStatus, backoff
from inloop.domain.requests import Request
from inloop.server.channels import Adapter, DeliveryError, Outgoing, Sent, build_adapter
from inloop.server.channels.render import card_for
from inloop.server.channels.webhook import WebhookAdapter
from inloop.server.secrets import SecretKeyError
from inloop.server.services.channels import ChannelService
from inloop.server.services.clock import Clock
from inloop.server.store import channels as channel_sql
from inloop.server.store import deliveries as sql
from inloop.server.store import requests as request_sql
from inloop.server.store.channels import ChannelRecord
from inloop.server.store.database import Database, Tx
from inloop.server.store.deliveries import Claimed, Outcome

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0
RETRY_SECONDS = 1.0
DEFER_SECONDS = 5.0  # an update whose message is still being sent waits this long
PRUNE_EVERY = 3600.0
REMEMBER_INBOUND = timedelta(days=1)
CALLBACK = "callback"  # the channel of deliveries to requests' callback_url


@dataclass(frozen=True)
class DispatchSettings:
    batch: int = 100
    concurrency: int = 32
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 12
    backoff: timedelta = timedelta(seconds=15)
    backoff_cap: timedelta = timedelta(hours=2)


@dataclass
class _Context:
    """What a pass reads once for all its deliveries."""

    channels: dict[str, ChannelRecord]
    requests: dict[str, Request]
    names: dict[str, str]
    parents: dict[int, Any]
    adapters: dict[str, Adapter | DeliveryError] = field(default_factory=dict)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        channels: ChannelService,
        *,
        base_url: str,
        settings: DispatchSettings | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.clock = clock
        self.channels = channels
        self.base_url = base_url
        self.settings = settings or DispatchSettings()
        self.rng = rng
        #: Extra fields of a notice's card (an answer link, a reply code), from its payload.
        self.answer_extras: Callable[[Claimed], dict[str, Any]] = lambda claimed: {}
        self.state: dict[str, Any] = {}  # adapters' caches (access tokens), across passes
        self._http: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pruned = 0.0
        self.sent = 0  # deliveries delivered by this process (for logs and benchmarks)

    def wake(self) -> None:
        """A commit enqueued a delivery: look now."""
        self._wake.set()

    # one pass after another

    async def run_due(self) -> int:
        """Send everything due now, batch after batch; how many attempts were made."""
        if self._http is not None:
            return await self._run(self._http)
        async with _client() as http:
            return await self._run(http)

    async def _run(self, http: httpx.AsyncClient) -> int:
        total = 0
        while True:
            count = await self._pass(http)
            total += count
            if count < self.settings.batch:
                return total

    async def _pass(self, http: httpx.AsyncClient) -> int:
        now = self.clock.now()
        claimed = await self.db.write(self._claim, now)
        if not claimed:
            return 0
        context = await self.db.read(self._context, claimed)
        slots = asyncio.Semaphore(self.settings.concurrency)

        async def in_order(items: list[Claimed]) -> list[Outcome]:
            async with slots:
                return [await self._attempt(item, context, http) for item in items]

        queues: dict[tuple[str, str | int], list[Claimed]] = {}
        for item in claimed:  # in id order: one request's events reach a peer in order
            d = item.delivery
            queues.setdefault((d.channel, d.request_id or d.id), []).append(item)
        outcomes = [
            o for sent in await asyncio.gather(*map(in_order, queues.values())) for o in sent
        ]
        await self.db.write(lambda tx: sql.record(tx.conn, outcomes, self.clock.now()))
        self.sent += sum(1 for o in outcomes if o.status == DeliveryStatus.DELIVERED)
        return len(claimed)

    def _claim(self, tx: Tx, now: datetime) -> list[Claimed]:
        return sql.claim_due(
            tx.conn,
            now,
            self.settings.batch,
            now + self.settings.lease,
            skip_locked=self.db.dialect == "postgresql",
        )

    def _context(self, conn: Connection, claimed: list[Claimed]) -> _Context:
        request_ids = sorted({c.delivery.request_id for c in claimed if c.delivery.request_id})
        requests = request_sql.get_requests(conn, request_ids) if request_ids else {}
        handles = [
            r.resolved_by.removeprefix("user:")
            for r in requests.values()
            if r.resolved_by and r.resolved_by.startswith("user:")
        ]
        parents = sql.get_many(
            conn, [c.delivery.parent_id for c in claimed if c.delivery.parent_id]
        )
        return _Context(
            channels={r.name: r for r in channel_sql.list_channels(conn)},
            requests=requests,
            names=channel_sql.names_of(conn, handles),
            parents=parents,
        )

    # one attempt

    async def _attempt(self, item: Claimed, ctx: _Context, http: httpx.AsyncClient) -> Outcome:
        delivery = item.delivery
        started = self.clock.now()
        began = time.monotonic()

        def outcome(status: DeliveryStatus, **fields: Any) -> Outcome:
            return Outcome(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                replay=delivery.replays,
                started_at=started,
                duration_ms=int((time.monotonic() - began) * 1000),
                status=status,
                **fields,
            )

        try:
            out = self._outgoing(item, ctx, started)
            if isinstance(out, Outcome):
                return out
            adapter = self._adapter(delivery.channel, ctx, http)
            sent: Sent = await adapter.deliver(out)
        except _Skip as skip:
            return outcome(DeliveryStatus.SKIPPED, error=skip.why, logged=False)
        except _Defer:
            due = self.clock.now() + timedelta(seconds=DEFER_SECONDS)
            return outcome(DeliveryStatus.PENDING, due_at=due, logged=False)
        except DeliveryError as exc:
            return self._failed(outcome, delivery.attempts, exc)
        except SecretKeyError as exc:
            return self._failed(outcome, delivery.attempts, DeliveryError(str(exc)))
        except Exception as exc:  # a bug in an adapter must not stop the others
            log.exception("delivery %s failed unexpectedly", delivery.id)
            return self._failed(
                outcome, delivery.attempts, DeliveryError(f"{type(exc).__name__}: {exc}")
            )
        return outcome(
            DeliveryStatus.DELIVERED,
            status_code=sent.status_code,
            response=sent.response,
            ref=sent.ref,
            ref_key=sent.ref_key,
        )

    def _failed(self, outcome: Callable[..., Outcome], attempt: int, exc: DeliveryError) -> Outcome:
        fields = {"status_code": exc.status_code, "error": exc.message, "response": exc.response}
        if not exc.retryable or attempt >= self.settings.max_attempts:
            return outcome(DeliveryStatus.DEAD, **fields)
        cap = self.settings.backoff_cap.total_seconds()
        delay = backoff(
            attempt, base=self.settings.backoff.total_seconds(), cap=cap, jitter=self.rng()
        )
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, cap))
        return outcome(
            DeliveryStatus.PENDING, due_at=self.clock.now() + timedelta(seconds=delay), **fields
        )

    def _outgoing(self, item: Claimed, ctx: _Context, now: datetime) -> Outgoing | Outcome:
        delivery = item.delivery
        payload = item.payload
        if item.sealed is not None:
            payload = self.channels.keyring.open(item.sealed)
        payload = payload or {}
        base = Outgoing(
            delivery_id=delivery.id,
            key=delivery.key,
            topic=delivery.topic,
            address=delivery.address,
            attempt=delivery.attempts,
            now=now,
            event=payload.get("event"),
        )
        if delivery.topic in (sql.NOTIFY, sql.UPDATE):
            request = ctx.requests.get(delivery.request_id or "")
            if request is None:
                raise _Skip("its request no longer exists")
            previous = None
            if delivery.topic == sql.UPDATE:
                parent = ctx.parents.get(delivery.parent_id or 0)
                if parent is None or parent.status in ("dead", "skipped"):
                    raise _Skip("the message it would edit was never delivered")
                if parent.status != "delivered":
                    raise _Defer()
                previous = parent.ref
            elif not request.is_open:
                raise _Skip("its request closed before the notice went out")
            card = card_for(
                request,
                base_url=self.base_url,
                names=ctx.names,
                reason=str(payload.get("reason", "created")),
                **self.answer_extras(item),
            )
            return replace(base, card=card, previous=previous, target=payload.get("target"))
        return replace(base, message=payload.get("message"))

    def _adapter(self, channel: str, ctx: _Context, http: httpx.AsyncClient) -> Adapter:
        known = ctx.adapters.get(channel)
        if known is None:
            known = ctx.adapters[channel] = self._build(channel, ctx, http)
        if isinstance(known, DeliveryError):
            raise known
        return known

    def _build(
        self, channel: str, ctx: _Context, http: httpx.AsyncClient
    ) -> Adapter | DeliveryError:
        if channel == CALLBACK:
            return WebhookAdapter(None, self.channels.callback_secret(), http)
        record = ctx.channels.get(channel)
        if record is None:
            return DeliveryError(f"channel {channel} no longer exists", retryable=False)
        if not record.enabled:
            return DeliveryError(f"channel {channel} is disabled")
        try:
            secrets = self.channels.secrets_of(record)
            return build_adapter(record.kind, record.config, secrets, http, self.state)
        except DeliveryError as exc:
            return exc
        except (SecretKeyError, ValueError, KeyError) as exc:
            return DeliveryError(f"channel {channel} is not usable: {exc}")

    # the loop inside `inloop serve`

    async def start(self) -> None:
        self._http = _client()
        self._task = asyncio.create_task(self._loop(), name="inloop-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _loop(self) -> None:
        assert self._http is not None
        while True:
            try:
                self._wake.clear()
                await self._run(self._http)
                await self._prune()
                next_due = await self.db.read(sql.next_due)
            except Exception:
                log.exception("the dispatcher failed; retrying in %ss", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            seconds = POLL_SECONDS
            if next_due is not None:
                seconds = min(seconds, max(0.0, (next_due - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)

    async def _prune(self) -> None:
        if time.monotonic() - self._pruned < PRUNE_EVERY:
            return
        self._pruned = time.monotonic()
        before = self.clock.now() - REMEMBER_INBOUND
        await self.db.write(lambda tx: sql.forget_inbound(tx.conn, before))


class _Skip(Exception):  # control flow inside the dispatcher, never raised out of it
    def __init__(self, why: str) -> None:
        self.why = why


class _Defer(Exception):
    pass


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"user-agent": "Inloop"},
    )
