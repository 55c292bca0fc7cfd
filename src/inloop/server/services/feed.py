"""The event feed behind ``GET /v1/events``: replay from the database, then live.

A client resuming with Last-Event-ID first gets what it missed from the database, then
what the hub publishes. A subscriber too slow for the hub's buffer is caught up from the
database again, so it sees every event once, in order.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from inloop.domain.access import can_see
from inloop.domain.enums import EventType, Scope
from inloop.domain.identity import Principal
from inloop.domain.requests import Event, Request
from inloop.server.services.hub import Hub
from inloop.server.store import requests as sql
from inloop.server.store.database import Database

PAGE = 500


@dataclass(frozen=True)
class FeedFilter:
    request_id: str | None = None
    types: Sequence[EventType] = ()
    conversation_id: str | None = None
    # Only events of requests this principal may see (set by event_feed).
    visible_to: Principal | None = None

    def accepts(self, event: Event, request: Request) -> bool:
        return (
            (self.request_id is None or event.request_id == self.request_id)
            and (not self.types or event.type in self.types)
            and (self.conversation_id is None or request.conversation_id == self.conversation_id)
            and (self.visible_to is None or can_see(self.visible_to, request))
        )


def event_feed(
    db: Database, hub: Hub, principal: Principal, where: FeedFilter, last_event_id: int | None
) -> AsyncIterator[tuple[Event, Request]]:
    """Check the caller may read events (raising now, not mid-stream), then stream them."""
    principal.require(Scope.AGENT, Scope.RESPONDER)
    return _feed(db, hub, dataclasses.replace(where, visible_to=principal), last_event_id)


async def _feed(
    db: Database, hub: Hub, where: FeedFilter, last_event_id: int | None
) -> AsyncIterator[tuple[Event, Request]]:
    # Live events are not always in id order: on PostgreSQL, ids come from a sequence and
    # replicas commit in their own order. So duplicates (a replay overlapping the live
    # queue) are told apart by the ids recently sent, not by "id <= last".
    recent = _Recent()
    with hub.stream(where.accepts) as stream:
        if last_event_id is not None:
            async for item in _replay(db, where, last_event_id):
                recent.add(item[0].id)
                yield item
        while True:
            if stream.overflowed:
                while not stream.queue.empty():
                    stream.queue.get_nowait()
                stream.overflowed = False
                async for item in _replay(db, where, recent.highest):
                    if recent.add(item[0].id):
                        yield item
            event, request = await stream.queue.get()
            if recent.add(event.id):
                yield event, request


class _Recent:
    """The ids sent lately (a bounded window) and the highest one."""

    def __init__(self, size: int = 10_000) -> None:
        self.ids: deque[int] = deque()
        self.seen: set[int] = set()
        self.size = size
        self.highest = 0

    def add(self, event_id: int) -> bool:
        """Note an id; False if it was sent already."""
        if event_id in self.seen:
            return False
        self.ids.append(event_id)
        self.seen.add(event_id)
        if len(self.ids) > self.size:
            self.seen.discard(self.ids.popleft())
        self.highest = max(self.highest, event_id)
        return True


async def _replay(
    db: Database, where: FeedFilter, after: int
) -> AsyncIterator[tuple[Event, Request]]:
    while True:
        found = await db.read(
            sql.list_events,
            request_id=where.request_id,
            after_id=after,
            types=where.types,
            conversation_id=where.conversation_id,
            limit=PAGE,
        )
        if not found:
            return
        by_id = await db.read(sql.get_requests, [e.request_id for e in found])
        for event in found:
            if where.accepts(event, by_id[event.request_id]):
                yield event, by_id[event.request_id]
        after = found[-1].id
        if len(found) < PAGE:
            return
