"""Measured figures, their targets, the Rich tables and the JSON file they end up in."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Target:
    """A figure to reach: at least (``>=``) or below (``<``) ``value``."""

    op: Literal[">=", "<"]
    value: float

    def met(self, measured: float) -> bool:
        return measured >= self.value if self.op == ">=" else measured < self.value


@dataclass(frozen=True)
class Metric:
    benchmark: str
    backend: str
    name: str
    value: float
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value)


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct`` percentile by the nearest-rank method."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_metrics(
    benchmark: str,
    backend: str,
    name: str,
    seconds: list[float],
    *,
    p50: Target | None = None,
    p99: Target | None = None,
) -> list[Metric]:
    """p50 and p99 of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    note = f"n={len(ms)}, mean {statistics.fmean(ms):.2f} ms, max {max(ms):.2f} ms"
    return [
        Metric(benchmark, backend, f"{name} p50", percentile(ms, 50), "ms", p50, note),
        Metric(benchmark, backend, f"{name} p99", percentile(ms, 99), "ms", p99, note),
    ]


def _figure(value: float, unit: str) -> str:
    if unit in ("/s", "MB"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.2f} ms"
    return f"{value:,.4g} {unit}".rstrip()


def _cell(metric: Metric | None) -> str:
    if metric is None:
        return "[dim]-[/]"
    text = _figure(metric.value, metric.unit)
    if metric.passed is None:
        return text
    return f"{text} [green]pass[/]" if metric.passed else f"{text} [bold red]miss[/]"


def print_tables(console: Console, metrics: list[Metric], backends: list[str]) -> None:
    """One table per benchmark; the backends side by side."""
    for benchmark in dict.fromkeys(m.benchmark for m in metrics):
        rows = [m for m in metrics if m.benchmark == benchmark]
        table = Table(title=benchmark, title_justify="left")
        table.add_column("figure")
        table.add_column("target")
        for backend in backends:
            table.add_column(backend, justify="right")
        for name in dict.fromkeys(m.name for m in rows):
            found = {m.backend: m for m in rows if m.name == name}
            target = next((m.target for m in found.values() if m.target), None)
            table.add_row(
                name,
                f"{target.op} {_figure(target.value, next(iter(found.values())).unit)}"
                if target
                else "",
                *(_cell(found.get(b)) for b in backends),
            )
        console.print(table)
        notes = dict.fromkeys(
            (m.backend, m.name.removesuffix(" p99").removesuffix(" p50"), m.note)
            for m in rows
            if m.note
        )
        for backend, name, note in notes:
            console.print(f"  [dim]{backend}, {name}: {note}[/]", highlight=False)
        console.print()


def write_json(metrics: list[Metric], settings: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = RESULTS / f"bench-{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "at": now.isoformat(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": _cpus(),
        },
        "settings": settings,
        "metrics": [{**asdict(m), "passed": m.passed} for m in metrics],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
