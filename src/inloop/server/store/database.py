"""Transactions on a worker thread, and the events they publish once committed.

Services hand a plain function to :meth:`Database.read` or :meth:`Database.write`; it runs
on a worker thread inside one transaction. Events appended with :meth:`Tx.emit` are stored
in that transaction and passed to ``on_commit`` only after the commit succeeded, so no
listener ever hears of a change that was rolled back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import orjson
from anyio import CapacityLimiter, to_thread
from sqlalchemy import Connection, Engine, func, insert, select

from inloop.domain.requests import Event, NewEvent, Request
from inloop.server.store import schema
from inloop.server.store.engine import WRITE

P = ParamSpec("P")
T = TypeVar("T")

Published = list[tuple[Event, Request]]
NOTIFY_CHANNEL = "inloop_events"


class Tx:
    """One open transaction: its connection and the events it emits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.published: Published = []

    def emit(self, new: NewEvent, request: Request) -> Event:
        """Append an audit event; it is published with ``request`` after the commit."""
        row = new.model_dump()
        event_id = self.conn.execute(
            insert(schema.events).values(row).returning(schema.events.c.id)
        ).scalar_one()
        event = Event(id=event_id, **row)
        self.published.append((event, request))
        return event


class Database:
    def __init__(self, engine: Engine, *, origin: str = "", threads: int = 16) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.origin = origin  # this process, so it can skip its own NOTIFYs
        self.on_commit: Callable[[Published], None] = lambda published: None
        # SQLite has one writer at a time; queueing writers here keeps them off SQLite's
        # sleep-and-retry busy handler, which would add milliseconds of latency.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self._limiter = CapacityLimiter(threads)

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await to_thread.run_sync(
            lambda: self.read_sync(fn, *args, **kwargs), limiter=self._limiter
        )

    async def write(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        result, published = await to_thread.run_sync(
            lambda: self._write_sync(fn, *args, **kwargs), limiter=self._limiter
        )
        if published:
            self.on_commit(published)
        return result

    def read_sync(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self.engine.connect() as conn, conn.begin():
            return fn(conn, *args, **kwargs)

    def write_sync(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        result, published = self._write_sync(fn, *args, **kwargs)
        if published:
            self.on_commit(published)
        return result

    def _write_sync(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, Published]:
        if self._write_lock is None:
            return self._transaction(fn, *args, **kwargs)
        with self._write_lock:
            return self._transaction(fn, *args, **kwargs)

    def _transaction(
        self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, Published]:
        with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            tx = Tx(conn)
            result = fn(tx, *args, **kwargs)
            if tx.published and self.dialect == "postgresql":
                # Delivered by PostgreSQL at commit, to the other replicas' listeners.
                payload = orjson.dumps(
                    {"origin": self.origin, "ids": [e.id for e, _ in tx.published]}
                ).decode()
                conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))
        return result, tx.published

    def dispose(self) -> None:
        self.engine.dispose()
