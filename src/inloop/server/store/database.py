"""Transactions on worker threads, and the events they publish once committed.

Services hand a plain function to :meth:`Database.read` or :meth:`Database.write`; it runs
on a worker thread inside a transaction. Events appended with :meth:`Tx.emit` are stored
in that transaction and passed to ``on_commit`` only after the commit succeeded, so no
listener ever hears of a change that was rolled back, and no caller is told "done"
before its change is durable.

Writes go through one writer thread that commits them in groups: the writes that queued
while the previous commit was syncing to disk share the next transaction, so the cost of
a commit (its fsync, its NOTIFY, its round trips) is paid once per group instead of once
per write. SQLite has one writer at a time anyway. If any write of a group fails, the
group is rolled back and each of its writes runs again in a transaction of its own, so a
failure (a lost race, a bad answer) reaches only its own caller. Reads run on a pool.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson
from sqlalchemy import Connection, Engine, func, select

from inloop.domain.requests import Event, NewEvent, Request
from inloop.server.store import schema, timers
from inloop.server.store.engine import WRITE
from inloop.server.store.hot import HotStatement

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

Published = list[tuple[Event, Request]]
NOTIFY_CHANNEL = "inloop_events"
NOTIFY_IDS = 300  # 300 ids of up to 19 digits, with commas, stay under 8,000 bytes
MAX_GROUP = 64

_insert_event = HotStatement(
    schema.events.insert().returning(schema.events.c.id),
    column_keys=[c.name for c in schema.events.c if c.name != "id"],
)


class Tx:
    """One open transaction: its connection, the events it emits, the timers it sets."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.published: Published = []
        self.earliest_timer: datetime | None = None
        self.after: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` in the event loop once this transaction committed (never if it
        rolled back): how the dispatcher hears of a delivery it should send."""
        if fn not in self.after:
            self.after.append(fn)

    def add_timer(self, kind: str, due_at: datetime, **where: Any) -> None:
        """Schedule a timer; the scheduler hears of it after the commit."""
        timers.add(self.conn, kind, due_at, **where)
        if self.earliest_timer is None or due_at < self.earliest_timer:
            self.earliest_timer = due_at

    def emit(self, new: NewEvent, request: Request) -> Event:
        """Append an audit event; it is published with ``request`` after the commit."""
        row = new.model_dump()
        inserted = _insert_event.first(self.conn, row)
        assert inserted is not None
        event = Event(id=inserted["id"], **row)
        self.published.append((event, request))
        return event


class Database:
    def __init__(self, engine: Engine, *, origin: str = "", threads: int = 8) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.origin = origin  # this process, so it can skip its own NOTIFYs
        self.on_commit: Callable[[Published], None] = lambda published: None
        self.on_timer: Callable[[datetime], None] = lambda due_at: None
        #: Called at the end of every write, inside its transaction, with what it did:
        #: the outbox turns the events of the write into deliveries there, so they
        #: commit (or roll back) together.
        self.before_commit: list[Callable[[Tx], None]] = []
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="inloop-db")
        self._writer = _GroupWriter(self)

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(self.read_sync, fn, *args, **kwargs))

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.submit(_Job(_bind(fn, *args, **kwargs), future.get_loop(), future))
        return await future

    def read_sync(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self.engine.connect() as conn, conn.begin():
            return fn(conn, *args, **kwargs)

    def write_sync(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A write from outside the event loop (start-up work such as the bootstrap key)."""
        result, tx = self._transaction(_bind(fn, *args, **kwargs))
        if tx.published:
            self.on_commit(tx.published)
        for after in tx.after:
            after()
        return result

    def _transaction(self, job: Callable[[Tx], T]) -> tuple[T, Tx]:
        with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            tx = Tx(conn)
            result = self.run_job(job, tx)
            self._notify(conn, tx.published)
        return result, tx

    def run_job(self, job: Callable[[Tx], T], tx: Tx) -> T:
        """Run one write and the before-commit hooks, in its transaction."""
        result = job(tx)
        for hook in self.before_commit:
            hook(tx)
        return result

    def _notify(self, conn: Connection, published: Published) -> None:
        if not published or self.dialect != "postgresql":
            return
        # Delivered by PostgreSQL at commit, to the other replicas' listeners. A message
        # holds at most 8,000 bytes, so the ids go in chunks.
        ids = [e.id for e, _ in published]
        for start in range(0, len(ids), NOTIFY_IDS):
            payload = orjson.dumps({"origin": self.origin, "ids": ids[start : start + NOTIFY_IDS]})
            conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload.decode())))

    def dispose(self) -> None:
        self._writer.stop()
        self._pool.shutdown(wait=True)
        self.engine.dispose()


def _bind(
    fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
) -> Callable[[Tx], T]:
    return lambda tx: fn(tx, *args, **kwargs)


@dataclass
class _Job:
    fn: Callable[[Tx], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    published: Published = field(default_factory=list)
    earliest_timer: datetime | None = None
    after: list[Callable[[], None]] = field(default_factory=list)


class WriterStoppedError(RuntimeError):
    """The writer thread is gone (the server is shutting down): the write was not made."""


class _GroupWriter:
    """The writer thread: runs queued writes in shared transactions, on a connection of
    its own (SQLite drops a connection's page cache whenever another connection has
    written, so a writer that took whichever pooled connection came next started each
    group with a cold cache; this one's stays warm)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Connection | None = None
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="inloop-db-writer", daemon=True)
        self.thread.start()

    def submit(self, job: _Job) -> None:
        if self.stopping or not self.thread.is_alive():
            raise WriterStoppedError("the database writer has stopped; nothing was written")
        self.jobs.put(job)

    def stop(self) -> None:
        self.stopping = True
        self.jobs.put(None)
        self.thread.join(timeout=10)
        # Anything queued behind the stop is answered, not left waiting forever.
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.error = WriterStoppedError("the database writer stopped before this write")
                self._deliver([job])

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def _connection(self) -> Connection:
        """The writer's connection; a new one if it was lost (a broken connection is
        invalidated by SQLAlchemy when the error is raised)."""
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            if self.conn is not None:
                self.conn.close()
            self.conn = self.db.engine.connect().execution_options(**{WRITE: True})
        return self.conn

    def _serve(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.jobs.put(None)  # finish this group, then stop
                    break
                group.append(more)
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        # Optimistic: the whole group in one transaction. If any write fails, roll all of
        # them back and run each in a transaction of its own, so a failure (a lost race,
        # say) touches only its own caller.
        if len(group) == 1 or not self._transaction(group, isolate=False):
            for job in group:
                self._transaction([job], isolate=True)
        self._deliver(group)

    def _deliver(self, group: list[_Job]) -> None:
        for loop in {job.loop for job in group}:
            mine = [job for job in group if job.loop is loop]
            try:
                loop.call_soon_threadsafe(self.db_deliver, mine)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                log.warning("dropped the results of %d writes for a closed event loop", len(mine))

    def _transaction(self, group: list[_Job], *, isolate: bool) -> bool:
        """Run and commit ``group``; False (nothing kept) if a job failed and not ``isolate``."""
        try:
            conn = self._connection()
            with conn.begin():
                for job in group:
                    tx = Tx(conn)
                    job.result = self.db.run_job(job.fn, tx)
                    job.published, job.earliest_timer = tx.published, tx.earliest_timer
                    job.after = tx.after
                self.db._notify(conn, [p for job in group for p in job.published])
        except Exception as exc:
            if not isolate:
                return False
            job = group[0]
            job.error, job.published, job.earliest_timer, job.after = exc, [], None, []
        return True

    def db_deliver(self, group: list[_Job]) -> None:
        published = [item for job in group for item in job.published]
        if published:
            self.db.on_commit(published)
        dues = [job.earliest_timer for job in group if job.earliest_timer is not None]
        if dues:
            self.db.on_timer(min(dues))
        for after in {fn: None for job in group for fn in job.after}:
            after()
        for job in group:
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)
