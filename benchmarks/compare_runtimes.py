"""DBOS and LangGraph on the runtime benchmark's workload: n executions paused on a human,
then all resumed. Each is measured in a child process of its own, so its RSS is its own.

* DBOS 3.x: an async ``@DBOS.workflow`` that waits in ``DBOS.recv_async`` on DBOS's
  SQLite system database (its default settings); resumed by ``DBOS.send_async`` from the
  same process, 64 at a time (no HTTP in between, unlike Inloop's answers).
* LangGraph: a one-node graph whose node calls ``interrupt()``, checkpointed by
  ``SqliteSaver``; resumed by invoking each thread with ``Command(resume=...)``.

``measure(n, workdir)`` (what ``benchmarks/runtime.py`` calls) returns the figures by
framework, ``{"rss_mb", "pause_s", "resume_per_s"}``, skipping, with a printed reason,
those that are not installed (the ``compare`` dependency group: ``uv sync --all-extras
--group compare``).

    python -m benchmarks.compare_runtimes dbos|langgraph N WORKDIR   # one child, JSON out
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONCURRENCY = 64
CHILD_TIMEOUT = 1800.0
#: What each framework needs importable.
NEEDS = {"dbos": ("dbos",), "langgraph": ("langgraph", "langgraph.checkpoint.sqlite")}


def measure(n: int, workdir: Path) -> dict[str, dict[str, float]]:
    """The figures of each framework that is installed; prints them."""
    rates: dict[str, dict[str, float]] = {}
    for name, run in (("DBOS", dbos_paused_resume), ("LangGraph", langgraph_paused_resume)):
        try:
            figures = run(n, workdir)
        except (ModuleNotFoundError, RuntimeError) as exc:
            print(f"compare_runtimes: {name} skipped: {exc}", flush=True)
            continue
        print(
            f"compare_runtimes: {name}: {n:,} paused in {figures['pause_s']:.1f} s, "
            f"RSS {figures['rss_mb']:.0f} MB, resumed at {figures['resume_per_s']:.0f} runs/s",
            flush=True,
        )
        rates[name] = figures
    return rates


def dbos_paused_resume(n: int, workdir: Path) -> dict[str, float]:
    """n DBOS workflows waiting in ``recv``, then each sent its message."""
    return _child("dbos", n, workdir)


def langgraph_paused_resume(n: int, workdir: Path) -> dict[str, float]:
    """n LangGraph threads stopped at ``interrupt()``, then each resumed."""
    return _child("langgraph", n, workdir)


def _child(framework: str, n: int, workdir: Path) -> dict[str, float]:
    missing = [m for m in NEEDS[framework] if not _importable(m)]
    if missing:
        raise ModuleNotFoundError(
            f"{', '.join(missing)} not installed (uv sync --all-extras --group compare)"
        )
    where = workdir / f"compare-{framework}"
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare_runtimes", framework, str(n), str(where)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{framework} failed: {result.stderr.strip()[-2000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _dbos(n: int, workdir: Path) -> dict[str, float]:
    from dbos import DBOS, DBOSConfig

    paused = 0
    all_paused = asyncio.Event()

    @DBOS.workflow()
    async def order(number: int) -> bool:
        nonlocal paused
        paused += 1  # in memory, not durable: only tells the benchmark all have reached recv
        if paused == n:
            all_paused.set()
        approved = await DBOS.recv_async("approval", timeout_seconds=7 * 24 * 3600)
        return bool(approved)

    config: DBOSConfig = {
        "name": "compare-runtimes",
        "system_database_url": f"sqlite:///{workdir / 'dbos.sqlite'}",
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()
    try:
        started = time.perf_counter()
        handles = [await DBOS.start_workflow_async(order, i) for i in range(n)]
        await all_paused.wait()
        pause_s = time.perf_counter() - started
        rss = _rss_mb()
        queue = [h.get_workflow_id() for h in handles]
        started = time.perf_counter()

        async def sender() -> None:
            while queue:
                await DBOS.send_async(queue.pop(), True, "approval")

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        results = await asyncio.gather(*(h.get_result() for h in handles))
        elapsed = time.perf_counter() - started
        if not all(results):
            raise RuntimeError("a DBOS workflow did not receive its approval")
    finally:
        DBOS.destroy()
    return {"rss_mb": rss, "pause_s": pause_s, "resume_per_s": n / elapsed}


def _langgraph(n: int, workdir: Path) -> dict[str, float]:
    import sqlite3
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class Order(TypedDict, total=False):
        number: int
        approved: bool

    def ask(state: Order) -> Order:
        return {"approved": bool(interrupt(f"Ship order {state['number']}?"))}

    builder = StateGraph(Order)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    conn = sqlite3.connect(workdir / "langgraph.sqlite", check_same_thread=False)
    graph = builder.compile(checkpointer=SqliteSaver(conn))

    def config(i: int) -> Any:
        return {"configurable": {"thread_id": f"order-{i}"}}

    started = time.perf_counter()
    for i in range(n):
        state = graph.invoke({"number": i}, config(i))
        if "__interrupt__" not in state:
            raise RuntimeError("the graph did not stop at interrupt()")
    pause_s = time.perf_counter() - started
    rss = _rss_mb()
    started = time.perf_counter()
    for i in range(n):
        if not graph.invoke(Command(resume=True), config(i)).get("approved"):
            raise RuntimeError("a LangGraph thread did not resume with its answer")
    elapsed = time.perf_counter() - started
    conn.close()
    return {"rss_mb": rss, "pause_s": pause_s, "resume_per_s": n / elapsed}


def main(argv: list[str]) -> None:
    framework, n, workdir = argv[0], int(argv[1]), Path(argv[2])
    if framework == "dbos":
        figures = asyncio.run(_dbos(n, workdir))
    elif framework == "langgraph":
        figures = _langgraph(n, workdir)
    else:
        raise SystemExit(f"unknown framework {framework!r}: dbos or langgraph")
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
