"""The ``inloop`` CLI against a fake server: output and exit codes a script relies on."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import inloop
from inloop.cli import _context, app
from tests.unit.fakes import NOW, Handler, request_json, resolved


class FakeServer:
    """Routes calls to a handler and records them; its clock moves only when a poll waits."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[httpx.Request] = []
        self.now = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path.endswith("/wait"):
            self.now += float(request.url.params["timeout"])
        return self.handler(request)

    def bodies(self, path_end: str) -> list[Any]:
        return [json.loads(c.content) for c in self.calls if c.url.path.endswith(path_end)]


def run(monkeypatch: pytest.MonkeyPatch, handler: Handler, *args: str) -> tuple[Any, FakeServer]:
    """Invoke the CLI with its client talking to ``handler``."""
    server = FakeServer(handler)

    def make_client(url: str, token: str | None) -> inloop.Client:
        client = inloop.Client(url, token, transport=httpx.MockTransport(server))
        client.clock = lambda: server.now
        return client

    monkeypatch.setattr(_context, "make_client", make_client)
    result = CliRunner().invoke(app, ["--server", "http://inloop.test", "--token", "t", *args])
    return result, server


def answering(final: dict[str, Any]) -> Handler:
    """A server where every created request is closed as ``final`` by the first wait."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=request_json())
        return httpx.Response(200, json=final)

    return handler


def test_ask_prints_the_answer_and_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """An approval prints the bare value on stdout, the request id on stderr, and exits 0."""
    result, server = run(
        monkeypatch, answering(resolved("approve")), "ask", "Deploy?", "--options",
        "approve, reject", "--assignee", "role:ops", "--context", '{"env": "prod"}',
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.stdout == "approve\n"
    assert "req_1" in result.stderr
    assert server.bodies("/v1/requests") == [{
        "prompt": "Deploy?", "options": ["approve", "reject"], "assignee": "role:ops",
        "context": {"env": "prod"},
    }]  # fmt: skip


def test_ask_exits_1_on_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejected approval prints the value and exits 1, with the comment on stderr."""
    result, _ = run(monkeypatch, answering(resolved("reject", comment="not now")), "ask", "Go?")
    assert (result.exit_code, result.stdout) == (1, "reject\n")
    assert "not now" in result.stderr


def test_ask_json_prints_the_resolved_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """--json prints the whole resolved request as JSON."""
    result, _ = run(monkeypatch, answering(resolved("approve")), "ask", "Go?", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "resolved"


def test_ask_exits_3_when_cancelled_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request closed without an answer exits 3 and prints nothing on stdout."""
    closed = request_json(status="cancelled", resolution="cancelled")
    result, _ = run(monkeypatch, answering(closed), "ask", "Go?")
    assert (result.exit_code, result.stdout) == (3, "")
    assert "cancelled" in result.stderr


def test_ask_cancels_after_its_timeout_and_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --timeout and no answer, ask cancels the request with a reason and exits 3."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            return httpx.Response(
                200, json=request_json(status="cancelled", resolution="cancelled")
            )
        return httpx.Response(201 if request.method == "POST" else 200, json=request_json())

    result, server = run(monkeypatch, handler, "ask", "Go?", "--timeout", "1m")
    assert result.exit_code == 3
    assert server.bodies("/cancel") == [{"reason": "inloop ask: no answer before the timeout"}]
    assert server.now == 60
    assert server.bodies("/v1/requests")[0]["timeout"] == "1m"


def test_ask_ctrl_c_cancels_and_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while waiting cancels the request and exits 130."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/wait"):
            raise KeyboardInterrupt
        if request.url.path.endswith("/cancel"):
            return httpx.Response(
                200, json=request_json(status="cancelled", resolution="cancelled")
            )
        return httpx.Response(201, json=request_json())

    result, server = run(monkeypatch, handler, "ask", "Go?")
    assert result.exit_code == 130
    assert server.bodies("/cancel") == [{"reason": "inloop ask: interrupted"}]


def test_unreachable_server_exits_4_with_one_red_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the server cannot be reached, the CLI prints one error line, no traceback, exit 4."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result, _ = run(monkeypatch, refuse, "ask", "Go?")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: cannot reach the Inloop server at http://inloop.test")
    assert "Traceback" not in result.output


def test_bad_token_exits_4_showing_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 401 exits 4 and names the error code."""
    body = {"error": {"code": "unauthenticated", "message": "unknown key", "field": None}}
    result, _ = run(monkeypatch, lambda r: httpx.Response(401, json=body), "requests", "ls")
    assert result.exit_code == 4
    assert "unauthenticated: unknown key" in result.stderr


def test_bad_context_json_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalid --context JSON exits 2 before anything is created."""
    result, server = run(
        monkeypatch, answering(resolved("approve")), "ask", "Go?", "--context", "{"
    )
    assert result.exit_code == 2
    assert "--context is not valid JSON" in result.stderr
    assert server.calls == []


def test_requests_ls_shows_a_table_and_sends_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests ls lists ids and titles, passing each --status as a query parameter."""
    page = {"items": [request_json(id="req_7", title="Ship it")], "next_cursor": None}
    result, server = run(
        monkeypatch, lambda r: httpx.Response(200, json=page),
        "requests", "ls", "--status", "pending", "--status", "assigned", "--limit", "5",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "req_7" in result.stdout
    assert "Ship it" in result.stdout
    assert server.calls[0].url.params.get_list("status") == ["pending", "assigned"]


def test_respond_reads_yes_as_true_for_a_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests respond ID yes sends true to a confirmation request."""
    confirmation = request_json(kind="confirmation", options=None)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=confirmation)
        return httpx.Response(200, json=resolved(True, kind="confirmation", options=None))

    result, server = run(monkeypatch, handler, "requests", "respond", "req_1", "Yes")
    assert result.exit_code == 0
    assert server.bodies("/respond") == [{"response": True}]


def test_respond_to_a_closed_request_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 409 request_closed prints its code and exits 1."""
    body = {"error": {"code": "request_closed", "message": "already answered", "field": None}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=request_json())
        return httpx.Response(409, json=body)

    result, _ = run(monkeypatch, handler, "requests", "respond", "req_1", "approve")
    assert result.exit_code == 1
    assert "request_closed: already answered" in result.stderr


def test_keys_create_prints_the_secret_once_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """keys create prints the secret on stdout and warns on stderr it is not shown again."""
    key = {"id": "ak_1", "name": "bot", "scopes": ["agent"], "created_by": "admin",
           "created_at": NOW, "secret": "ilk_secret"}  # fmt: skip
    result, server = run(
        monkeypatch, lambda r: httpx.Response(201, json=key), "keys", "create", "bot",
        "--scope", "agent", "--user", "alice",
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (0, "ilk_secret\n")
    assert "not shown again" in result.stderr
    assert server.bodies("/v1/keys") == [{"name": "bot", "scopes": ["agent"], "user": "alice"}]


def test_version_prints_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """--version prints the package version."""
    result, _ = run(monkeypatch, lambda r: httpx.Response(500), "--version")
    assert result.stdout == f"inloop {inloop.__version__}\n"
