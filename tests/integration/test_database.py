"""The Database's write path: grouped commits, isolated failures, publish after commit."""

from __future__ import annotations

import asyncio

import pytest

from inloop.domain import EventType, NewRequest, Scope
from inloop.domain.identity import Principal
from inloop.domain.requests import NewEvent, Request
from inloop.server.services import Services
from inloop.server.store import requests as sql
from inloop.server.store.database import Published, Tx
from tests.support import FakeClock

ADMIN = Principal(actor="tester", scopes=frozenset({Scope.ADMIN}))


class Boom(Exception):
    pass


async def test_a_failing_write_is_isolated_from_the_writes_grouped_with_it(
    services: Services, clock: FakeClock
) -> None:
    """30 writes at once, one raising after it emitted: 29 commit and publish, one does not."""
    request, _ = await services.requests.create(ADMIN, NewRequest(prompt="x", kind="input"))
    heard: Published = []
    services.db.on_commit = lambda published: heard.extend(published)

    def note(tx: Tx, i: int) -> int:
        event = NewEvent(
            request_id=request.id, type=EventType.CREATED, actor=f"w{i}", at=clock.now()
        )
        tx.emit(event, request)
        if i == 13:
            raise Boom("this write fails after emitting")
        return i

    results = await asyncio.gather(
        *(services.db.write(note, i) for i in range(30)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, Boom)] == [results[13]]
    assert [r for r in results if not isinstance(r, Exception)] == [i for i in range(30) if i != 13]
    actors = {e.actor for e, _ in heard}
    assert "w13" not in actors and len(actors) == 29
    stored = await services.db.read(sql.list_events, request_id=request.id)
    assert "w13" not in {e.actor for e in stored} and len(stored) == 30  # 29 + created


async def test_callers_hear_of_their_write_only_after_its_events_are_published(
    services: Services,
) -> None:
    """By the time create() returns, the hub has already seen the created event."""
    heard: list[str] = []
    services.db.on_commit = lambda published: heard.extend(r.id for _, r in published)
    created = await asyncio.gather(
        *(
            services.requests.create(ADMIN, NewRequest(prompt=f"q{i}", kind="input"))
            for i in range(10)
        )
    )
    assert {r.id for r, _ in created} == set(heard)


async def test_an_error_in_a_read_reaches_the_caller(services: Services) -> None:
    """A read that raises raises in the caller, and the database stays usable."""

    def broken(_conn: object) -> Request:
        raise Boom("read failed")

    with pytest.raises(Boom):
        await services.db.read(broken)
    assert await services.db.read(sql.get_request, "req_none") is None


async def test_a_write_after_the_writer_stopped_fails_at_once(services: Services) -> None:
    """After shutdown a write raises WriterStoppedError instead of waiting forever."""
    from inloop.server.store.database import WriterStoppedError

    services.db._writer.stop()
    with pytest.raises(WriterStoppedError):
        await services.requests.create(ADMIN, NewRequest(prompt="late", kind="input"))


async def test_a_waiter_told_to_look_again_keeps_waiting_for_the_answer(services: Services) -> None:
    """A hub resync wakes waiters with "look again"; an open request keeps them waiting."""
    request, _ = await services.requests.create(ADMIN, NewRequest(prompt="x", kind="input"))
    waiting = asyncio.create_task(services.requests.wait(ADMIN, request.id, 30))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    services.hub.resync()
    await asyncio.sleep(0)
    assert not waiting.done()
    await services.requests.respond(ADMIN, request.id, "done")
    assert (await asyncio.wait_for(waiting, 10)).response == "done"
