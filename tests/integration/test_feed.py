"""The event feed behind GET /v1/events: live, filtered, resumable, catching up when slow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from inloop.domain import EventType, NewRequest, Scope
from inloop.domain.identity import Principal
from inloop.domain.requests import Event, Request
from inloop.server.services import Services
from inloop.server.services.feed import FeedFilter, event_feed
from inloop.server.services.hub import Stream

ADMIN = Principal(actor="tester", scopes=frozenset({Scope.ADMIN}))


async def take(feed: AsyncIterator[tuple[Event, Request]], n: int) -> list[tuple[Event, Request]]:
    return [await asyncio.wait_for(anext(feed), 10) for _ in range(n)]


async def ask(services: Services, prompt: str, **fields: object) -> Request:
    request, _ = await services.requests.create(ADMIN, NewRequest(prompt=prompt, **fields))  # type: ignore[arg-type]
    return request


async def test_live_events_arrive_in_order_with_the_request(services: Services) -> None:
    """A subscriber sees created then responded, each with the request as it became."""
    feed = event_feed(services.db, services.hub, ADMIN, FeedFilter(), None)
    first = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    request = await ask(services, "Ok?", kind="confirmation")
    await services.requests.respond(ADMIN, request.id, True)
    got = [await asyncio.wait_for(first, 10), *await take(feed, 1)]
    assert [(e.type, r.status) for e, r in got] == [
        (EventType.CREATED, "pending"),
        (EventType.RESPONDED, "resolved"),
    ]
    await feed.aclose()  # type: ignore[attr-defined]


async def test_resume_replays_what_was_missed_then_goes_live(services: Services) -> None:
    """With a last event id, the feed replays later events from the database, then live ones."""
    a = await ask(services, "a", kind="input")
    b = await ask(services, "b", kind="input")
    trail = await services.requests.events(ADMIN, a.id)
    feed = event_feed(services.db, services.hub, ADMIN, FeedFilter(), trail[-1].id)
    replayed = await take(feed, 1)
    assert replayed[0][0].request_id == b.id
    later = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    await services.requests.cancel(ADMIN, a.id, reason="done")
    event, request = await asyncio.wait_for(later, 10)
    assert (event.type, request.id) == (EventType.CANCELLED, a.id)
    await feed.aclose()  # type: ignore[attr-defined]


async def test_filters_by_request_type_and_conversation(services: Services) -> None:
    """Only events matching every filter are delivered."""
    feed = event_feed(
        services.db,
        services.hub,
        ADMIN,
        FeedFilter(types=[EventType.RESPONDED], conversation_id="c9"),
        None,
    )
    nxt = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    other = await ask(services, "other", kind="input", conversation_id="c1")
    mine = await ask(services, "mine", kind="input", conversation_id="c9")
    await services.requests.respond(ADMIN, other.id, "x")
    await services.requests.respond(ADMIN, mine.id, "y")
    event, _ = await asyncio.wait_for(nxt, 10)
    assert (event.type, event.request_id) == (EventType.RESPONDED, mine.id)
    await feed.aclose()  # type: ignore[attr-defined]


async def test_a_slow_subscriber_catches_up_from_the_database(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the hub's buffer overflows, the feed re-reads the database: nothing is lost."""
    overflows: list[int] = []
    offer = Stream.offer

    def counting_offer(stream: Stream, event: Event, request: Request) -> None:
        was = stream.overflowed
        offer(stream, event, request)
        if stream.overflowed and not was:
            overflows.append(event.id)

    monkeypatch.setattr(Stream, "offer", counting_offer)
    services.hub._stream_buffer = 1
    feed = event_feed(services.db, services.hub, ADMIN, FeedFilter(), 0)
    first = asyncio.ensure_future(anext(feed))  # subscribes to the hub before the creates
    await asyncio.sleep(0)
    assert len(services.hub._streams) == 1
    created = [await ask(services, f"r{i}", kind="input") for i in range(6)]
    got = [await asyncio.wait_for(first, 10), *await take(feed, 5)]
    assert overflows, "the stream never overflowed: the test proves nothing"
    assert [r.id for _, r in got] == [c.id for c in created]
    assert [e.id for e, _ in got] == sorted({e.id for e, _ in got})
    await feed.aclose()  # type: ignore[attr-defined]


async def test_the_feed_needs_a_scope(services: Services) -> None:
    """A principal with no scopes is refused before any streaming starts."""
    from inloop.domain.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        event_feed(
            services.db, services.hub, Principal(actor="x", scopes=frozenset()), FeedFilter(), None
        )


async def test_the_feed_shows_only_requests_the_caller_may_see(services: Services) -> None:
    """A responder outside the candidates hears nothing of the request, live or replayed."""
    outsider = Principal(actor="user:eve", scopes=frozenset({Scope.RESPONDER}), handle="eve")
    live = event_feed(services.db, services.hub, outsider, FeedFilter(), None)
    nxt = asyncio.ensure_future(anext(live))
    await asyncio.sleep(0)
    await ask(services, "secret", kind="input", assignee="role:finance")
    open_to_all = await ask(services, "public", kind="input")
    _, request = await asyncio.wait_for(nxt, 10)
    assert request.id == open_to_all.id
    replayed = event_feed(services.db, services.hub, outsider, FeedFilter(), 0)
    _, request = await asyncio.wait_for(anext(replayed), 10)
    assert request.id == open_to_all.id
    await live.aclose()  # type: ignore[attr-defined]
    await replayed.aclose()  # type: ignore[attr-defined]
