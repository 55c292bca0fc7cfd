"""``inloop workflow`` against a real ``inloop serve``: a run that prints the desk link at
its human node and finishes when the human answers; a detached run served by
``inloop workflow serve`` that survives the server killed with SIGKILL and restarted, and
its worker killed and replaced."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inloop import Client
from inloop.domain.runs import RunStatus
from tests.support import Databases, ServerProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "workflows"


@pytest.fixture
def server(databases: Databases, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(databases.sqlite(tmp_path / "inloop.db"), tmp_path).start()
    yield process
    process.stop()


def inloop(server: ServerProcess, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inloop", *args],
        cwd=ROOT,
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def worker(server: ServerProcess, flow: str) -> subprocess.Popen[str]:
    """``inloop workflow serve``, logging to a file (a pipe nobody reads would fill up)."""
    with (server.workdir / "worker.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "inloop", "workflow", "serve", flow],
            cwd=ROOT,
            env=server.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def read_until(stream: object, pattern: str, timeout: float = 60) -> re.Match[str]:
    """Read lines until one matches (a thread, so a silent process cannot hang the test)."""
    found: list[re.Match[str]] = []
    seen: list[str] = []

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                found.append(match)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"no line matched {pattern!r}; read: {''.join(seen)}"
    return found[0]


def test_run_shows_progress_and_the_desk_link_then_the_outcome(server: ServerProcess) -> None:
    process = inloop(
        server, "workflow", "run", str(EXAMPLES / "exception_based.json"),
        "--input", "amount=15000", "--input", "customer.is_vip=true",
    )  # fmt: skip
    try:
        read_until(process.stderr, r"✓ process_request \(function\)")
        link = read_until(
            process.stderr, r"waiting for a human: (http://\S+/desk/requests/(req_\w+))"
        )
        assert link[1].startswith(server.url)
        with Client(server.url, server.token) as client:
            request = client.get(link[2])
            assert request.prompt.startswith("Review this request: 15000")
            client.respond(request.id, "approve")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == 0, stderr
    assert "executed (at execute)" in stdout
    assert "✓ human_review (human): responded" in stderr


def test_bad_definitions_and_inputs_are_refused_before_anything_runs(
    server: ServerProcess, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  - id: ask\n    type: human\n    promt: Approve?\n")
    process = inloop(server, "workflow", "run", str(bad))
    _, stderr = process.communicate(timeout=60)
    assert (
        process.returncode == 2 and "nodes[0].promt" in stderr and "did you mean 'prompt'" in stderr
    )
    process = inloop(
        server, "workflow", "run", str(EXAMPLES / "manager_approval.json"), "--input", "amount=5"
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "--input customer_name=<value>" in stderr
    with Client(server.url, server.token) as client:
        assert client.runs.list().items == []  # nothing was started


def test_a_detached_run_survives_the_server_and_the_worker_killed(server: ServerProcess) -> None:
    flow = str(EXAMPLES / "multi_level_approval.json")
    started = inloop(server, "workflow", "run", flow, "--detach", "--input", "request=new laptop")
    stdout, stderr = started.communicate(timeout=60)
    assert started.returncode == 0, stderr
    run_id = re.search(r"started run (run_\w+)", stdout)
    assert run_id is not None and "inloop workflow serve" in stdout
    serving = worker(server, flow)
    try:
        with Client(server.url, server.token) as client:
            assert client.runs.wait(run_id[1], timeout=60, paused=True).status == RunStatus.PAUSED
        server.kill()  # SIGKILL while the run waits at l1
        server.start()
        with Client(server.url, server.token) as client:
            [first] = client.workflows.get(run_id[1]).waiting_on
            assert first.prompt == "L1 Review: new laptop"
            serving.send_signal(signal.SIGKILL)
            serving.wait(10)
            client.respond(first.id, "approve")  # the answer waits for a worker
            serving = worker(server, flow)
            assert client.runs.wait(run_id[1], timeout=60, paused=True).status == RunStatus.PAUSED
            [second] = client.workflows.get(run_id[1]).waiting_on
            assert second.prompt == "L2 Final Approval: new laptop"
            client.respond(second.id, "approve")
            run = client.runs.wait(run_id[1], timeout=60)
            view = client.workflows.get(run_id[1])
        assert run.status == RunStatus.COMPLETED, run.error
        assert view.outcome == "approved" and [s.node for s in view.path] == [
            "l1_approval",
            "l2_approval",
        ]
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(10)
