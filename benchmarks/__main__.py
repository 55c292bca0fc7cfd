"""``python -m benchmarks [--quick] [--backend sqlite|postgresql|both] [--only NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console

from benchmarks import listing, round_trip
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


FULL = Sizes()
QUICK = Sizes(service_total=300, http_total=200, list_size=5000, list_calls=30)


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


BENCHMARKS: dict[str, Callable[[str, Path, Sizes], list[Metric]]] = {
    "service_round_trip": run_service,
    "http_round_trip": run_http,
    "list_first_page": run_listing,
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
