"""``inloop handoff configure`` against a fake server: --map, --set (NULL, numbers,
booleans), --unset, and usage errors."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.unit.test_cli import run


def echo(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content) if request.content else {}
    return httpx.Response(
        200, json={**body.get("set", {}), "provider": body.get("set", {}).get("provider", "desk")}
    )


def test_map_and_set_send_typed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    result, server = run(
        monkeypatch, echo, "handoff", "configure", "--map", "hitl=desk",
        "--set", "on_hitl_handoff_message=NULL", "--set", "agent_assigned_timeout_seconds=90",
        "--set", "flow_on_hitl_stopped=false", "--set", "user_hitl_close_command=/stop",
        "--unset", "approver_mode",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert server.bodies("/v1/handoff/settings") == [
        {
            "set": {
                "provider": "desk",
                "on_hitl_handoff_message": None,
                "agent_assigned_timeout_seconds": 90,
                "flow_on_hitl_stopped": False,
                "user_hitl_close_command": "/stop",
            },
            "unset": ["approver_mode"],
        }
    ]
    assert "NULL (silenced)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "desk"], "--map takes hitl=<provider>"),
        (["--set", "novalue"], "--set takes key=value"),
        (["--set", "agent_assigned_timeout_seconds=soon"], "whole number of seconds"),
        ([], "say what to change"),
    ],
)
def test_usage_errors(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    result, server = run(monkeypatch, echo, "handoff", "configure", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert server.calls == []
