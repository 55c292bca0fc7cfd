"""Listing requests: filters, order, cursor pagination; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inloop.server.services import Services
from tests.support import FakeClock


async def seed(api: httpx.AsyncClient, clock: FakeClock) -> list[dict[str, Any]]:
    bodies = [
        {"prompt": "low one", "priority": "low", "kind": "input"},
        {"prompt": "urgent refund", "priority": "urgent", "assignee": "role:manager"},
        {"prompt": "medium form", "response_schema": {"type": "object"}, "conversation_id": "c1"},
        {
            "prompt": "urgent deploy",
            "priority": "urgent",
            "assignee": ["user:alice", "team:ops"],
            "user_id": "u7",
        },
        {"prompt": "High 100% sure_thing", "priority": "high", "kind": "confirmation"},
    ]
    created = []
    for body in bodies:
        clock.advance(minutes=1)
        created.append((await api.post("/v1/requests", json=body)).json())
    return created


async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/v1/requests", params=params)
    assert response.status_code == 200, response.text
    return [r["prompt"] for r in response.json()["items"]]


async def test_ordered_by_priority_then_age(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """Urgent first, and among equals the oldest first."""
    await seed(api, clock)
    assert await listed(api) == [
        "urgent refund",
        "urgent deploy",
        "High 100% sure_thing",
        "medium form",
        "low one",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"priority": "urgent"}, ["urgent refund", "urgent deploy"]),
        ({"priority": ["low", "high"]}, ["High 100% sure_thing", "low one"]),
        ({"kind": "form"}, ["medium form"]),
        ({"assignee": "team:ops"}, ["urgent deploy"]),
        ({"assignee": "role:manager"}, ["urgent refund"]),
        ({"assignee": "role:manage"}, []),
        ({"conversation_id": "c1"}, ["medium form"]),
        ({"user_id": "u7"}, ["urgent deploy"]),
        ({"q": "REFUND"}, ["urgent refund"]),
        ({"q": "100%"}, ["High 100% sure_thing"]),
        ({"q": "_"}, ["High 100% sure_thing"]),
        ({"q": "fun"}, ["urgent refund"]),  # inside a word, from the trigram index
        ({"q": "ure_th"}, ["High 100% sure_thing"]),
        ({"q": "nt "}, ["urgent refund", "urgent deploy"]),  # spaces are part of the term
        ({"q": 'fund"'}, []),  # a quote is a character, not FTS5 syntax
        ({"q": "OR"}, ["medium form"]),  # shorter than a trigram: tested row by row
        ({"created_after": "2026-01-05T09:03:00Z"}, ["urgent deploy", "High 100% sure_thing"]),
        ({"created_before": "2026-01-05T09:02:30Z"}, ["urgent refund", "low one"]),
        ({"status": "resolved"}, []),
    ],
)
async def test_filters(
    api: httpx.AsyncClient, clock: FakeClock, params: dict[str, Any], expected: list[str]
) -> None:
    """Each filter narrows the list to what it names; LIKE wildcards in q are literal."""
    await seed(api, clock)
    assert await listed(api, **params) == expected


async def test_status_filter_follows_answers(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """Answered requests leave the pending list and show under resolved."""
    created = await seed(api, clock)
    await api.post(f"/v1/requests/{created[1]['id']}/respond", json={"response": "approve"})
    assert "urgent refund" not in await listed(api, status="pending")
    assert await listed(api, status="resolved") == ["urgent refund"]
    assert len(await listed(api, status=["pending", "resolved"])) == 5


async def test_cursor_pages_through_everything_once(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Pages of 2 give every request exactly once, in order, then no cursor."""
    await seed(api, clock)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = (
            await api.get(
                "/v1/requests", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        seen += [r["prompt"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == await listed(api)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage!"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"status": "sleeping"}, "status.0"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
async def test_bad_list_parameters(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    """Bad query parameters are a 422 naming the parameter."""
    response = await api.get("/v1/requests", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_queue_search_reads_the_same_from_the_index_and_the_walk(
    api: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk's search gives the same pages and counts whether it starts from the trigram
    index (few matches) or walks the queue's order testing each row (many)."""
    from inloop.server.store import desk, search

    for i in range(24):
        body: dict[str, Any] = {
            "title": f"{'Invoice' if i % 3 else 'Receipt'} {i}",
            "prompt": f"Pay the INVOICE #{i}?" if i % 4 == 0 else f"Check item {i}",
            "priority": ["low", "medium", "high", "urgent"][i % 4],
        }
        if i % 2:
            body["timeout"] = f"{i + 1}h"
        assert (await api.post("/v1/requests", json=body)).status_code == 201

    async def read(q: str) -> tuple[list[list[str]], int]:
        where = desk.QueueFilter(q=q)
        pages = []
        for offset in (0, 5, 10, 15):
            page, _ = await services.db.read(desk.queue_page, where, offset=offset, limit=5)
            pages.append([r.title for r in page])
        return pages, await services.db.read(desk.count, where)

    for q in ("invoice", "voice 1", "receipt"):
        from_index = await read(q)
        monkeypatch.setattr(search, "FEW", -1)  # every term is common: the walk
        walked = await read(q)
        monkeypatch.undo()
        assert from_index == walked
        assert sum(len(p) for p in from_index[0]) == from_index[1]
    assert (await read("invoice"))[1] == 18
