"""Two replicas on one PostgreSQL: an answer committed on one wakes a waiter on the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from inloop.domain import NewRequest, Scope
from inloop.domain.identity import Principal
from inloop.server.config import Settings
from inloop.server.services import Services, build_services
from inloop.server.services.feed import FeedFilter, event_feed
from inloop.server.services.relay import PgRelay
from tests.support import Databases, FakeClock

ADMIN = Principal(actor="tester", scopes=frozenset({Scope.ADMIN}))
Replicas = tuple[Services, Services, PgRelay]


@pytest.fixture
async def replicas(databases: Databases) -> AsyncIterator[Replicas]:
    """Two replicas' services on one PostgreSQL database; A listens for B's commits."""
    with databases.postgres() as url:
        a = build_services(Settings(database_url=url), clock=FakeClock())
        b = build_services(Settings(database_url=url), clock=FakeClock())
        relay = PgRelay(a.db, a.hub)
        await relay.start()
        try:
            yield a, b, relay
        finally:
            await relay.stop()
            a.close()
            b.close()


@pytest.mark.postgres
async def test_waiter_on_one_replica_wakes_on_an_answer_from_another(replicas: Replicas) -> None:
    """The long-poll on replica A returns the answer committed on B, long before its timeout."""
    a, b, _relay = replicas
    feed = event_feed(a.db, a.hub, ADMIN, FeedFilter(), None)
    first_event = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    request, _ = await b.requests.create(ADMIN, NewRequest(prompt="Ok?", kind="confirmation"))
    waiting = asyncio.create_task(a.requests.wait(ADMIN, request.id, timeout=60))
    await asyncio.sleep(0)
    await b.requests.respond(ADMIN, request.id, True)
    answered = await asyncio.wait_for(waiting, 10)
    assert answered.status == "resolved" and answered.response is True
    seen = [
        await asyncio.wait_for(first_event, 10),
        await asyncio.wait_for(anext(feed), 10),
    ]
    assert [(e.type, e.request_id) for e, _ in seen] == [
        ("created", request.id),
        ("responded", request.id),
    ]
    await feed.aclose()  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_the_relay_survives_a_bad_notification(replicas: Replicas) -> None:
    """A malformed NOTIFY is logged and skipped; the next answer still wakes the waiter."""
    import psycopg

    a, b, relay = replicas
    async with await psycopg.AsyncConnection.connect(relay.dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify('inloop_events', 'not json')")
    request, _ = await b.requests.create(ADMIN, NewRequest(prompt="Ok?", kind="confirmation"))
    waiting = asyncio.create_task(a.requests.wait(ADMIN, request.id, timeout=60))
    await asyncio.sleep(0)
    await b.requests.respond(ADMIN, request.id, True)
    assert (await asyncio.wait_for(waiting, 10)).response is True
    assert relay._task is not None and not relay._task.done()


@pytest.mark.postgres
async def test_a_commit_with_thousands_of_events_still_notifies(replicas: Replicas) -> None:
    """PostgreSQL caps a NOTIFY at 8,000 bytes: 2,000 events in one commit arrive in chunks."""
    from inloop.domain import EventType
    from inloop.domain.requests import NewEvent
    from inloop.server.store.database import Tx

    a, b, _relay = replicas
    request, _ = await b.requests.create(ADMIN, NewRequest(prompt="x", kind="input"))
    clock = FakeClock()

    def many(tx: Tx) -> None:
        for i in range(2000):
            new = NewEvent(
                request_id=request.id,
                type=EventType.REMINDED,
                actor=f"s{i}",
                at=clock.now(),
            )
            tx.emit(new, request)

    feed = event_feed(a.db, a.hub, ADMIN, FeedFilter(types=[EventType.REMINDED]), None)
    first = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    await b.db.write(many)
    got = [await asyncio.wait_for(first, 10)]
    got += [await asyncio.wait_for(anext(feed), 10) for _ in range(1999)]
    assert len({e.id for e, _ in got}) == 2000
    await feed.aclose()  # type: ignore[attr-defined]
