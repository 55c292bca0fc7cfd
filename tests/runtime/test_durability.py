"""Runs survive their worker: killed with SIGKILL while 100 runs wait on humans, the
answers go to a new worker process, and every step completes exactly once. A run paused
by an agent serving in this process is finished by the worker process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from inloop import AsyncClient, Client
from inloop.cli import app
from inloop.domain.runs import RunEventStatus, RunStatus
from tests.runtime.durable import Order, ShippingAgent
from tests.support import Databases, ServerProcess

pytestmark = pytest.mark.e2e

RUNS = 100


@pytest.fixture(params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[ServerProcess]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = databases.sqlite(tmp_path / "inloop.db")
        else:
            url = stack.enter_context(databases.postgres())
        process = ServerProcess(url, tmp_path).start()
        stack.callback(process.stop)
        yield process


def start_worker(server: ServerProcess, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "inloop", "worker", "tests.runtime.durable:ShippingAgent"],
            cwd=Path(__file__).parents[2],
            env={**server.env(), "INLOOP_TEST_STEPS": str(log.with_suffix(".steps"))},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_kill_the_worker_answer_all_resume_in_a_new_one(
    server: ServerProcess, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    first = start_worker(server, log)
    with Client(server.url, server.token) as client:
        ids = [client.runs.start("ShippingAgent", "Order", {"number": n}).id for n in range(RUNS)]
        for run_id in ids:  # long-polls until each run waits on its human
            assert client.runs.wait(run_id, timeout=60, paused=True).status == RunStatus.PAUSED
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        for run_id in ids:
            [request] = client.runs.get(run_id).requests
            client.respond(request.id, request.context["number"] % 2 == 0)
        assert {client.runs.wait(i, timeout=0).status for i in ids} == {RunStatus.RUNNING}
        second = start_worker(server, log)
        try:
            finished = [client.runs.wait(run_id, timeout=60) for run_id in ids]
            started_here = asyncio.run(pause_in_this_process(server))
            [request] = client.runs.get(started_here).requests
            client.respond(request.id, True)  # this process no longer serves the agent
            resumed = client.runs.wait(started_here, timeout=60)
            assert resumed.result == {"order": {"number": 1000}, "ship": True}
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(10)
        assert all(r.status == RunStatus.COMPLETED for r in finished), log.read_text()
        for n, run in enumerate(finished):
            assert run.result == {"order": {"number": n}, "ship": n % 2 == 0}
            timeline = client.runs.get(run.id)
            consumed = [e.step for e in timeline.events if e.step is not None]
            assert consumed == ["ask", "finish"]  # each step completed exactly once
            assert all(e.status == RunEventStatus.DONE for e in timeline.events)
        # ... and ran exactly once, counted by the steps themselves in both processes.
        runs = Counter(log.with_suffix(".steps").read_text().splitlines())
        expected = {f"{name} {n}": 1 for n in range(RUNS) for name in ("ask", "finish")}
        assert {line: runs[line] for line in expected} == expected
        check_the_cli(server, ids[0], client.runs.start("ShippingAgent", "Order", {"number": 7}).id)
    assert "serving ShippingAgent" in log.read_text()


async def pause_in_this_process(server: ServerProcess) -> str:
    """A run started and served here, until it pauses; then this process stops serving."""
    async with AsyncClient(server.url, server.token) as client:
        async with ShippingAgent(client) as agent:
            handle = await agent.run(Order(number=1000))
            await client.runs.wait(handle.id, timeout=60, paused=True)
        return handle.id


def check_the_cli(server: ServerProcess, finished: str, waiting: str) -> None:
    """``inloop runs ls|show|cancel`` on the same server."""

    def cli(*args: str) -> Result:
        return CliRunner().invoke(app, ["--server", server.url, "--token", server.token, *args])

    shown = cli("runs", "show", finished)
    assert shown.exit_code == 0, shown.output
    for text in (finished, "completed", "ShipItRequestEvent", "finish", "responded by", "true"):
        assert text in shown.stdout
    listed = cli("runs", "ls", "--agent", "ShippingAgent", "--status", "running")
    assert listed.exit_code == 0 and waiting in listed.stdout and finished not in listed.stdout
    cancelled = cli("runs", "cancel", waiting, "--reason", "test")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    again = cli("runs", "cancel", waiting)
    assert again.exit_code == 1 and "cannot be cancelled" in again.stderr
    as_json = cli("runs", "show", waiting, "--json")
    assert json.loads(as_json.stdout)["run"]["status"] == "cancelled"
