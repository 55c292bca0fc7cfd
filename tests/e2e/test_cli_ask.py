"""`inloop ask` against a real `inloop serve`: a shell script gating on a human."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.e2e


def start_ask(server: ServerProcess, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inloop", "ask", *args],
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def created_request(http: httpx.Client, ask: subprocess.Popen[str]) -> dict[str, Any]:
    """The request the CLI created: it is on the pending list once the CLI has asked."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pending = http.get("/v1/requests", params={"status": "pending"}).json()["items"]
        if pending:
            return pending[0]
        assert ask.poll() is None, ask.communicate()
        time.sleep(0.05)  # polls for the CLI's request to exist: waits on an event, not on time
    raise AssertionError("inloop ask created no request")


def finish(ask: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = ask.communicate(timeout=30)
    return ask.returncode, out, err


def test_ask_prints_the_approval_and_exits_0(server: ServerProcess) -> None:
    """Answered with approve: stdout has the answer, the exit code is 0."""
    ask = start_ask(
        server,
        "Approve the deploy?",
        "--options",
        "approve,reject",
        "--assignee",
        "role:ops",
        "--timeout",
        "1h",
    )
    with server.client() as http:
        request = created_request(http, ask)
        assert request["kind"] == "approval" and request["assignee"] == "role:ops"
        assert request["prompt"] == "Approve the deploy?" and request["timeout"] == "1h"
        answered = http.post(
            f"/v1/requests/{request['id']}/respond", json={"response": "approve", "comment": "go"}
        )
        assert answered.status_code == 200, answered.text
    code, out, err = finish(ask)
    assert (code, out) == (0, "approve\n")
    assert request["id"] in err and "go" in err


def test_ask_exits_1_on_a_rejection(server: ServerProcess) -> None:
    """Answered with reject: exit code 1, so `inloop ask ... && deploy` does not deploy."""
    ask = start_ask(server, "Approve the deploy?", "--options", "approve,reject")
    with server.client() as http:
        request = created_request(http, ask)
        answered = http.post(f"/v1/requests/{request['id']}/respond", json={"response": "reject"})
        assert answered.status_code == 200, answered.text
    assert finish(ask)[:2] == (1, "reject\n")


def test_ask_fails_closed_on_any_other_answer_to_an_approval(server: ServerProcess) -> None:
    """Answered `later` (neither approve nor reject): exit 1, so `ask ... && deploy` does not deploy."""
    ask = start_ask(server, "Approve the deploy?", "--options", "approve,reject,later")
    with server.client() as http:
        request = created_request(http, ask)
        assert request["kind"] == "approval"
        answered = http.post(f"/v1/requests/{request['id']}/respond", json={"response": "later"})
        assert answered.status_code == 200, answered.text
    assert finish(ask)[:2] == (1, "later\n")


def test_ask_exits_3_when_cancelled_and_prints_json(server: ServerProcess) -> None:
    """Cancelled by someone else: exit code 3; --json prints the closed request."""
    ask = start_ask(server, "Proceed?", "--kind", "confirmation", "--json")
    with server.client() as http:
        request = created_request(http, ask)
        cancelled = http.post(f"/v1/requests/{request['id']}/cancel", json={"reason": "not needed"})
        assert cancelled.status_code == 200, cancelled.text
    code, out, err = finish(ask)
    assert code == 3
    assert '"status": "cancelled"' in out or '"status":"cancelled"' in out
    assert "cancelled" in err


def test_ask_exits_4_when_the_server_is_down(server: ServerProcess) -> None:
    """No server: exit code 4 and a one-line error, no traceback."""
    server.stop()
    code, _, err = finish(start_ask(server, "Anyone?"))
    assert code == 4
    assert "Traceback" not in err
