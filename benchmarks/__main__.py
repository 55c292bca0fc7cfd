"""``python -m benchmarks [--quick] [--backend sqlite|postgresql|both] [--only NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console

from benchmarks import (
    dashboard,
    desk,
    listing,
    metrics_scrape,
    policy_eval,
    relay,
    round_trip,
    routing_bench,
    runtime,
    scheduling,
    sessions_bench,
)
from benchmarks import workflows as workflow_bench
from benchmarks._databases import BACKENDS, PG_ADMIN_URL, fresh_database, seeded_database
from benchmarks._report import RESULTS, Metric, print_tables, write_json


@dataclass(frozen=True)
class Sizes:
    service_total: int = 5000
    service_concurrency: int = 16
    http_total: int = 3000
    http_agents: int = 8
    list_size: int = 100_000
    list_calls: int = 200
    idle_sizes: tuple[int, ...] = (20_000, 1_000_000)
    idle_calls: int = 1000
    due_together: int = 10_000
    route_humans: int = 500
    route_requests: int = 1000
    paused_runs: int = 10_000
    dashboard_size: int = 100_000
    dashboard_calls: int = 100
    workflow_runs: int = 2000
    when_calls: int = 200_000
    relay_conversations: int = 200
    relay_total: int = 5000
    session_updates: int = 5000
    policy_calls: int = 200_000
    metrics_size: int = 100_000
    metrics_calls: int = 100


FULL = Sizes()
QUICK = Sizes(
    service_total=300,
    http_total=200,
    list_size=5000,
    list_calls=30,
    idle_sizes=(2_000, 20_000),
    idle_calls=200,
    due_together=2000,
    route_requests=100,
    paused_runs=500,
    dashboard_size=5000,
    dashboard_calls=20,
    workflow_runs=100,
    when_calls=20_000,
    relay_conversations=20,
    relay_total=300,
    session_updates=300,
    policy_calls=20_000,
    metrics_size=5000,
    metrics_calls=20,
)


def run_service(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(
            round_trip.service_round_trip(
                backend, url, total=sizes.service_total, concurrency=sizes.service_concurrency
            )
        )


def run_http(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    metrics: list[Metric] = []
    for client in ("raw", "httpx"):
        with fresh_database(backend, workdir) as url:
            metrics += asyncio.run(
                round_trip.http_round_trip(
                    backend,
                    url,
                    workdir,
                    total=sizes.http_total,
                    agents=sizes.http_agents,
                    client=client,
                )
            )
    return metrics


def run_listing(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    seconds = 0.0

    def seed(url: str) -> None:
        nonlocal seconds
        started = time.perf_counter()
        listing.seed(url, sizes.list_size)
        seconds = time.perf_counter() - started

    key = listing.seed_key(sizes.list_size)
    with seeded_database(backend, workdir, RESULTS / "cache", key, seed) as url:
        return listing.list_first_page(
            backend,
            url,
            workdir,
            size=sizes.list_size,
            calls=sizes.list_calls,
            seed_seconds=seconds,
        )


def run_scheduler_idle(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    seconds: dict[int, float] = {}
    urls: dict[int, str] = {}
    with contextlib.ExitStack() as stack:
        for size in sizes.idle_sizes:

            def seed(url: str, size: int = size) -> None:
                started = time.perf_counter()
                scheduling.seed_timeouts(url, size, scheduling.far_future())
                seconds[size] = time.perf_counter() - started

            key = scheduling.seed_key(size)
            cache = RESULTS / "cache"
            urls[size] = stack.enter_context(seeded_database(backend, workdir, cache, key, seed))
        return scheduling.scheduler_idle(backend, urls, seconds, calls=sizes.idle_calls)


def run_due_together(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(scheduling.due_together(url, count=sizes.due_together, lead=2.0))


def run_routing(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(
            routing_bench.route_among(
                backend, url, humans=sizes.route_humans, requests=sizes.route_requests
            )
        )


def run_dashboard(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    seconds = 0.0

    def seed(url: str) -> None:
        nonlocal seconds
        started = time.perf_counter()
        dashboard.seed(url, sizes.dashboard_size)
        seconds = time.perf_counter() - started

    key = dashboard.seed_key(sizes.dashboard_size)
    with seeded_database(backend, workdir, RESULTS / "cache", key, seed) as url:
        return dashboard.render_dashboard(
            backend,
            url,
            workdir,
            size=sizes.dashboard_size,
            calls=sizes.dashboard_calls,
            seed_seconds=seconds,
        )


def run_desk(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    seconds = 0.0

    def seed(url: str) -> None:
        nonlocal seconds
        started = time.perf_counter()
        desk.seed(url, sizes.list_size)
        seconds = time.perf_counter() - started

    key = desk.seed_key(sizes.list_size)
    with seeded_database(backend, workdir, RESULTS / "cache", key, seed) as url:
        return desk.render_pages(
            backend, url, workdir, size=sizes.list_size, calls=sizes.list_calls,
            seed_seconds=seconds,
        )  # fmt: skip


def run_runtime(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(runtime.paused_runs(backend, url, workdir, count=sizes.paused_runs))


def run_workflows(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(
            workflow_bench.workflow_runs(backend, url, workdir, count=sizes.workflow_runs)
        )


def run_when(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    if backend != "sqlite":
        return []  # in-process: no database involved, measured once
    return workflow_bench.when_eval(backend, calls=sizes.when_calls)


def run_relay(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(
            relay.message_relay(
                backend, url, conversations=sizes.relay_conversations, total=sizes.relay_total,
                concurrency=16,
            )
        )  # fmt: skip


def run_session_updates(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    with fresh_database(backend, workdir) as url:
        return asyncio.run(
            sessions_bench.session_updates(
                backend, url, total=sizes.session_updates, concurrency=16
            )
        )


def run_policy(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    if backend != "sqlite":
        return []  # in-process: no database involved, measured once
    return policy_eval.policy_eval(backend, calls=sizes.policy_calls)


def run_metrics(backend: str, workdir: Path, sizes: Sizes) -> list[Metric]:
    seconds = 0.0

    def seed(url: str) -> None:
        nonlocal seconds
        started = time.perf_counter()
        metrics_scrape.seed(url, sizes.metrics_size)
        seconds = time.perf_counter() - started

    key = metrics_scrape.seed_key(sizes.metrics_size)
    with seeded_database(backend, workdir, RESULTS / "cache", key, seed) as url:
        return metrics_scrape.scrape_metrics(
            backend, url, workdir, size=sizes.metrics_size, calls=sizes.metrics_calls,
            seed_seconds=seconds,
        )  # fmt: skip


BENCHMARKS: dict[str, Callable[[str, Path, Sizes], list[Metric]]] = {
    "service_round_trip": run_service,
    "http_round_trip": run_http,
    "list_first_page": run_listing,
    "scheduler_idle": run_scheduler_idle,
    "timers_due_together": run_due_together,
    "routing_500": run_routing,
    "desk_pages": run_desk,
    "dashboard_render": run_dashboard,
    "runtime_10k_paused": run_runtime,
    "workflow_runs": run_workflows,
    "when_eval": run_when,
    "message_relay": run_relay,
    "session_updates": run_session_updates,
    "policy_eval": run_policy,
    "metrics_scrape": run_metrics,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--only", choices=list(BENCHMARKS), action="append")
    args = parser.parse_args()
    console = Console()
    sizes = QUICK if args.quick else FULL
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not _postgres_reachable(console):
        backends.remove("postgresql")
    metrics: list[Metric] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inloop-bench-") as tmp:
        for name in args.only or list(BENCHMARKS):
            for backend in backends:
                with console.status(f"{name} on {backend}"):
                    metrics += BENCHMARKS[name](backend, Path(tmp), sizes)
    print_tables(console, metrics, backends)
    path = write_json(metrics, {"quick": args.quick, **sizes.__dict__})
    console.print(f"Results in {path} ({time.perf_counter() - started:.0f} s)")


def _postgres_reachable(console: Console) -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error as exc:
        console.print(f"[yellow]PostgreSQL at {PG_ADMIN_URL} is unreachable ({exc}); skipped")
        return False


if __name__ == "__main__":
    main()
