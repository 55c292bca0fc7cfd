"""Cross-replica wake-ups on PostgreSQL: LISTEN for the NOTIFYs other replicas' commits send.

Each commit that emits events sends ``{"origin", "ids"}`` on one channel (see
``Database``). The relay of every other replica loads those events and publishes them to
its own hub, so a long-poll parked on replica A wakes when replica B commits the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
import psycopg
from sqlalchemy.engine import make_url

from inloop.server.services.hub import Hub
from inloop.server.store import requests as sql
from inloop.server.store.database import NOTIFY_CHANNEL, Database

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0


class PgRelay:
    def __init__(self, db: Database, hub: Hub) -> None:
        self.db = db
        self.hub = hub
        self.dsn = (
            make_url(db.engine.url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        #: Told the ids of conversations another replica changed (they carry no events).
        self.conversations: Callable[[list[str]], None] = lambda ids: None

    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once the LISTEN is in place (or, failing that, after
        ``timeout`` seconds: the relay keeps retrying in the background)."""
        self._task = asyncio.create_task(self._run(), name="inloop-pg-relay")
        try:
            await asyncio.wait_for(asyncio.shield(self.listening.wait()), timeout)
        except TimeoutError:
            log.warning("PostgreSQL LISTEN not ready after %ss; continuing without it", timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if self.listening.is_set():
                        # Whatever was committed while we were away was not heard: let
                        # streams catch up from the database and waiters look again.
                        self.hub.resync()
                    self.listening.set()
                    async for notify in conn.notifies():
                        await self._deliver(notify.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("PostgreSQL listener lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _deliver(self, payload: str) -> None:
        """Publish another replica's events; a bad message is logged, never fatal."""
        try:
            message = orjson.loads(payload)
            if message.get("origin") == self.db.origin:
                return  # this replica published its own events at commit
            if "conversations" in message:
                self.conversations([str(c) for c in message["conversations"]])
                return
            events = await self.db.read(sql.get_events, [int(i) for i in message["ids"]])
            requests = await self.db.read(sql.get_requests, [e.request_id for e in events])
        except Exception:
            log.exception("could not relay the notification %r", payload[:200])
            self.hub.resync()
            return
        self.hub.publish([(e, requests[e.request_id]) for e in events])
