"""Declarative workflows: completed runs per second of a 10-node workflow with 2 human
nodes, and the cost of evaluating a ``when``.

``workflow_runs``: a real ``inloop serve`` and a real ``inloop workflow serve`` (separate
processes) with ``benchmarks/workflow_bench.json``: 4 function nodes, a built-in llm node,
2 human approvals and 3 ends; an approved run passes 8 nodes in 5 steps. The runs are
started over HTTP (``POST /v1/workflows/runs``, the definition checked each time), and
humans answer through the API as soon as a request shows up on the pending list (64
connections of the minimal client). One run goes through first, the same way, so the
worker has started and compiled the definition before anything is measured. Runs/s is the
number of runs over the time from the first start until the last run completed.

``INLOOP_BENCH_WORKFLOW_RUNS=N`` measures N runs instead of the size's count;
``INLOOP_BENCH_WORKFLOW_CHECKPOINT=human`` starts the runs with ``checkpoint: human`` (the
automated nodes between two humans in one step: 3 steps a run instead of 5);
``INLOOP_BENCH_PROFILE=DIR`` records the server and the worker with ``py-spy`` (it must be
installed) over the measured runs, as collapsed stacks in DIR (server.txt, worker.txt).

``when_eval``: seed 001's conditions compiled once and evaluated over and over in this
process (``timeit``), the time per evaluation.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import httpx

from benchmarks._http import RawConnection
from benchmarks._report import Metric, Target
from benchmarks._server import ServerProcess
from benchmarks.runtime import _cpu_seconds
from inloop.workflows.cel import compile_expression

RATE_TARGET = Target(">=", 200)  # completed runs/s on SQLite
WHEN_TARGET = Target("<", 2.0)  # µs per evaluation
CONCURRENCY = 64
BUDGET_SECONDS = 600.0
FLOW = Path(__file__).parent / "workflow_bench.json"


def intake(variables: dict[str, Any]) -> dict[str, Any]:
    return {"received": True, "lines": int(variables.get("amount", 0)) % 7 + 1}


def risk(variables: dict[str, Any]) -> dict[str, Any]:
    return {"risk_score": min(1.0, float(variables.get("amount", 0)) / 100_000)}


def record(variables: dict[str, Any]) -> dict[str, Any]:
    return {"recorded": variables.get("order")}


async def _answer_all(
    port: int, headers: dict[str, str], http: httpx.AsyncClient, count: int, deadline: float
) -> int:
    """Answer each request the moment the event stream says it was created (as a desk
    would), over 64 connections, until every run completed; the answers sent."""
    ids: asyncio.Queue[str] = asyncio.Queue()
    expected = 2 * count  # two humans a run

    async def listen() -> None:
        params = {"type": "created"}
        async with http.stream("GET", "/v1/events", params=params, timeout=None) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    ids.put_nowait(json.loads(line[5:])["request"]["id"])

    sent = 0
    answered = 0
    all_answered = asyncio.Event()

    async def answer() -> None:
        nonlocal sent, answered
        raw = await RawConnection.open(port, headers)
        try:
            while sent < expected:
                request_id = await ids.get()
                sent += 1
                status, body = await raw.request(
                    "POST", f"/v1/requests/{request_id}/respond", {"response": "approve"}
                )
                if status >= 300:
                    raise RuntimeError(f"respond {request_id}: {status} {body}")
                answered += 1
                if answered == expected:
                    all_answered.set()
        finally:
            await raw.close()

    listener = asyncio.create_task(listen())
    answerers = [asyncio.create_task(answer()) for _ in range(CONCURRENCY)]
    finished = asyncio.create_task(all_answered.wait())
    try:
        # Woken by the last answer, not by the 1 s timeout: the elapsed time would
        # otherwise round up to whole seconds.
        waiting = {finished, listener, *answerers}
        while not all_answered.is_set():
            done, waiting = await asyncio.wait(waiting, timeout=1.0,
                                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{answered} of {expected} answers made at the deadline")
        while True:  # the last steps after the last answer
            open_runs = {"status": ["running", "paused"], "limit": 1}
            if not (await http.get("/v1/runs", params=open_runs)).json()["items"]:
                return answered
            await asyncio.sleep(0.01)  # a benchmark may poll; a test may not
    finally:
        for task in [finished, listener, *answerers]:
            task.cancel()
        await asyncio.gather(finished, listener, *answerers, return_exceptions=True)


async def _start_all(port: int, headers: dict[str, str], count: int) -> None:
    definition = json.loads(FLOW.read_text())
    checkpoint = os.environ.get("INLOOP_BENCH_WORKFLOW_CHECKPOINT")
    if checkpoint:
        definition["checkpoint"] = checkpoint
    queue = list(range(count))

    async def start(raw: RawConnection) -> None:
        while queue:
            n = queue.pop()
            body = {"definition": definition, "inputs": {"order": n, "amount": 100 + n}}
            status, answer = await raw.request("POST", "/v1/workflows/runs", body)
            if status != 201:
                raise RuntimeError(f"start: {status} {answer}")

    connections = [await RawConnection.open(port, headers) for _ in range(16)]
    try:
        await asyncio.gather(*(start(raw) for raw in connections))
    finally:
        for raw in connections:
            await raw.close()


async def _runs(server: ServerProcess, http: httpx.AsyncClient, count: int, deadline: float) -> int:
    """Start ``count`` runs and answer their requests until all completed; the answers."""
    starting = asyncio.create_task(_start_all(server.port, server.headers, count))
    answers = await _answer_all(server.port, server.headers, http, count, deadline)
    await starting
    return answers


def _threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the process's threads so far: the event loop (the main thread) and
    the others (the database writer, the read pool; Python does not name them to the OS)."""
    found = {"event loop": 0.0, "other threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        kind = "event loop" if task.name == str(pid) else "other threads"
        found[kind] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _profilers(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` on each process, if INLOOP_BENCH_PROFILE names a directory."""
    folder = os.environ.get("INLOOP_BENCH_PROFILE")
    if not folder:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    profilers = []
    for who, pid in pids.items():
        output = str(Path(folder) / f"{who}.txt")
        command = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
                   "--nonblocking", "--output", output]  # fmt: skip
        quiet = subprocess.DEVNULL
        profilers.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))
    return profilers


async def workflow_runs(backend: str, url: str, workdir: Path, *, count: int) -> list[Metric]:
    name = "workflow_runs"
    count = int(os.environ.get("INLOOP_BENCH_WORKFLOW_RUNS", count))
    with ServerProcess(url, workdir) as server:
        env = {**os.environ, "INLOOP_URL": server.url, "INLOOP_TOKEN": server.token}
        env.pop("INLOOP_LLM_URL", None)  # the built-in model: the benchmark measures Inloop
        log = (workdir / "workflow-worker.log").open("ab")
        worker = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
            [sys.executable, "-m", "inloop", "workflow", "serve", str(FLOW)],
            cwd=Path(__file__).parent.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + BUDGET_SECONDS
        try:
            async with httpx.AsyncClient(
                base_url=server.url, headers=server.headers, timeout=60
            ) as http:
                assert server.process is not None
                await _runs(server, http, 1, deadline)  # the worker up, the definition compiled
                profilers = _profilers({"server": server.process.pid, "worker": worker.pid})
                cpu_before = _cpu_seconds(server.process.pid), _cpu_seconds(worker.pid)
                threads_before = _threads_cpu(server.process.pid)
                driver_before = _cpu_seconds(os.getpid())
                started = time.perf_counter()
                answers = await _runs(server, http, count, deadline)
                elapsed = time.perf_counter() - started
                server_cpu = _cpu_seconds(server.process.pid) - cpu_before[0]
                worker_cpu = _cpu_seconds(worker.pid) - cpu_before[1]
                driver_cpu = _cpu_seconds(os.getpid()) - driver_before
                threads = _threads_cpu(server.process.pid)
                split = ", ".join(
                    f"{kind} {(seconds - threads_before.get(kind, 0.0)) / count * 1e3:.2f}"
                    for kind, seconds in sorted(threads.items())
                )
                for profiler in profilers:
                    profiler.send_signal(signal.SIGINT)
                    profiler.wait(30)
                sample = (await http.get("/v1/runs", params={"limit": 1})).json()["items"][0]
                if sample["status"] != "completed" or sample["result"]["outcome"] != "approved":
                    raise RuntimeError(f"a run did not complete as approved: {sample}")
        finally:
            worker.terminate()
            worker.wait(10)
            log.close()
    chained = os.environ.get("INLOOP_BENCH_WORKFLOW_CHECKPOINT") == "human"
    steps = "3 steps (checkpoint: human)" if chained else "5 steps"
    note = f"{count:,} runs of 10 nodes (8 passed, 2 human), {answers:,} answers over the API"
    cpu_note = f"CPU time per run: start, {steps}, 2 requests, 2 answers"
    return [
        Metric(name, backend, "completed runs", count / elapsed, "runs/s",
               RATE_TARGET if backend == "sqlite" else None, f"{note}; {elapsed:.1f} s in all"),
        Metric(name, backend, "server CPU per run", server_cpu / count * 1e3, "ms", None,
               f"{cpu_note}; by thread (ms): {split}"),
        Metric(name, backend, "worker CPU per run", worker_cpu / count * 1e3, "ms", None, cpu_note),
        Metric(name, backend, "benchmark's own CPU per run", driver_cpu / count * 1e3, "ms", None,
               "this process: the starts, the event stream, the answers (the humans)"),
        Metric(name, backend, "load average (1 min)", os.getloadavg()[0], "", None, "machine"),
    ]  # fmt: skip


WHENS = [
    ("confidence >= 0.8", {"confidence": 0.93}),
    ("amount > 10000", {"amount": 15000}),
    ("customer.is_vip == true", {"customer": {"is_vip": True}}),
    ("response.approved == false && response.corrections == null",
     {"response": {"approved": False}}),
    ("amount > 10000 || customer.is_vip == true || risk_score > 0.7",
     {"amount": 50, "customer": {"is_vip": False}, "risk_score": 0.2}),
]  # fmt: skip


def when_eval(backend: str, *, calls: int) -> list[Metric]:
    metrics = []
    for text, variables in WHENS:
        expression = compile_expression(text)
        best = min(
            timeit.repeat(lambda e=expression.evaluate, v=variables: e(v), number=calls, repeat=5)
        )
        micros = best / calls * 1e6
        metrics.append(
            Metric("when_eval", backend, text, micros, "µs", WHEN_TARGET,
                   f"best of 5 x {calls:,} evaluations, compiled once")
        )  # fmt: skip
    return metrics
