"""The scheduler: its idle cost over many open timers, and a crowd of timers due at once.

``scheduler_idle`` times what the scheduler does between firings (``next_due`` and an
empty batch) over a large table of far-off timers, and shows the query plans use
``ix_timers_due_at``. ``timers_due_together`` runs the real scheduler loop on 10,000
timeouts due in the same second and measures, for each, how long after its due time its
``timed_out`` event was committed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from benchmarks._report import Metric, Target, latency_metrics, percentile
from inloop.domain import NewRequest
from inloop.domain.enums import EventType
from inloop.domain.ids import new_id
from inloop.domain.requests import new_record
from inloop.server.config import Settings
from inloop.server.services import build_services
from inloop.server.store import timers
from inloop.server.store.database import Published
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import request_candidates, requests
from inloop.server.store.schema import timers as timers_table

SEED_VERSION = 1  # bump when the seeded rows change, to rebuild the cached SQLite files
BATCH = 5000
FLAT_TARGET = Target("<", 2)  # the large table's p50 over the small one's
LAG_TARGET = Target("<", 1000)  # ms after the due time
BUDGET_SECONDS = 120.0


def seed_timeouts(database_url: str, count: int, due_at: Iterator[datetime]) -> None:
    """Insert ``count`` open requests with a timeout, as ``RequestService.create`` stores them.

    Each gets its ``created`` request row, its candidate row and one ``timeout`` timer
    (marks level 0, stage 0) whose due time is the request's ``due_at``; the audit events
    are left out, as the scheduler does not read them.
    """
    now = datetime.now(UTC)
    new = NewRequest.model_validate(
        {"kind": "approval", "prompt": "Ship the release?", "timeout": "1h"}
    )
    template = new_record(new, id="", created_by="key:bench", now=now, idempotency_key=None)
    base = template.model_dump()
    base.update(priority_order=template.priority.order, idempotency_hash=None)
    engine = make_engine(database_url, sqlite_synchronous="NORMAL", pool_size=1)
    try:
        with engine.begin() as conn:
            for start in range(0, count, BATCH):
                rows, candidates, due_timers = [], [], []
                for _ in range(start, min(start + BATCH, count)):
                    request_id, due = new_id("req", now), next(due_at)
                    rows.append({**base, "id": request_id, "due_at": due})
                    candidates += [{"request_id": request_id, "ref": r} for r in base["candidates"]]
                    due_timers.append(
                        {
                            "kind": "timeout",
                            "due_at": due,
                            "request_id": request_id,
                            "data": {"level": 0, "stage": 0},
                        }
                    )
                conn.execute(requests.insert(), rows)
                if candidates:
                    conn.execute(request_candidates.insert(), candidates)
                conn.execute(timers_table.insert(), due_timers)
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE requests")
                conn.exec_driver_sql("ANALYZE timers")
    finally:
        engine.dispose()


def far_future(spread_days: float = 30) -> Iterator[datetime]:
    """Due times spread over the next ``spread_days``, starting a day from now."""
    start = datetime.now(UTC) + timedelta(days=1)
    step = timedelta(days=spread_days) / 1_000_000
    i = 0
    while True:
        yield start + step * (i * 7919 % 1_000_000)  # shuffled, so inserts are not in order
        i += 1


def seed_key(size: int) -> str:
    return f"timers-{size}-v{SEED_VERSION}"


# scheduler_idle


async def idle_cost(database_url: str, *, calls: int) -> dict[str, list[float]]:
    """Time the scheduler's two idle queries through the services, one call at a time."""
    services = build_services(Settings(database_url=database_url))
    try:
        samples: dict[str, list[float]] = {"next_due": [], "empty batch": []}
        for _ in range(20):  # warm-up: connections, statement caches, page cache
            await services.db.read(timers.next_due)
            await services.scheduler.run_due()
        for _ in range(calls):
            started = time.perf_counter()
            assert await services.db.read(timers.next_due) is not None
            samples["next_due"].append(time.perf_counter() - started)
            started = time.perf_counter()
            assert await services.scheduler.run_due() == 0
            samples["empty batch"].append(time.perf_counter() - started)
        return samples
    finally:
        services.close()


def query_plans(database_url: str) -> dict[str, list[str]]:
    """The plans of the statements ``next_due`` and ``claim_due`` really send."""
    engine = make_engine(database_url, pool_size=1)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "timers" in statement and not statement.startswith("EXPLAIN"):
            sent.append((statement, params))

    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    plans: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            for name, query in (
                ("next_due", timers.next_due),
                ("claim_due", lambda c: timers.claim_due(c, datetime.now(UTC), 500)),
            ):
                sent.clear()
                query(conn)
                statement, params = sent[-1]
                rows = conn.exec_driver_sql(explain + statement, params).all()
                plans[name] = [_plan_line(row) for row in rows]
            conn.rollback()
    finally:
        engine.dispose()
    return plans


def _plan_line(row: Any) -> str:
    return str(row[-1]).strip()  # SQLite: (id, parent, notused, detail); PostgreSQL: (line,)


def scheduler_idle(
    backend: str, urls: dict[int, str], seed_seconds: dict[int, float], *, calls: int
) -> list[Metric]:
    name = "scheduler_idle"
    metrics: list[Metric] = []
    p50s: dict[str, list[float]] = {}
    sizes = sorted(urls)
    for size in sizes:
        samples = asyncio.run(idle_cost(urls[size], calls=calls))
        note = f"{size:,} open timers"
        if seed_seconds.get(size):
            note += f", seeded in {seed_seconds[size]:.1f} s"
        for label, seconds in samples.items():
            p50s.setdefault(label, []).append(percentile(seconds, 50))
            for metric in latency_metrics(name, backend, f"{label} ({size:,})", seconds):
                metrics.append(_noted(metric, f"{metric.note}; {note}"))
    plans = query_plans(urls[sizes[-1]])
    for label, ratios in p50s.items():
        plan = " | ".join(plans["next_due" if label == "next_due" else "claim_due"])
        metrics.append(
            Metric(
                name,
                backend,
                f"{label} p50, {sizes[-1]:,} over {sizes[0]:,}",
                ratios[-1] / ratios[0],
                "x",
                FLAT_TARGET,
                f"plan: {plan}",
            )
        )
    return metrics


# timers_due_together


async def due_together(database_url: str, *, count: int, lead: float) -> list[Metric]:
    """Run the scheduler loop on ``count`` timeouts all due ``lead`` seconds from now."""
    due_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    started = time.perf_counter()
    seed_timeouts(database_url, count, iter(lambda: due_at, None))
    seed_seconds = time.perf_counter() - started
    services = build_services(
        Settings(database_url=database_url, admin_token=secrets.token_urlsafe(16))
    )
    committed: list[float] = []
    all_fired = asyncio.get_running_loop().create_future()
    publish = services.db.on_commit

    def on_commit(published: Published) -> None:
        at = time.time()
        committed.extend(at for e, _ in published if e.type == EventType.TIMED_OUT)
        if len(committed) >= count and not all_fired.done():
            all_fired.set_result(None)
        publish(published)

    services.db.on_commit = on_commit
    try:
        await services.scheduler.start()
        async with asyncio.timeout(lead + 1 + BUDGET_SECONDS):
            await all_fired
    finally:
        await services.scheduler.stop()
        services.close()
    due = due_at.timestamp()
    lags = [at - due for at in committed]
    name, backend = "timers_due_together", _backend(database_url)
    note = f"{count:,} timeouts due at the same second; seeded in {seed_seconds:.1f} s"
    metrics = [
        _noted(m, f"{m.note}; {note}")
        for m in latency_metrics(name, backend, "lag", lags, p50=LAG_TARGET, p99=LAG_TARGET)
    ]
    metrics.append(
        Metric(name, backend, "last fired after due", max(lags) * 1000, "ms", LAG_TARGET, note)
    )
    metrics.append(
        Metric(name, backend, "fired/s", count / (max(committed) - min(committed) or 1), "/s")
    )
    return metrics


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def _noted(metric: Metric, note: str) -> Metric:
    return Metric(**{**metric.__dict__, "note": note})
