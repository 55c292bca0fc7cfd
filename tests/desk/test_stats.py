"""The dashboard's figures (``GET /v1/stats``), seeded on a fake clock; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from inloop.server.services import Services, closed_hours
from tests.support import FakeClock


async def user(api: httpx.AsyncClient, handle: str, capacity: int | None = None) -> dict[str, str]:
    """A user with a responder key acting for them; returns the key's auth header."""
    response = await api.post("/v1/users", json={"handle": handle, "name": handle.title()})
    assert response.status_code == 201, response.text
    if capacity is not None:
        await api.patch(f"/v1/users/{handle}", json={"capacity": capacity})
    key = await api.post("/v1/keys", json={"name": handle, "scopes": ["responder"], "user": handle})
    return {"Authorization": f"Bearer {key.json()['secret']}"}


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "Refund $120?", "options": ["approve", "reject"], **fields}
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def answer(api: httpx.AsyncClient, request: dict[str, Any], as_: dict[str, str]) -> None:
    response = await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": "approve"}, headers=as_
    )
    assert response.status_code == 200, response.text


async def stats(api: httpx.AsyncClient, window: str = "7d") -> dict[str, Any]:
    response = await api.get("/v1/stats", params={"window": window})
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_empty_store_has_zeros_and_no_percentiles(api: httpx.AsyncClient) -> None:
    """Nothing answered yet: counts are 0, percentiles and rates are null (not 0)."""
    figures = await stats(api)
    assert [o["priority"] for o in figures["open"]] == ["urgent", "high", "medium", "low"]
    assert figures["open_total"] == 0
    assert figures["response_times"] == {
        "answered": 0,
        "p50": None,
        "p90": None,
        "p99": None,
        "sample": 0,
    }
    assert figures["timeouts"] == {"count": 0, "out_of": 0, "rate": None}
    assert figures["escalations"] == {"count": 0, "out_of": 0, "rate": None}
    assert figures["load"] == []


async def test_open_requests_by_priority_and_status(api: httpx.AsyncClient) -> None:
    """Open requests are counted by priority and by pending/assigned; closed ones are not."""
    alice = await user(api, "alice")
    for priority, n in (("urgent", 1), ("high", 2), ("low", 3)):
        for _ in range(n):
            await create(api, priority=priority)
    held = await create(api, priority="high")
    claimed = await api.post(f"/v1/requests/{held['id']}/claim", headers=alice)
    assert claimed.status_code == 200, claimed.text
    await api.post(f"/v1/requests/{(await create(api, priority='urgent'))['id']}/cancel")
    await answer(api, await create(api, priority="urgent"), alice)

    figures = await stats(api)
    by = {o["priority"]: (o["pending"], o["assigned"], o["total"]) for o in figures["open"]}
    assert by == {"urgent": (1, 0, 1), "high": (2, 1, 3), "medium": (0, 0, 0), "low": (3, 0, 3)}
    assert figures["open_total"] == 7


async def test_response_time_percentiles_interpolate_over_the_window(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Answers after 1..10 minutes: p50 5.5 min, p90 9.1 min, p99 9.91 min (as
    percentile_cont); an answer older than the window does not count."""
    alice = await user(api, "alice")
    old = await create(api)
    clock.advance(minutes=1)
    await answer(api, old, alice)  # 1 minute, but 8 days before "now"
    clock.advance(days=8)
    for minutes in (7, 2, 10, 1, 5, 3, 9, 4, 8, 6):  # order of answering does not matter
        request = await create(api)
        clock.advance(minutes=minutes)
        await answer(api, request, alice)

    times = (await stats(api))["response_times"]
    assert (times["answered"], times["sample"]) == (10, 10)
    assert times["p50"] == pytest.approx(330.0)
    assert times["p90"] == pytest.approx(546.0)
    assert times["p99"] == pytest.approx(594.6)
    assert (await stats(api, "30d"))["response_times"]["answered"] == 11


def cont(values: list[float], fraction: float) -> float:
    """percentile_cont, the test's own way: sort, interpolate between the two nearest."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def test_past_hours_are_read_once_and_every_answer_counts_once(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What closed in an hour that has ended is read from the store once and kept; the
    window's ragged ends are read each time. Answers on hour boundaries, in the live end,
    and in hours that seal later all count once, and the percentiles are every answer's
    (no sample), on SQLite as on PostgreSQL."""
    read: list[tuple[datetime, datetime]] = []
    by_hour = closed_hours._by_hour

    def spy(conn: Any, since: datetime, until: datetime) -> Any:
        read.append((since, until))
        return by_hour(conn, since, until)

    monkeypatch.setattr(closed_hours, "_by_hour", spy)
    alice = await user(api, "alice")
    took: list[float] = []

    async def answer_after(minutes: int) -> None:
        request = await create(api)
        clock.advance(minutes=minutes)
        await answer(api, request, alice)
        took.append(minutes * 60.0)

    # The clock starts on the hour: 09:59, then 10:00:00.000000 exactly, 10:30, ...
    for minutes in (59, 1, 30, 61, 7, 120, 15):
        await answer_after(minutes)
    await create(api, timeout="1h")
    clock.advance(minutes=61)
    await services.scheduler.run_due()  # a timeout, in the hour it fired in

    async def check() -> None:
        figures = await stats(api)
        times = figures["response_times"]
        assert (times["answered"], times["sample"]) == (len(took), len(took))
        for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            assert times[name] == pytest.approx(cont(took, fraction)), name
        assert figures["timeouts"] == {
            "count": 1,
            "out_of": len(took) + 1,
            "rate": pytest.approx(1 / (len(took) + 1)),
        }
        assert [row["answered"] for row in figures["load"]] == [len(took)]

    await check()
    assert len(read) == 1  # every sealed hour of the window, in one run
    await check()
    assert len(read) == 1  # kept: nothing read again within the hour

    await answer_after(3)  # in the live end of the window
    await check()
    clock.advance(hours=3)  # its hour seals; newer answers are live again
    await answer_after(45)
    await check()
    assert len(read) == 2
    assert read[1][0] == read[0][1]  # only the hours not read before


async def test_a_start_reads_the_past_month_in_the_background_and_survives_a_failure(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inloop serve`` reads the dashboard's longest window's past hours as it starts, so
    the first 30-day page reads only its ends; a failed read there is logged, and the
    first page reads the hours instead."""
    read: list[tuple[datetime, datetime]] = []
    by_hour = closed_hours._by_hour
    failing = True

    def spy(conn: Any, since: datetime, until: datetime) -> Any:
        read.append((since, until))
        if failing:
            raise RuntimeError("the store went away")
        return by_hour(conn, since, until)

    monkeypatch.setattr(closed_hours, "_by_hour", spy)
    alice = await user(api, "alice")
    request = await create(api)
    clock.advance(minutes=10)
    await answer(api, request, alice)
    clock.advance(hours=2)

    await services.stats.start()
    assert services.stats._warming is not None
    await services.stats._warming  # the failure is logged, not raised
    assert len(read) == 1 and not services.stats.closed._hours
    failing = False
    assert (await stats(api, "30d"))["response_times"]["answered"] == 1
    assert len(read) == 2

    read.clear()
    services.stats.closed = closed_hours.ClosedHours(services.db)
    await services.stats.start()
    assert services.stats._warming is not None
    await services.stats._warming
    assert len(read) == 1 and read[0][1] - read[0][0] >= timedelta(days=29)
    assert (await stats(api, "30d"))["response_times"]["p50"] == 600.0
    assert len(read) == 1


async def test_a_single_answer_is_every_percentile(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """One answer after 90 s: p50 = p90 = p99 = 90 s."""
    alice = await user(api, "alice")
    request = await create(api)
    clock.advance(seconds=90)
    await answer(api, request, alice)
    times = (await stats(api))["response_times"]
    assert (times["p50"], times["p90"], times["p99"]) == (90.0, 90.0, 90.0)


async def test_timeout_and_escalation_rates(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Of 4 resolved, 2 closed by a policy (timed out, auto-approved): 50%. And
    1 of 6 created was escalated. A cancelled request counts as created, not resolved."""
    alice = await user(api, "alice")
    await user(api, "bob")
    await create(api, timeout="1h")
    await create(api, timeout="1h", escalation="auto_approve")
    await create(api, timeout="1h", escalation={"action": "escalate", "to": "user:bob"})
    await answer(api, await create(api), alice)
    await api.post(f"/v1/requests/{(await create(api))['id']}/cancel")
    # Answered by the admin token: resolved by a human, so not a timeout either.
    answered = await api.post(
        f"/v1/requests/{(await create(api))['id']}/respond", json={"response": "reject"}
    )
    assert answered.status_code == 200
    clock.advance(minutes=61)
    await services.scheduler.run_due()

    figures = await stats(api)
    assert figures["timeouts"] == {"count": 2, "out_of": 4, "rate": 0.5}
    assert figures["escalations"] == {"count": 1, "out_of": 6, "rate": pytest.approx(1 / 6)}


async def test_load_per_human(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """Each enabled human: open requests held against capacity, and answers in the window."""
    alice = await user(api, "alice", capacity=4)
    bob = await user(api, "bob")
    await user(api, "carol")
    await api.patch("/v1/users/carol", json={"disabled": True})
    for _ in range(2):
        request = await create(api)
        assert (await api.post(f"/v1/requests/{request['id']}/claim", headers=alice)).is_success
    for _ in range(3):
        await answer(api, await create(api), bob)
    clock.advance(days=8)
    await answer(api, await create(api), alice)
    await answer(api, await create(api), bob)

    load = {row["handle"]: row for row in (await stats(api))["load"]}
    assert set(load) == {"alice", "bob"}
    assert (load["alice"]["open_assigned"], load["alice"]["capacity"]) == (2, 4)
    assert load["alice"]["utilisation"] == 0.5
    assert (load["alice"]["answered"], load["bob"]["answered"]) == (1, 1)
    assert load["bob"]["utilisation"] is None
    assert (await stats(api, "30d"))["load"][1]["answered"] == 4


async def test_a_responder_sees_the_totals_and_only_their_own_load(
    api: httpx.AsyncClient,
) -> None:
    """Admins see everyone's load; a responder acting for a user sees only their own row."""
    alice = await user(api, "alice")
    await user(api, "bob")
    await create(api)
    mine = await api.get("/v1/stats", headers=alice)
    assert mine.status_code == 200, mine.text
    assert mine.json()["open_total"] == 1
    assert [row["handle"] for row in mine.json()["load"]] == ["alice"]
    assert [row["handle"] for row in (await stats(api))["load"]] == ["alice", "bob"]


async def test_other_callers_are_refused(api: httpx.AsyncClient) -> None:
    """An agent key, and a responder key acting for no user, get 403; no key gets 401."""
    for scopes in (["agent"], ["responder"]):
        key = (await api.post("/v1/keys", json={"name": "k", "scopes": scopes})).json()
        response = await api.get("/v1/stats", headers={"Authorization": f"Bearer {key['secret']}"})
        assert response.status_code == 403, scopes
        assert response.json()["error"]["code"] in ("missing_scope", "forbidden")
        assert "load" not in response.text
    anonymous = await api.get("/v1/stats", headers={"Authorization": ""})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("window", ["soon", "0s", "400d", "-7d", "x" * 41])
async def test_a_bad_window_is_a_422_naming_the_field(api: httpx.AsyncClient, window: str) -> None:
    response = await api.get("/v1/stats", params={"window": window})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "window"
    assert error["message"]
