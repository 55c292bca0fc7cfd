"""The durable agent runtime: 10,000 paused runs held by one worker process, then resumed.

A real ``inloop serve`` and a real ``inloop worker`` (separate processes). The runs are
started over HTTP; the worker runs each first step, which asks a human, so every run
pauses. Then the worker's resident memory is read (``VmRSS``; its peak ``VmHWM``), and the
10,000 requests are answered over HTTP, as fast as 64 concurrent clients can: runs/s is
the number of runs over the time from the first answer until the last run completed.

If ``benchmarks/compare_runtimes.py`` is importable (the ``compare`` dependency group:
DBOS recv/send, LangGraph interrupt with its SQLite checkpointer), it is measured on the
same workload in the same run and the ratios are reported.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._http import RawConnection
from benchmarks._report import Metric, Target
from benchmarks._server import ServerProcess
from inloop.runtime import Agent, HumanInTheLoopConfirmation, StartEvent, StopEvent, step

RSS_TARGET = Target("<", 300)  # MB, the worker process holding every paused run
RATE_TARGET = Target(">=", 500)  # runs/s resumed to completion on SQLite
CONCURRENCY = 64
BUDGET_SECONDS = 600.0


class Order(StartEvent):
    number: int


class Ship(HumanInTheLoopConfirmation):
    pass


class BenchAgent(Agent):
    """Asks once, then stops: the smallest run that pauses on a human."""

    @step()
    async def ask(self, event: Order) -> Ship.request:
        return Ship.invoke(f"Ship order {event.number}?")

    @step()
    async def finish(self, event: Ship.response) -> StopEvent:
        return StopEvent(result=event.response)


def _kib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _raw_calls(
    server: ServerProcess, calls: list[tuple[str, str, Any]], connections: int = CONCURRENCY
) -> None:
    """Send the calls over ``connections`` keep-alive connections of the minimal client
    (httpx would cost the load generator as much CPU as the server: see _http.py)."""
    queue = list(reversed(calls))

    async def connection() -> None:
        raw = await RawConnection.open(server.port, server.headers)
        try:
            while queue:
                method, path, body = queue.pop()
                status, answer = await raw.request(method, path, body)
                if status >= 300:
                    raise RuntimeError(f"{method} {path}: {status} {answer}")
        finally:
            await raw.close()

    await asyncio.gather(*(connection() for _ in range(connections)))


async def _any(http: httpx.AsyncClient, status: str) -> bool:
    """Whether any BenchAgent run has ``status`` (one indexed lookup, not a count)."""
    params = {"agent": "BenchAgent", "status": status, "limit": 1}
    return bool((await http.get("/v1/runs", params=params)).raise_for_status().json()["items"])


async def _until_none(http: httpx.AsyncClient, statuses: list[str], deadline: float) -> None:
    """Poll until no run has any of ``statuses`` (a benchmark may poll; a test may not)."""
    while any([await _any(http, status) for status in statuses]):
        if time.monotonic() > deadline:
            raise RuntimeError(f"runs were still {' or '.join(statuses)} at the deadline")
        await asyncio.sleep(0.2)


async def paused_runs(backend: str, url: str, workdir: Path, *, count: int) -> list[Metric]:
    name = "runtime_10k_paused"
    metrics: list[Metric] = []
    with ServerProcess(url, workdir) as server:
        env = {**os.environ, "INLOOP_URL": server.url, "INLOOP_TOKEN": server.token}
        log = (workdir / "worker.log").open("ab")
        worker = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
            [sys.executable, "-m", "inloop", "worker", "benchmarks.runtime:BenchAgent"],
            cwd=Path(__file__).parent.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        limits = httpx.Limits(max_connections=CONCURRENCY)
        deadline = time.monotonic() + BUDGET_SECONDS
        try:
            async with httpx.AsyncClient(
                base_url=server.url, headers=server.headers, timeout=60, limits=limits
            ) as http:
                started = time.perf_counter()
                await _raw_calls(
                    server,
                    [
                        (
                            "POST",
                            "/v1/runs",
                            {
                                "agent": "BenchAgent",
                                "start_event": {"type": "Order", "payload": {"number": n}},
                            },
                        )
                        for n in range(count)
                    ],
                )
                await _until_none(http, ["running"], deadline)  # all paused
                paused_in = time.perf_counter() - started
                rss = _kib(worker.pid, "VmRSS") / 1024
                peak = _kib(worker.pid, "VmHWM") / 1024
                request_ids: list[str] = []
                cursor = None
                while True:
                    params: dict[str, Any] = {"status": "pending", "limit": 500}
                    if cursor:
                        params["cursor"] = cursor
                    page = (await http.get("/v1/requests", params=params)).json()
                    request_ids += [r["id"] for r in page["items"]]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                assert server.process is not None
                cpu_before = _cpu_seconds(server.process.pid), _cpu_seconds(worker.pid)
                resumed = time.perf_counter()
                await _raw_calls(
                    server,
                    [
                        ("POST", f"/v1/requests/{rid}/respond", {"response": True})
                        for rid in request_ids
                    ],
                )
                answered = time.perf_counter() - resumed
                await _until_none(http, ["running", "paused"], deadline)
                elapsed = time.perf_counter() - resumed
                server_cpu = _cpu_seconds(server.process.pid) - cpu_before[0]
                worker_cpu = _cpu_seconds(worker.pid) - cpu_before[1]
        finally:
            worker.terminate()
            worker.wait(10)
            log.close()
    note = f"{count:,} runs; started and paused in {paused_in:.1f} s"
    metrics += [
        Metric(name, backend, "worker RSS, all paused", rss, "MB", RSS_TARGET, note),
        Metric(name, backend, "worker peak RSS", peak, "MB", RSS_TARGET, note),
        Metric(
            name,
            backend,
            "resumed to completion",
            count / elapsed,
            "runs/s",
            RATE_TARGET if backend == "sqlite" else None,
            f"{count:,} answers sent in {answered:.1f} s ({CONCURRENCY} at once), "
            f"all runs completed {elapsed:.1f} s after the first",
        ),
    ]
    cpu_note = "CPU time per resumed run (answer, claim, step, completion): independent of load"
    metrics += [
        Metric(
            name, backend, "server CPU per run", server_cpu / count * 1000, "ms", None, cpu_note
        ),
        Metric(
            name, backend, "worker CPU per run", worker_cpu / count * 1000, "ms", None, cpu_note
        ),
        Metric(name, backend, "load average (1 min)", os.getloadavg()[0], "", None, "machine"),
    ]
    metrics += _compare(backend, count, workdir, count / elapsed, rss)
    return metrics


def _compare(backend: str, count: int, workdir: Path, ours: float, rss: float) -> list[Metric]:
    """DBOS and LangGraph on the same workload (the same number of paused runs), when
    benchmarks/compare_runtimes.py and the ``compare`` dependency group are there.

    ``INLOOP_BENCH_COMPARE=0`` skips them; ``INLOOP_BENCH_COMPARE_RUNS=N`` measures them on
    N runs instead (then the ratio compares unlike sizes, and the note says so).
    """
    if backend != "sqlite" or os.environ.get("INLOOP_BENCH_COMPARE") == "0":
        return []
    size = int(os.environ.get("INLOOP_BENCH_COMPARE_RUNS", count))
    try:
        compare = importlib.import_module("benchmarks.compare_runtimes")
        measured: dict[str, dict[str, float]] = compare.measure(size, workdir)
    except (ImportError, AttributeError) as exc:
        return [Metric("runtime_10k_paused", backend, "comparison", 0, "", None, f"skipped: {exc}")]
    unlike = "" if size == count else f" (Inloop's on {count:,}: unlike sizes)"
    metrics: list[Metric] = []
    for other, figures in measured.items():
        rate = figures["resume_per_s"]
        note = f"{other}: {rate:.0f} runs/s on {size:,} paused runs, same machine, same run"
        metrics += [
            Metric(
                "runtime_10k_paused", backend, f"Inloop / {other} (resume runs/s)",
                ours / rate if rate else 0.0, "x", None, note + unlike,
            ),
            Metric(
                "runtime_10k_paused", backend, f"{other} RSS, all paused",
                figures["rss_mb"], "MB", None, f"Inloop's worker: {rss:.0f} MB" + unlike,
            ),
        ]  # fmt: skip
    return metrics
