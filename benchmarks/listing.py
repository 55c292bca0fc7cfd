"""The desk's inbox: the first page of open requests out of a large store, over HTTP."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from benchmarks._report import Metric, Target, latency_metrics
from benchmarks._server import ServerProcess
from inloop.domain import Kind, Priority, Status
from inloop.domain.ids import new_id
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import requests

FIRST_PAGE_P50 = Target("<", 50)
FIRST_PAGE_P99 = Target("<", 50)
RSS_TARGET = Target("<", 300)
SEED_VERSION = 1  # bump when the seeded rows change, to rebuild the cached SQLite files
BATCH = 5000
QUERY_TERM = "invoice"  # in about 2% of titles

QUERIES = {
    "first page (status=pending)": {"status": "pending", "limit": 50},
    "priority=urgent": {"status": "pending", "priority": "urgent", "limit": 50},
    f"q={QUERY_TERM}": {"status": "pending", "q": QUERY_TERM, "limit": 50},
}

_PRIORITIES = [Priority.URGENT] * 5 + [Priority.HIGH] * 20 + [Priority.MEDIUM] * 50
_PRIORITIES += [Priority.LOW] * 25
_KINDS = [Kind.APPROVAL] * 50 + [Kind.INPUT] * 20 + [Kind.CONFIRMATION] * 15 + [Kind.CHOICE] * 15
_SUBJECTS = ["Deploy build", "Refund order", "Grant access to", "Delete dataset", "Send email to"]


def seed_key(size: int) -> str:
    return f"requests-{size}-v{SEED_VERSION}"


def seed(database_url: str, size: int) -> None:
    """Insert ``size`` open requests in batches, straight through the store's table."""
    rng = random.Random(size)
    now = datetime.now(UTC)
    engine = make_engine(database_url, sqlite_synchronous="NORMAL", pool_size=1)
    try:
        with engine.begin() as conn:
            for start in range(0, size, BATCH):
                rows = [_row(rng, now, i) for i in range(start, min(start + BATCH, size))]
                conn.execute(requests.insert(), rows)
            if engine.dialect.name == "postgresql":
                # What autovacuum does within a minute of a bulk load: without statistics
                # the planner sorts every open request for a filtered page (30-100 ms).
                conn.exec_driver_sql("ANALYZE requests")
    finally:
        engine.dispose()


def _row(rng: random.Random, now: datetime, i: int) -> dict[str, Any]:
    created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
    kind = rng.choice(_KINDS)
    priority = rng.choice(_PRIORITIES)
    subject = "Pay invoice" if rng.random() < 0.02 else rng.choice(_SUBJECTS)
    title = f"{subject} #{i}"
    options = None
    if kind == Kind.APPROVAL:
        options = [{"value": "approve"}, {"value": "reject"}]
    elif kind == Kind.CHOICE:
        options = [{"value": v, "label": v.title()} for v in ("small", "medium", "large")]
    assignee = "role:ops" if rng.random() < 0.3 else None
    return {
        "id": new_id("req", created),
        "kind": kind.value,
        "status": (Status.ASSIGNED if rng.random() < 0.15 else Status.PENDING).value,
        "title": title,
        "prompt": f"{title}: the agent needs a human decision before it goes on. Ref {i}.",
        "options": options,
        "context": {"ticket": f"T-{i}", "amount": rng.randint(1, 10_000)},
        "priority": priority.value,
        "priority_order": priority.order,
        "assignee": assignee,
        "assignee_text": f" {assignee} " if assignee else None,
        "conversation_id": f"conv-{i // 10}",
        "metadata": {"source": "bench"},
        "created_by": "key:bench",
        "created_at": created,
        "updated_at": created,
    }


def list_first_page(
    backend: str, database_url: str, workdir: Any, *, size: int, calls: int, seed_seconds: float
) -> list[Metric]:
    """Time each listing ``calls`` times, one call at a time; then read the server's RSS."""
    name = "list_first_page"
    metrics: list[Metric] = []
    with ServerProcess(database_url, workdir) as server:
        rss_idle = server.rss_mb()
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as client:
            for label, params in QUERIES.items():
                for _ in range(10):  # warm-up: connection, statement caches, page cache
                    client.get("/v1/requests", params=params).raise_for_status()
                seconds: list[float] = []
                for _ in range(calls):
                    started = time.perf_counter()
                    response = client.get("/v1/requests", params=params)
                    seconds.append(time.perf_counter() - started)
                    response.raise_for_status()
                items = len(response.json()["items"])
                first = label.startswith("first page")
                found = latency_metrics(
                    name,
                    backend,
                    label,
                    seconds,
                    p50=FIRST_PAGE_P50 if first else None,
                    p99=FIRST_PAGE_P99 if first else None,
                )
                metrics += [_noted(m, f"{m.note}, {items} items a page") for m in found]
        rss = server.rss_mb()
    note = f"{size:,} open requests; {rss_idle:.0f} MB before the queries"
    if seed_seconds:
        note += f"; seeded in {seed_seconds:.1f} s"
    metrics.append(Metric(name, backend, "server RSS after", rss, "MB", RSS_TARGET, note))
    return metrics


def _noted(metric: Metric, note: str) -> Metric:
    return Metric(**{**metric.__dict__, "note": note})
