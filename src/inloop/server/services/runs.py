"""Durable agent runs: start, claim, complete, cancel, wait, and ``ctx.once``.

A run is an inbox of events on the server. Workers claim pending events of the agents
they serve (leased, so a dead worker's events go to another one when the lease runs out),
run the step that consumes each, and send back what it emitted. A completion is one
transaction: the consumed event is marked done by a conditional update (a second
completion for the same event loses with a 409 and writes nothing), the emitted events
are appended, the requests of emitted HITL request events are created, and a StopEvent
completes the run. When a request of a run closes, however it closes, the response event
is appended to the run's inbox in the same transaction as the close (``Lifecycle.on_close``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from inloop.domain.enums import EventType, Scope
from inloop.domain.errors import (
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import Event, Request, new_record
from inloop.domain.runs import (
    NOT_RECORDED,
    Claim,
    Completion,
    CompletionResult,
    NewRun,
    OnceValue,
    Renewal,
    Run,
    RunEvent,
    RunEventStatus,
    RunStatus,
    RunTimeline,
)
from inloop.domain.transitions import Action
from inloop.server.services.clock import Clock
from inloop.server.services.hub import Hub
from inloop.server.services.lifecycle import Lifecycle
from inloop.server.services.requests import MAX_WAIT_SECONDS, RequestService
from inloop.server.store import requests as request_sql
from inloop.server.store import runs as sql
from inloop.server.store.database import Database, Tx

#: How often a parked claim or wait looks at the database again even if nothing woke it:
#: a run started or completed on another replica sends no notification of its own.
RECHECK_SECONDS = 2.0
#: How long a woken claim waits for more events to arrive before it claims.
LINGER_SECONDS = 0.01
MAX_KEY = 200


class RunService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hub: Hub,
        lifecycle: Lifecycle,
        requests: RequestService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub
        self.requests = requests
        self.lifecycle = lifecycle
        lifecycle.on_close.append(self._requests_closed)
        self._claimers: set[asyncio.Future[None]] = set()
        self._run_waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._hub_stream: contextlib.ExitStack | None = None

    # wake-ups

    def listen(self) -> None:
        """Wake parked claims when a request closes (here or, through the relay, on another
        replica): its response event may be in a run's inbox now."""
        if self._hub_stream is None:
            self._hub_stream = contextlib.ExitStack()
            self._hub_stream.enter_context(self.hub.stream(self._heard))

    def stop(self) -> None:
        if self._hub_stream is not None:
            self._hub_stream.close()
            self._hub_stream = None

    def _heard(self, event: Event, request: Request) -> bool:
        if not request.is_open:
            self._wake_claimers()
        return False  # never queued: the stream is only an ear

    def _wake_claimers(self) -> None:
        claimers, self._claimers = self._claimers, set()
        for future in claimers:
            if not future.done():
                future.set_result(None)

    def _wake_run(self, run_id: str) -> None:
        for future in self._run_waiters.pop(run_id, ()):
            if not future.done():
                future.set_result(None)

    @contextlib.contextmanager
    def _parked(self, run_id: str | None = None) -> Iterator[asyncio.Future[None]]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if run_id is None:
            self._claimers.add(future)
        else:
            self._run_waiters.setdefault(run_id, set()).add(future)
        try:
            yield future
        finally:
            if run_id is None:
                self._claimers.discard(future)
            else:
                waiting = self._run_waiters.get(run_id)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._run_waiters[run_id]

    # runs

    async def start(self, principal: Principal, new: NewRun) -> Run:
        principal.require(Scope.AGENT)
        now = self.clock.now()
        run = Run(
            id=new_id("run", now),
            agent=new.agent,
            status=RunStatus.RUNNING,
            start_event=new.start_event.model_dump(),
            created_by=principal.actor,
            created_at=now,
            updated_at=now,
        )

        def insert(tx: Tx) -> None:
            sql.insert_run(tx.conn, run)
            start = new.start_event
            sql.append(
                tx.conn,
                [
                    sql.event_row(
                        run.id, run.agent, start.type, start.payload, RunEventStatus.PENDING, now
                    )
                ],
            )

        await self.db.write(insert)
        self._wake_claimers()
        return run

    async def get(self, principal: Principal, run_id: str) -> Run:
        principal.require(Scope.AGENT)
        run = await self.db.read(sql.get_run, run_id)
        return self._visible(principal, run, run_id)

    async def _exists(self, principal: Principal, run_id: str) -> None:
        """For the calls workers make (``ctx.once``): any agent key, as claim and complete,
        since a worker may serve runs that other keys started."""
        principal.require(Scope.AGENT)
        if await self.db.read(sql.get_run, run_id) is None:
            raise NotFoundError(f"no run with id {run_id!r}", field="id")

    def _visible(self, principal: Principal, run: Run | None, run_id: str) -> Run:
        if run is None:
            raise NotFoundError(f"no run with id {run_id!r}", field="id")
        if not principal.is_admin and run.created_by != principal.actor:
            raise PermissionDeniedError(
                f"run {run_id} was started by another agent; only it or an admin may see it",
                code="forbidden",
            )
        return run

    async def timeline(self, principal: Principal, run_id: str) -> RunTimeline:
        run = await self.get(principal, run_id)

        def read(conn: Any) -> RunTimeline:
            events = sql.list_events(conn, run_id)
            ids = [e.request_id for e in events if e.request_id]
            found = request_sql.get_requests(conn, ids) if ids else {}
            requests = sorted(found.values(), key=lambda r: (r.created_at, r.id))
            return RunTimeline(run=run, events=events, requests=requests)

        return await self.db.read(read)

    async def list_runs(
        self,
        principal: Principal,
        *,
        agent: str | None = None,
        status: list[RunStatus] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Run], str | None]:
        principal.require(Scope.AGENT)
        if not 1 <= limit <= 500:
            raise InvalidError("limit must be between 1 and 500", field="limit")
        created_by = None if principal.is_admin else principal.actor
        return await self.db.read(
            sql.list_runs,
            agent=agent,
            status=status or [],
            created_by=created_by,
            limit=limit,
            cursor=cursor,
        )

    async def cancel(self, principal: Principal, run_id: str, *, reason: str | None = None) -> Run:
        """Cancel an open run, its waiting events and its open requests, in one transaction."""
        principal.require(Scope.AGENT)
        if reason is not None and len(reason) > 10_000:
            raise InvalidError("reason is longer than 10000 characters", field="reason")
        now = self.clock.now()

        def cancel(tx: Tx) -> Run:
            run = self._visible(principal, sql.get_run(tx.conn, run_id, lock=True), run_id)
            if not run.status.is_open:
                raise ConflictError(
                    f"run {run_id} is {run.status.value}, so it cannot be cancelled",
                    code="run_closed",
                )
            why = f"run {run_id} was cancelled" + (f": {reason}" if reason else "")
            self._finish(
                tx, run_id, RunStatus.CANCELLED, now, error=reason, actor=principal.actor, why=why
            )
            found = sql.get_run(tx.conn, run_id)
            assert found is not None
            return found

        run = await self.db.write(cancel)
        self._wake_run(run_id)
        return run

    def _finish(
        self,
        tx: Tx,
        run_id: str,
        status: RunStatus,
        now: datetime,
        *,
        result: Any = None,
        error: str | None = None,
        actor: str = "system",
        why: str,
    ) -> None:
        """Close the run and whatever of it is still open: events, and requests asked."""
        sql.finish_run(tx.conn, run_id, status, now, result=result, error=error)
        for request_id in sql.cancel_open_events(tx.conn, run_id, now):
            request = request_sql.get_request(tx.conn, request_id, lock=True)
            if request is not None and request.is_open:
                self.lifecycle.change(
                    tx,
                    request,
                    Action.CANCEL,
                    {"resolved_by": actor},
                    EventType.CANCELLED,
                    actor=actor,
                    now=now,
                    reason=why,
                )

    async def wait(
        self, principal: Principal, run_id: str, timeout: float, *, paused: bool = False
    ) -> Run:
        """The run once it finishes (with ``paused``, or once it waits on humans only), or
        as it stands when ``timeout`` seconds pass."""
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise InvalidError(
                f"timeout must be between 0 and {MAX_WAIT_SECONDS:g} seconds", field="timeout"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._parked(run_id) as finished:
                run = await self.get(principal, run_id)
                left = deadline - loop.time()
                done = not run.status.is_open or (paused and run.status == RunStatus.PAUSED)
                if done or left <= 0:
                    return run
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished, min(left, RECHECK_SECONDS))

    # workers

    async def claim(
        self,
        principal: Principal,
        claim: Claim,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[RunEvent]:
        """Lease pending events of the claimed agents; with ``wait``, park until some come.

        ``gone`` says whether the worker hung up: a parked claim of a worker that died
        must not lease events to it when it wakes (they would wait for the lease to end).
        """
        principal.require(Scope.AGENT)
        self.listen()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + claim.wait
        skip_locked = self.db.dialect == "postgresql"
        while True:
            with self._parked() as woken:
                if gone is not None and await gone():
                    return []
                now = self.clock.now()
                events = await self.db.write(
                    _claim, claim, now, now + timedelta(seconds=claim.lease), skip_locked
                )
                left = deadline - loop.time()
                if events or left <= 0:
                    return events
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken, min(left, RECHECK_SECONDS))
                if woken.done():
                    # Answers come in bursts: gather a few before claiming, so that one
                    # claim (and one completion call) carries many events, not one each.
                    await asyncio.sleep(LINGER_SECONDS)

    async def renew(self, principal: Principal, renewal: Renewal) -> list[int]:
        """Extend the worker's leases on events whose steps still run; the ids renewed
        (an event missing from them was completed, cancelled or taken over)."""
        principal.require(Scope.AGENT)
        until = self.clock.now() + timedelta(seconds=renewal.lease)
        return await self.db.write(
            lambda tx: sql.renew(tx.conn, renewal.event_ids, renewal.worker, until)
        )

    async def complete(
        self, principal: Principal, completions: list[Completion]
    ) -> list[CompletionResult]:
        """Record step completions: one transaction, each completion in a savepoint of
        its own, so one refused completion (or bad item) leaves the others in."""
        principal.require(Scope.AGENT)
        now = self.clock.now()
        outcomes = await self.db.write(self._complete_all, completions, now)
        results: list[CompletionResult] = []
        woke = False
        for item, outcome in zip(completions, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                results.append(
                    CompletionResult(
                        event_id=item.event_id,
                        ok=False,
                        code=outcome.code,
                        message=outcome.message,
                        field=outcome.field,
                    )
                )
            else:
                run_id, status = outcome
                results.append(CompletionResult(event_id=item.event_id, ok=True))
                if status == RunStatus.RUNNING:
                    woke = True
                else:
                    self._wake_run(run_id)
        if woke:
            self._wake_claimers()
        return results

    def _complete_all(
        self, tx: Tx, items: list[Completion], now: datetime
    ) -> list[tuple[str, RunStatus] | DomainError]:
        outcomes: list[tuple[str, RunStatus] | DomainError] = []
        for item in items:
            published = len(tx.published)
            try:
                with tx.conn.begin_nested():
                    outcomes.append(self._complete(tx, item, now))
            except DomainError as exc:
                del tx.published[published:]  # rolled back with its savepoint
                outcomes.append(exc)
        return outcomes

    def _complete(self, tx: Tx, item: Completion, now: datetime) -> tuple[str, RunStatus]:
        conn = tx.conn
        status = RunEventStatus.FAILED if item.error is not None else RunEventStatus.DONE
        consumed = sql.mark_done(conn, item.event_id, item.step, status, now)
        if consumed is None:
            event = sql.get_event(conn, item.event_id)
            if event is None:
                raise NotFoundError(f"no run event with id {item.event_id}", field="event_id")
            how = f"consumed by step {event.step}" if event.step else event.status.value
            raise ConflictError(
                f"run event {item.event_id} is no longer pending ({how}): "
                "a step completes at most once for an event",
                field="event_id",
                code="event_done",
            )
        run_id, agent = consumed
        # Locked: two completions of one run (parallel steps) judge its state in turn.
        run_status, created_by = sql.lock_run(conn, run_id)
        if item.error is not None:
            why = f"step {item.step} failed"
            self._finish(tx, run_id, RunStatus.FAILED, now, error=f"{why}: {item.error}", why=why)
            return run_id, RunStatus.FAILED
        rows: list[dict[str, Any]] = []
        records: list[Request] = []
        stop = None
        for emitted in item.emitted:
            extra: dict[str, Any] = {"emitted_by": item.event_id}
            if emitted.kind == "request":
                assert emitted.request is not None
                record = new_record(
                    emitted.request,
                    id=new_id("req", now),
                    created_by=created_by,
                    now=now,
                    idempotency_key=None,
                )
                records.append(record)
                extra.update(request_id=record.id, reply_type=emitted.reply_type)
                state = RunEventStatus.WAITING
            elif emitted.kind == "stop":
                stop = emitted
                extra.update(step=None, done_at=now)
                state = RunEventStatus.DONE
            else:
                state = RunEventStatus.PENDING
            rows.append(
                sql.event_row(run_id, agent, emitted.type, emitted.payload, state, now, **extra)
            )
        # The waiting rows first: a request that closes as it is created (a policy that
        # decides at once) then finds the run event it answers.
        sql.append(conn, rows)
        for record in records:
            # RequestService's own insert: the same checks, routing and timers as POST /requests
            self.requests._insert(tx, record, None)
        if stop is not None:
            self._finish(
                tx,
                run_id,
                RunStatus.COMPLETED,
                now,
                result=stop.result,
                why=f"run {run_id} completed",
            )
            return run_id, RunStatus.COMPLETED
        if any(e.kind == "event" for e in item.emitted):
            new_status = RunStatus.RUNNING
        else:
            pending, waiting = sql.has_pending(conn, run_id)
            if pending:
                new_status = RunStatus.RUNNING
            elif waiting:
                new_status = RunStatus.PAUSED
            else:
                error = (
                    f"step {item.step} emitted nothing and no event is left for a step: "
                    "the run cannot go on (return a StopEvent to end it)"
                )
                self._finish(tx, run_id, RunStatus.FAILED, now, error=error, why=error)
                return run_id, RunStatus.FAILED
        if new_status != run_status:
            sql.set_status(conn, run_id, new_status, now)
        return run_id, new_status

    def _requests_closed(self, tx: Tx, closed: list[Request], now: datetime) -> None:
        """The hook where requests close: a run waiting on one gets its response event."""
        waiting = sql.take_waiting(tx.conn, [r.id for r in closed], now)
        if not waiting:
            return
        by_id = {r.id: r for r in closed}
        rows = []
        for event_id, run_id, agent, asked, reply_type, request_id in waiting:
            request = by_id[request_id]
            payload = {
                "response": request.response,
                "request_id": request.id,
                "resolution": request.resolution.value if request.resolution else None,
                "resolved_by": request.resolved_by,
                "resolved_at": request.resolved_at.isoformat() if request.resolved_at else None,
                "comment": request.comment,
                "request_event": asked,
            }
            if request.edited is not None:
                payload["edited"] = request.edited
            rows.append(
                sql.event_row(
                    run_id,
                    agent,
                    reply_type,
                    payload,
                    RunEventStatus.PENDING,
                    now,
                    emitted_by=event_id,
                    request_id=request_id,
                )
            )
        sql.append(tx.conn, rows)
        sql.resume_runs(tx.conn, sorted({row[1] for row in waiting}), now)

    # ctx.once

    async def once(self, principal: Principal, run_id: str, key: str) -> OnceValue:
        self._check_key(key)
        await self._exists(principal, run_id)
        found, value = await self.db.read(sql.get_once, run_id, key)
        if not found:
            raise NotFoundError(
                f"nothing is recorded for key {key!r} of run {run_id}",
                field="key",
                code=NOT_RECORDED,
            )
        return OnceValue(key=key, value=value, recorded=False)

    async def record_once(
        self, principal: Principal, run_id: str, key: str, value: Any
    ) -> OnceValue:
        """Record ``value`` for the key unless one is recorded: the first value wins."""
        self._check_key(key)
        await self._exists(principal, run_id)
        now = self.clock.now()

        def record(tx: Tx) -> OnceValue:
            if sql.record_once(tx.conn, run_id, key, value, now):
                return OnceValue(key=key, value=value, recorded=True)
            _, known = sql.get_once(tx.conn, run_id, key)
            return OnceValue(key=key, value=known, recorded=False)

        return await self.db.write(record)

    @staticmethod
    def _check_key(key: str) -> None:
        if not 1 <= len(key) <= MAX_KEY:
            raise InvalidError(f"a once key has 1 to {MAX_KEY} characters", field="key")


def _claim(
    tx: Tx, claim: Claim, now: datetime, until: datetime, skip_locked: bool
) -> list[RunEvent]:
    return sql.claim(
        tx.conn, claim.agents, claim.worker, now, until, claim.limit, skip_locked=skip_locked
    )
