"""``inloop users password HANDLE`` against a fake server: what it sends and prints."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

import inloop
from inloop.cli import _context, app

USER = {"id": "usr_1", "handle": "alice", "name": "Alice", "created_at": "2026-01-05T09:00:00Z"}


def run(
    monkeypatch: pytest.MonkeyPatch, status: int, *args: str, stdin: str = ""
) -> tuple[Result, list[httpx.Request]]:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if status != 200:
            error = {"code": "validation_error", "message": "too short", "field": "password"}
            return httpx.Response(status, json={"error": error})
        return httpx.Response(200, json=USER)

    def make_client(url: str, token: str | None) -> inloop.Client:
        return inloop.Client(url, token, transport=httpx.MockTransport(handle))

    monkeypatch.setattr(_context, "make_client", make_client)
    result = CliRunner().invoke(
        app, ["--server", "http://inloop.test", "--token", "t", "users", "password", *args],
        input=stdin,
    )  # fmt: skip
    return result, calls


def test_generate_sets_and_prints_a_new_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """--generate posts a fresh password and prints it once, on stdout."""
    result, calls = run(monkeypatch, 200, "alice", "--generate")
    assert result.exit_code == 0, result.output
    [call] = calls
    assert call.method == "POST" and call.url.path == "/v1/users/alice/password"
    sent = json.loads(call.content)["password"]
    assert len(sent) >= 12 and sent in result.output


def test_the_password_is_asked_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --generate the password is read (hidden) and confirmed, never printed."""
    result, calls = run(monkeypatch, 200, "alice", stdin="a long secret\na long secret\n")
    assert result.exit_code == 0, result.output
    assert json.loads(calls[0].content) == {"password": "a long secret"}
    assert "a long secret" not in result.output.replace("New password", "")


def test_a_refused_password_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's 422 is printed and the exit code is 2."""
    result, _ = run(monkeypatch, 422, "alice", stdin="short\nshort\n")
    assert result.exit_code == 2
    assert "too short" in result.output
