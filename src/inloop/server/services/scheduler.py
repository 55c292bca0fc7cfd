"""The scheduler: fires due timers in batches, exactly once, across restarts and replicas.

Each batch is one transaction: claim due timers (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas take disjoint batches), carry out what each one means, delete
them. A crash before the commit leaves the timers in place to fire after the restart; a
commit makes the effects and the deletion durable together, so nothing fires twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from inloop.domain.enums import EventType, Presence
from inloop.domain.escalation import Resolve
from inloop.domain.requests import Request
from inloop.domain.transitions import Action
from inloop.server.services.clock import Clock
from inloop.server.services.lifecycle import SYSTEM, Lifecycle
from inloop.server.store import bulk, timers
from inloop.server.store import requests as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.identity import presence_of

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
MAX_SLEEP_SECONDS = 30.0  # also picks up timers another replica set (they do not wake us)


class Scheduler:
    def __init__(
        self, db: Database, clock: Clock, lifecycle: Lifecycle, *, batch: int = 500
    ) -> None:
        self.db = db
        self.clock = clock
        self.lifecycle = lifecycle
        self.batch = batch
        self._wake = asyncio.Event()
        self._sleeping_until: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        #: What fires timers of other kinds (conversations' handoff timers), in the batch's
        #: transaction: ``handler(tx, timer, now)``.
        self.handlers: dict[str, Callable[[Tx, timers.Timer, datetime], None]] = {}
        db.on_timer = self.timer_set

    def timer_set(self, due_at: datetime) -> None:
        """A commit set a timer: wake up if it is due before we would."""
        if self._sleeping_until is None or due_at < self._sleeping_until:
            self._wake.set()

    async def run_due(self) -> int:
        """Fire every timer due now, batch after batch; how many fired."""
        fired = 0
        while True:
            count = await self.db.write(self._fire_batch, self.clock.now())
            fired += count
            if count < self.batch:
                return fired

    def _fire_batch(self, tx: Tx, now: datetime) -> int:
        due = timers.claim_due(tx.conn, now, self.batch)
        if not self._attempt(tx, due, now):
            # One of them failed: fire them one at a time, and drop (and log) any that
            # fails alone rather than retry it forever, blocking every timer behind it.
            for timer in due:
                if not self._attempt(tx, [timer], now):
                    log.error("timer %s (%s) failed and was dropped", timer.id, timer.kind)
        timers.delete_ids(tx.conn, [t.id for t in due])
        return len(due)

    def _attempt(self, tx: Tx, due: list[timers.Timer], now: datetime) -> bool:
        """Fire ``due`` in a savepoint; on failure roll it back (events too) and say so."""
        mark = len(tx.published)
        try:
            with tx.conn.begin_nested():
                self._fire(tx, due, now)
        except DBAPIError:
            raise  # the database's trouble, not the timers': roll back, retry the batch
        except Exception:
            del tx.published[mark:]
            log.warning("firing %d timers failed", len(due), exc_info=True)
            return False
        return True

    def _fire(self, tx: Tx, due: list[timers.Timer], now: datetime) -> None:
        """Carry out a batch: timeouts that close a request are closed together."""
        lifecycle = self.lifecycle
        current = bulk.lock_requests(tx.conn, [t.request_id for t in due if t.request_id])
        decided: dict[Action, list[tuple[Request, str]]] = {}
        closing: set[str] = set()
        for timer in due:
            if timer.kind == "offline":
                assert timer.user_handle is not None
                self._offline(tx, timer.user_handle, timer.data.get("since"), now)
                continue
            if timer.kind in self.handlers:
                self.handlers[timer.kind](tx, timer, now)
                continue
            request = current.get(timer.request_id or "")
            if request is None or request.id in closing or not _still_meant(timer, request):
                continue  # answered, or moved on since this timer was set
            if timer.kind == "timeout":
                why = f"no answer within {lifecycle.current_timeout(request)}"
                step = lifecycle.next_step(request)
                if isinstance(step, Resolve):
                    decided.setdefault(step.action, []).append((request, why))
                    closing.add(request.id)
                    continue
                current[request.id] = lifecycle.step(tx, request, step, now, why=why)
            elif timer.kind == "remind":
                current[request.id] = lifecycle.change(
                    tx,
                    request,
                    None,
                    {},
                    EventType.REMINDED,
                    actor=SYSTEM,
                    now=now,
                    reason="reminder: still waiting for an answer",
                )
                lifecycle.schedule_reminder(tx, request, now)
            elif timer.kind == "assignment":
                current[request.id] = self._unassigned(tx, request, now)
        lifecycle.decide_many(tx, decided, now)

    def _unassigned(self, tx: Tx, request: Request, now: datetime) -> Request:
        assert request.assignment is not None
        lifecycle = self.lifecycle
        why = f"nobody was assigned within {request.assignment.timeout}"
        action = request.assignment.action
        if action == "transfer":
            assert request.assignment.to is not None
            return lifecycle.transfer(tx, request, request.assignment.to, now, why=why)
        if action == "escalate":
            return lifecycle.step(tx, request, lifecycle.escalation_step(request), now, why=why)
        decided = {
            "auto_approve": Action.AUTO_APPROVE,
            "auto_reject": Action.AUTO_REJECT,
            "cancel": Action.CANCEL,
        }[action]
        return lifecycle.decide(tx, request, decided, now, reason=why)

    def _offline(self, tx: Tx, handle: str, since: str | None, now: datetime) -> None:
        found = presence_of(tx.conn, handle)
        if found is None or found[0] != Presence.OFFLINE:
            return  # came back within the grace period
        if since is not None and found[1] is not None and found[1].isoformat() != since:
            return  # went offline again since: that later grace period decides
        for request in sql.assigned_to(tx.conn, handle):
            self.lifecycle.put_back(tx, request, now, why=f"{handle} went offline")

    # the loop inside `inloop serve`

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="inloop-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
                self._wake.clear()
                next_due = await self.db.read(timers.next_due)
            except Exception:
                log.exception("the scheduler failed; retrying in %ss", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            now = self.clock.now()
            seconds = MAX_SLEEP_SECONDS
            if next_due is not None:
                seconds = min(seconds, max(0.0, (next_due - now).total_seconds()))
            self._sleeping_until = next_due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
            self._sleeping_until = None


def _still_meant(timer: timers.Timer, request: Request) -> bool:
    """Whether the timer still applies: the request is open at the level, stage (and, for
    a timeout, the deadline) the timer was set for; reminders stop once it is queued."""
    if not request.is_open or timer.data.get("level") != request.level:
        return False
    if timer.data.get("stage") != request.stage:
        return False
    if timer.kind == "timeout":
        return request.due_at == timer.due_at
    if timer.kind == "remind":
        return request.due_at is not None
    return timer.kind != "assignment" or request.assigned_to is None
