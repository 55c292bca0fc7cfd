"""A process dies while it waits for approval; the next one, with the same key, finds the
same request and its answer (the wait is not lost, the tool runs once, as edited)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.e2e  # starts real processes

SCRIPT = textwrap.dedent("""
    import logging, sys
    import inloop

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    ran = open(sys.argv[1], "a")

    @inloop.require_approval(key="nightly-billing")
    def charge(customer: str, amount: int) -> str:
        ran.write(f"{customer} {amount}\\n")
        ran.flush()
        return f"charged {customer} {amount}"

    print(charge("acme", 120), flush=True)
""")

WAITING = re.compile(r"waiting for a human to answer (req_\w+) .* at (http://\S+)")


def start(env: dict[str, str], ran: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ran)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def waiting_on(process: subprocess.Popen[str]) -> tuple[str, str]:
    """The request id and server URL the process logs once it waits (read from its stderr)."""
    assert process.stderr is not None
    seen = []
    # A process that never gets to wait is killed, so the read below ends instead of hanging.
    guard = threading.Timer(60, process.kill)
    guard.start()
    try:
        for line in process.stderr:
            seen.append(line)
            found = WAITING.search(line)
            if found:
                return found.group(1), found.group(2)
    finally:
        guard.cancel()
    raise AssertionError("the process never waited: " + "".join(seen))


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no exit handlers, no shutdown; what was committed is all that is left."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)


def edit_to(amount: int) -> dict[str, object]:
    return {
        "response": "modify",
        "edited": {"function": "charge", "arguments": {"customer": "acme", "amount": amount}},
        "comment": "cap it",
    }


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out.strip()


def test_killed_while_waiting_then_answered_then_restarted(tmp_path: Path) -> None:
    """Against a real server: kill -9 the agent, answer, run it again: it runs as edited."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path).start()
    ran = tmp_path / "ran.txt"
    try:
        first = start(server.env(), ran, tmp_path)
        request_id, url = waiting_on(first)
        assert url == server.url
        kill(first)
        with server.client() as http:
            answered = http.post(f"/v1/requests/{request_id}/respond", json=edit_to(90))
            assert answered.status_code == 200, answered.text
        second = start(server.env(), ran, tmp_path)
        assert finish(second) == "charged acme 90"
        assert ran.read_text() == "acme 90\n"
        with server.client() as http:
            assert len(http.get("/v1/requests").json()["items"]) == 1
    finally:
        server.stop()


def test_embedded_mode_keeps_the_wait_across_a_crash(tmp_path: Path) -> None:
    """No INLOOP_URL: the database under INLOOP_HOME outlives the process, so the next
    process waits on the same request, and an answer to it lets the tool run."""
    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    env["INLOOP_HOME"] = str(tmp_path / "home")
    ran = tmp_path / "ran.txt"
    first = start(env, ran, tmp_path)
    request_id, _ = waiting_on(first)
    kill(first)
    second = start(env, ran, tmp_path)
    again, url = waiting_on(second)
    assert again == request_id
    token = (tmp_path / "home" / "admin-token").read_text().strip()
    response = httpx.post(
        f"{url}/v1/requests/{request_id}/respond",
        json={"response": "approve"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert finish(second) == "charged acme 120"
    assert ran.read_text() == "acme 120\n"


ASK = textwrap.dedent("""
    import logging, sys
    import inloop

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    print(inloop.ask("Which warehouse?", key="warehouse-1").value, flush=True)
""")


def test_a_wait_outlives_a_server_restart(tmp_path: Path) -> None:
    """The server is killed while the agent waits; the agent keeps trying, and once the
    server is back and the request answered, it gets the answer."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path).start()
    try:
        agent = subprocess.Popen(
            [sys.executable, "-c", ASK],
            env=server.env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        request_id, _ = waiting_on(agent)
        server.kill()
        server.start()
        with server.client() as http:
            answered = http.post(f"/v1/requests/{request_id}/respond", json={"response": "B"})
            assert answered.status_code == 200, answered.text
        assert finish(agent) == "B"
    finally:
        server.stop()
