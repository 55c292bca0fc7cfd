"""The desk's pages with 100,000 requests in the store: the queue and a request page,
rendered by a real server for a signed-in human, over HTTP."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks import listing
from benchmarks._report import Metric, Target, latency_metrics
from benchmarks._server import ServerProcess
from inloop.server.store.engine import make_engine
from inloop.server.store.schema import request_candidates, requests

PAGE_P50 = Target("<", 100)
PAGE_P99 = Target("<", 100)
SEED_VERSION = 1
BATCH = 5000
PASSWORD = "bench password"  # noqa: S105  (a throwaway user in a throwaway database)

PAGES = {
    "queue, Mine": "/desk",
    "queue, All (admin)": "/desk?tab=all",
    "queue, urgent only": "/desk?priority=urgent",
    "queue, search": f"/desk?q={listing.QUERY_TERM}",
    "queue, live refresh (JSON)": "/desk/queue.json",
}


def seed_key(size: int) -> str:
    return f"desk-{size}-v{SEED_VERSION}"


def seed(database_url: str, size: int) -> None:
    """``size`` open requests: 30% for role:ops, the rest open to any responder; half
    with a deadline. Inserted straight into the tables, as the listing bench does."""
    rng = random.Random(size)
    now = datetime.now(UTC)
    engine = make_engine(database_url, sqlite_synchronous="NORMAL", pool_size=1)
    try:
        with engine.begin() as conn:
            for start in range(0, size, BATCH):
                rows = [_row(rng, now, i) for i in range(start, min(start + BATCH, size))]
                conn.execute(requests.insert(), rows)
                conn.execute(
                    request_candidates.insert(),
                    [{"request_id": r["id"], "ref": r["candidates"][0]} for r in rows],
                )
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE requests")
                conn.exec_driver_sql("ANALYZE request_candidates")
    finally:
        engine.dispose()


def _row(rng: random.Random, now: datetime, i: int) -> dict[str, Any]:
    row = listing._row(rng, now, i)  # the listing bench's mix of kinds, priorities, titles
    row.pop("assignee_text", None)
    ref = row["assignee"] or "*"
    row["candidates"] = [ref]
    deadline = rng.random() < 0.5
    row["due_at"] = now + timedelta(minutes=rng.uniform(1, 7 * 24 * 60)) if deadline else None
    return row


def render_pages(
    backend: str, database_url: str, workdir: Path, *, size: int, calls: int, seed_seconds: float
) -> list[Metric]:
    """Time each page ``calls`` times, one at a time, signed in as an admin in role ops."""
    name = "desk_pages"
    metrics: list[Metric] = []
    with ServerProcess(database_url, workdir) as server:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as api:
            body = {"handle": "ops1", "name": "Ops One", "roles": ["ops", "admin"]}
            api.post("/v1/users", json=body).raise_for_status()
            api.post("/v1/users/ops1/password", json={"password": PASSWORD}).raise_for_status()
            ids = [r["id"] for r in api.get("/v1/requests", params={"limit": 200}).json()["items"]]
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            _sign_in(browser)
            pages = dict(PAGES)
            pages["request page"] = ""
            for label, path in pages.items():
                targets = [f"/desk/requests/{i}" for i in ids] if not path else [path]
                for n in range(10):  # warm-up
                    browser.get(targets[n % len(targets)]).raise_for_status()
                seconds: list[float] = []
                for n in range(calls):
                    url = targets[n % len(targets)]
                    started = time.perf_counter()
                    response = browser.get(url)
                    seconds.append(time.perf_counter() - started)
                    response.raise_for_status()
                metrics += latency_metrics(
                    name, backend, label, seconds, p50=PAGE_P50, p99=PAGE_P99
                )
    note = f"{size:,} open requests" + (f"; seeded in {seed_seconds:.1f} s" if seed_seconds else "")
    return [Metric(**{**m.__dict__, "note": f"{m.note}, {note}".lstrip(", ")}) for m in metrics]


def _sign_in(client: httpx.Client) -> None:
    page = client.get("/desk/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    data = {"handle": "ops1", "password": PASSWORD, "login_token": token[1], "next": "/desk"}
    assert client.post("/desk/login", data=data).status_code == 303, "sign-in refused"
    assert client.get("/desk").status_code == 200, "the bench user could not sign in"
