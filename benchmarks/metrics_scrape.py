"""``/metrics`` out of a large store: a Prometheus scrape with the cache off (every scrape
computes the figures: the worst case, and what each replica pays once a cache period) and
on (the default 15 s), and one evaluation of three alert rules (``POST /v1/alerts/evaluate``).

The store is the dashboard benchmark's requests (30 days, one in ten escalated) with their
audit events: a ``created`` event for every request and, for the escalated ones, an
``escalated`` event (one of five reasons, some by the system) or a ``queued`` one, so the
top reasons and timeouts by action read a few thousand events out of over 100,000.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import dashboard
from benchmarks._report import Metric, Target, latency_metrics
from benchmarks._server import ServerProcess
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import events, requests

SEED_VERSION = 1
SCRAPE_P50 = Target("<", 100)
REASONS = [
    "no answer within 4h: escalated to role:manager",
    "no answer within 1h: escalated to team:l2",
    "escalated now by key:agent: payment over limit: escalated to role:finance",
    "escalated now by key:agent: frustrated customer: escalated to team:support",
    "escalated now by key:agent: security review: escalated to role:security",
]
RULES = {
    "escalations": "escalation_rate > 0.15 over 7d",
    "timeouts": "timeout_rate > 0.1 over 1d",
    "slow": "p90_response > 2h over 1d",
}


def seed_key(size: int) -> str:
    return f"metrics-{size}-v{SEED_VERSION}-{datetime.now(UTC):%Y%m%d}"


def seed(database_url: str, size: int) -> None:
    rng = random.Random(size)
    now = datetime.now(UTC)
    engine = make_engine(database_url, sqlite_synchronous="NORMAL", pool_size=1)
    try:
        with engine.begin() as conn:
            for start in range(0, size, dashboard.BATCH):
                end = min(start + dashboard.BATCH, size)
                rows = [dashboard._row(rng, now, i) for i in range(start, end)]
                conn.execute(requests.insert(), rows)
                conn.execute(events.insert(), [e for row in rows for e in _events(rng, row)])
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE requests")
                conn.exec_driver_sql("VACUUM ANALYZE events")
    finally:
        engine.dispose()


def _events(rng: random.Random, row: dict[str, Any]) -> list[dict[str, Any]]:
    created = row["created_at"]
    found = [{"request_id": row["id"], "type": "created", "actor": "key:bench", "reason": None,
              "at": created, "data": {}}]  # fmt: skip
    if row["level"] > 0:
        reason = rng.choice(REASONS)
        found.append({
            "request_id": row["id"], "type": "escalated", "reason": reason, "data": {"level": 1},
            "actor": "system" if reason.startswith("no answer") else "key:agent",
            "at": created + timedelta(hours=1),
        })  # fmt: skip
    elif rng.random() < 0.02:
        found.append({"request_id": row["id"], "type": "queued", "actor": "system", "data": {},
                      "reason": "no answer within 2h: moved to the low-priority queue",
                      "at": created + timedelta(hours=2)})  # fmt: skip
    return found


def _scrape(client: httpx.Client, calls: int, params: dict[str, str]) -> list[float]:
    for _ in range(3):
        client.get("/metrics", params=params).raise_for_status()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get("/metrics", params=params)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    names = {f.name for f in text_string_to_metric_families(response.text)}
    if "inloop_escalation_rate_ratio" not in names:
        raise RuntimeError("the scrape did not parse back to the figures")
    return seconds


def scrape_metrics(
    backend: str, database_url: str, workdir: Path, *, size: int, calls: int, seed_seconds: float
) -> list[Metric]:
    name = "metrics_scrape"
    metrics: list[Metric] = []
    for cache, label in (("0", "uncached"), ("15", "cached 15 s")):
        env = {"INLOOP_METRICS_CACHE": cache}
        with (
            ServerProcess(database_url, workdir, env=env) as server,
            httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client,
        ):
            key = client.post("/v1/keys", json={"name": "prometheus", "scopes": ["metrics"]})
            client.headers["Authorization"] = f"Bearer {key.json()['secret']}"
            for window in ("1d", "7d"):
                seconds = _scrape(client, calls, {"window": window})
                metrics += latency_metrics(name, backend, f"/metrics {window}, {label}",
                                               seconds, p50=SCRAPE_P50)  # fmt: skip
            if cache == "0":
                client.headers.update(server.headers)
                metrics += _evaluate(client, backend, name, calls)
    note = f"{size:,} requests over 30 days and their events"
    if seed_seconds:
        note += f"; seeded in {seed_seconds:.1f} s"
    return [Metric(**{**m.__dict__, "note": f"{m.note}; {note}"}) for m in metrics]


def _evaluate(client: httpx.Client, backend: str, name: str, calls: int) -> list[Metric]:
    hook = {"name": "ops", "kind": "webhook", "config": {"url": "https://ops.invalid/in"}}
    client.post("/v1/channels", json=hook).raise_for_status()
    for alert, rule in RULES.items():
        body = {"name": alert, "rule": rule, "channel": "ops"}
        client.post("/v1/alerts", json=body).raise_for_status()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        client.post("/v1/alerts/evaluate").raise_for_status()
        seconds.append(time.perf_counter() - started)
    return latency_metrics(name, backend, "evaluate 3 rules (1d, 7d)", seconds)
