"""Cross-replica wake-ups on PostgreSQL: LISTEN for the NOTIFYs other replicas' commits send.

Each commit that emits events sends ``{"origin", "ids"}`` on one channel (see
``Database``). The relay of every other replica loads those events and publishes them to
its own hub, so a long-poll parked on replica A wakes when replica B commits the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

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

    async def start(self) -> None:
        """Start listening; returns once the LISTEN is in place."""
        self._task = asyncio.create_task(self._run(), name="inloop-pg-relay")
        await self.listening.wait()

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
                    self.listening.set()
                    async for notify in conn.notifies():
                        await self._deliver(notify.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("PostgreSQL listener lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _deliver(self, payload: str) -> None:
        message = orjson.loads(payload)
        if message.get("origin") == self.db.origin:
            return  # this replica published its own events at commit
        events = await self.db.read(sql.get_events, message["ids"])
        requests = await self.db.read(sql.get_requests, [e.request_id for e in events])
        self.hub.publish([(e, requests[e.request_id]) for e in events])
