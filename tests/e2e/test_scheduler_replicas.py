"""Two ``inloop serve`` replicas on one PostgreSQL database fire each timer exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from inloop.domain import NewRequest
from inloop.domain.enums import EventType, Resolution
from inloop.domain.ids import new_id
from inloop.domain.requests import new_record
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import events, request_candidates, requests, timers
from tests.support import Databases, ServerProcess

pytestmark = [pytest.mark.e2e]

BATCH = 5000


def seed_timeouts(engine: Engine, due_at: Iterator[datetime], count: int) -> None:
    """Store ``count`` open requests as ``RequestService.create`` does with a timeout:
    the request row, its candidates, and a ``timeout`` timer due at the request's due_at.
    """
    now = datetime.now(UTC)
    new = NewRequest.model_validate({"kind": "approval", "prompt": "Ship it?", "timeout": "5s"})
    template = new_record(new, id="", created_by="key:test", now=now, idempotency_key=None)
    base = {**template.model_dump(), "priority_order": template.priority.order}
    with engine.begin() as conn:
        for start in range(0, count, BATCH):
            rows, candidates, due = [], [], []
            for _ in range(start, min(start + BATCH, count)):
                request_id, at = new_id("req", now), next(due_at)
                rows.append({**base, "id": request_id, "due_at": at})
                candidates += [{"request_id": request_id, "ref": r} for r in base["candidates"]]
                due.append(
                    {
                        "kind": "timeout",
                        "due_at": at,
                        "request_id": request_id,
                        "data": {"level": 0, "stage": 0},
                    }
                )
            conn.execute(requests.insert(), rows)
            if candidates:
                conn.execute(request_candidates.insert(), candidates)
            conn.execute(timers.insert(), due)


def timed_out_count(engine: Engine) -> int:
    query = select(func.count()).where(events.c.type == EventType.TIMED_OUT)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def wait_for_timed_out(engine: Engine, count: int, *, seconds: float) -> None:
    """Poll until ``count`` timed_out events are stored; fail with what is there at the deadline."""
    deadline = time.monotonic() + seconds
    while (found := timed_out_count(engine)) < count:
        assert time.monotonic() < deadline, f"only {found} of {count} timeouts fired"
        time.sleep(0.1)  # polling for the events' arrival


def assert_fired_exactly_once(engine: Engine, count: int) -> None:
    """Every request timed out, with one timed_out event each, and no timer is left."""
    with engine.connect() as conn:
        per_request = conn.execute(
            select(events.c.request_id, func.count())
            .where(events.c.type == EventType.TIMED_OUT)
            .group_by(events.c.request_id)
        ).all()
        resolutions = conn.execute(
            select(requests.c.resolution, requests.c.resolved_by, func.count()).group_by(
                requests.c.resolution, requests.c.resolved_by
            )
        ).all()
        left = conn.execute(select(func.count()).select_from(timers)).scalar_one()
    assert len(per_request) == count
    assert {n for _, n in per_request} == {1}
    assert [tuple(r) for r in resolutions] == [(Resolution.TIMED_OUT, "policy", count)]
    assert left == 0


@pytest.mark.postgres
def test_two_replicas_fire_10000_timeouts_exactly_once(
    databases: Databases, tmp_path: Path
) -> None:
    """10,000 timeouts due within two seconds, two servers on one database: each fires once."""
    count = 10_000
    with databases.postgres() as url:
        engine = make_engine(url, pool_size=2)
        start = datetime.now(UTC) + timedelta(seconds=4)  # both replicas are up by then
        seed_timeouts(
            engine, (start + timedelta(seconds=2 * i / count) for i in range(count)), count
        )
        replicas = [ServerProcess(url, tmp_path) for _ in range(2)]
        try:
            for replica in replicas:
                replica.start()
            wait_for_timed_out(engine, count, seconds=60)
            assert all(r.process is not None and r.process.poll() is None for r in replicas)
            assert_fired_exactly_once(engine, count)
        finally:
            for replica in replicas:
                replica.stop()
            engine.dispose()
