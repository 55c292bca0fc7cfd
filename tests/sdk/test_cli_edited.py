"""``inloop requests respond ID modify --edited JSON`` against a live server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import inloop
from inloop.cli import app
from tests.support import ADMIN_TOKEN

PAYLOAD = {"function": "refund", "arguments": {"order": "A-1", "amount": 120}}


def respond(live: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["--server", live, "--token", ADMIN_TOKEN, "requests", "respond", *args]
    )
    return result.exit_code, result.output


def test_respond_with_edited_sends_the_changed_payload(live: str, client: inloop.Client) -> None:
    request = client.create("Refund?", options=["approve", "reject", "modify"], payload=PAYLOAD)
    edited = {**PAYLOAD, "arguments": {"order": "A-1", "amount": 60}}
    code, output = respond(live, request.id, "modify", "--edited", json.dumps(edited))
    assert code == 0, output
    assert client.get(request.id).edited == edited


def test_respond_with_bad_edited_says_why(live: str, client: inloop.Client) -> None:
    """Not JSON: a usage error before any call; approve with edited: the server's reason."""
    request = client.create("Refund?", options=["approve", "reject", "modify"], payload=PAYLOAD)
    code, output = respond(live, request.id, "modify", "--edited", "{amount: 60}")
    assert code == 2 and "--edited is not valid JSON" in output
    code, output = respond(live, request.id, "approve", "--edited", "{}")
    assert code == 2 and "modify or edit" in output
    assert client.get(request.id).is_open
