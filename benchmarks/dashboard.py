"""The desk's dashboard: the whole page (figures in SQL, eight SVG charts) out of a large
store, over HTTP, signed in as an admin; and the same figures as JSON (``/v1/stats``)."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks._report import Metric, Target, latency_metrics
from benchmarks._server import ServerProcess
from inloop.domain import Priority
from inloop.domain.ids import new_id
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import requests

PAGE_P50 = Target("<", 100)
PAGE_P99 = Target("<", 100)
SEED_VERSION = 2  # bump when the rows or the indexes change
BATCH = 5000
HUMANS = 50
PASSWORD = "bench password 1"  # noqa: S105  (a throwaway user of a throwaway database)

_PRIORITIES = [Priority.URGENT] * 5 + [Priority.HIGH] * 20 + [Priority.MEDIUM] * 50
_PRIORITIES += [Priority.LOW] * 25

CALLS = {
    "page (7 days)": ("/desk/dashboard", {"window": "7d"}),
    "page (30 days)": ("/desk/dashboard", {"window": "30d"}),
    "/v1/stats (7 days)": ("/v1/stats", {"window": "7d"}),
}


def seed_key(size: int) -> str:
    # The rows are dated from the day they are seeded, so a cached store lasts a day.
    return f"dashboard-{size}-v{SEED_VERSION}-{datetime.now(UTC):%Y%m%d}"


def seed(database_url: str, size: int) -> None:
    """``size`` requests over 30 days: 15% open, the rest answered after minutes to hours,
    timed out, decided by policy or cancelled; one in ten escalated."""
    rng = random.Random(size)
    now = datetime.now(UTC)
    engine = make_engine(database_url, sqlite_synchronous="NORMAL", pool_size=1)
    try:
        with engine.begin() as conn:
            for start in range(0, size, BATCH):
                rows = [_row(rng, now, i) for i in range(start, min(start + BATCH, size))]
                conn.execute(requests.insert(), rows)
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: statistics, and the visibility
            # map that lets the counts read the indexes alone (index-only scans).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE requests")
    finally:
        engine.dispose()


def _row(rng: random.Random, now: datetime, i: int) -> dict[str, Any]:
    created = now - timedelta(seconds=rng.uniform(600, 30 * 86400))
    priority = rng.choice(_PRIORITIES)
    human = f"human-{rng.randrange(HUMANS):02d}"
    row: dict[str, Any] = {
        "id": new_id("req", created),
        "kind": "approval",
        "status": "pending",
        "resolution": None,
        "title": f"Refund order #{i}",
        "prompt": f"Refund order #{i}? The agent needs a human decision.",
        "options": [{"value": "approve"}, {"value": "reject"}],
        "priority": priority.value,
        "priority_order": priority.order,
        "metadata": {},
        "created_by": "key:bench",
        "created_at": created,
        "updated_at": created,
        "resolved_at": None,
        "resolved_by": None,
        "assigned_to": None,
        "level": 1 if rng.random() < 0.1 else 0,
    }
    fate = rng.random()
    if fate < 0.10:
        pass
    elif fate < 0.15:
        row.update(status="assigned", assigned_to=human)
    elif fate < 0.85:
        answered = min(created + timedelta(minutes=rng.lognormvariate(3, 1.2)), now)
        row.update(
            status="resolved",
            resolution="responded",
            resolved_at=answered,
            resolved_by=f"user:{human}",
        )
    elif fate < 0.95:
        resolution = rng.choice(["timed_out"] * 4 + ["auto_approved", "auto_rejected"])
        closed = min(created + timedelta(hours=4), now)
        row.update(status="resolved", resolution=resolution, resolved_at=closed)
        row.update(resolved_by="policy")
    else:
        row.update(status="cancelled", resolution="cancelled", resolved_at=created)
        row.update(resolved_by="key:bench")
    row["updated_at"] = row["resolved_at"] or created
    return row


def _sign_in(client: httpx.Client, handle: str) -> None:
    page = client.get("/desk/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    data = {"handle": handle, "password": PASSWORD, "login_token": token[1], "next": "/desk"}
    response = client.post("/desk/login", data=data)
    if response.status_code != 303 or not client.cookies.get("inloop_session"):
        raise RuntimeError("signing in to the desk failed")


def render_dashboard(
    backend: str, database_url: str, workdir: Path, *, size: int, calls: int, seed_seconds: float
) -> list[Metric]:
    """Time each page ``calls`` times, one call at a time, after a warm-up whose first
    call (which reads the window's past hours from the store) is reported alone."""
    name = "dashboard_render"
    metrics: list[Metric] = []
    with ServerProcess(database_url, workdir) as server:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as api:
            for n in range(HUMANS):
                handle = f"human-{n:02d}"
                api.post("/v1/users", json={"handle": handle, "name": f"Human {n}"})
                api.patch(f"/v1/users/{handle}", json={"capacity": 10})
            api.post("/v1/users", json={"handle": "boss", "name": "Boss", "roles": ["admin"]})
            api.post("/v1/users/boss/password", json={"password": PASSWORD}).raise_for_status()
        with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
            _sign_in(client, "boss")
            client.headers.update(server.headers)  # /v1/stats takes the bearer token
            for label, (path, params) in CALLS.items():
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                if path.startswith("/desk"):  # the hours of the window read, then kept
                    first = (time.perf_counter() - started) * 1000
                    metrics.append(Metric(name, backend, f"{label} first after start", first, "ms"))
                for _ in range(4):
                    client.get(path, params=params).raise_for_status()
                seconds: list[float] = []
                for _ in range(calls):
                    started = time.perf_counter()
                    response = client.get(path, params=params)
                    seconds.append(time.perf_counter() - started)
                    response.raise_for_status()
                page = path.startswith("/desk")
                if page and response.text.count('role="img"') != 8:
                    raise RuntimeError("the dashboard did not draw its eight charts")
                metrics += latency_metrics(
                    name,
                    backend,
                    label,
                    seconds,
                    p50=PAGE_P50 if page else None,
                    p99=PAGE_P99 if page else None,
                )
    note = f"{size:,} requests over 30 days, {HUMANS} humans"
    if seed_seconds:
        note += f"; seeded in {seed_seconds:.1f} s"
    return [
        Metric(**{**m.__dict__, "note": f"{m.note}; {note}" if m.note else note}) for m in metrics
    ]
