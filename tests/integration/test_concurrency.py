"""Races: many humans answering one request at once; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx


async def test_fifty_concurrent_responders_one_wins(api: httpx.AsyncClient) -> None:
    """50 answers at once: exactly one 200, 49 conflicts, one responded event."""
    request = (
        await api.post("/v1/requests", json={"prompt": "Ship?", "options": ["approve", "reject"]})
    ).json()
    answers = ["approve" if i % 2 else "reject" for i in range(50)]
    results = await asyncio.gather(
        *[
            api.post(
                f"/v1/requests/{request['id']}/respond", json={"response": a, "comment": str(i)}
            )
            for i, a in enumerate(answers)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 49
    winner = next(r.json() for r in results if r.status_code == 200)
    stored = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert stored["response"] == winner["response"] and stored["comment"] == winner["comment"]
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert [e["type"] for e in events] == ["created", "responded"]
    assert all(
        r.json()["error"]["code"] == "request_closed" for r in results if r.status_code == 409
    )


async def test_cancel_racing_answers_leaves_one_outcome(api: httpx.AsyncClient) -> None:
    """A cancel racing 20 answers: one of them wins, and the trail has exactly one closing event."""
    request = (
        await api.post("/v1/requests", json={"prompt": "Ok?", "kind": "confirmation"})
    ).json()
    calls = [
        api.post(f"/v1/requests/{request['id']}/respond", json={"response": True})
        for _ in range(20)
    ]
    calls.insert(10, api.post(f"/v1/requests/{request['id']}/cancel"))
    results = await asyncio.gather(*calls)
    assert [r.status_code for r in results].count(200) == 1
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert len(events) == 2 and events[1]["type"] in ("responded", "cancelled")
