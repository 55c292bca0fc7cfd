"""``inloop channels`` and ``inloop deliveries`` against a live server on the test's
database: what they print, and that secrets are never printed back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from inloop.cli import app
from inloop.server.services import Services
from tests.channels.fakes import Peer
from tests.support import ADMIN_TOKEN


@pytest.fixture
def live(services: Services) -> Iterator[str]:
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app

    served = ThreadedServer().start(create_app(services.settings, services=services))
    yield served.url
    served.stop()


def test_configure_link_send_and_replay(
    live: str, peer: Peer, peer_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    base = ["--server", live, "--token", ADMIN_TOKEN]

    def cli(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(app, [*base, *args], input=stdin)
        assert result.exit_code == code, result.output
        return result.output

    monkeypatch.setenv("HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    added = cli(
        "channels", "add", "webhook", "ops", "--set", f"url={peer_url}/in",
        "--set", 'events=["request.created"]', "--secret", "signing_secret=env:HOOK_SECRET",
    )  # fmt: skip
    assert "Added webhook channel ops" in added
    assert "MfKQ9r8" not in added
    assert "answers: https://inloop.example/hooks/webhook/ops" in added
    listed = cli("channels", "ls")
    assert "ops" in listed and "signing_secret" in listed and "MfKQ9r8" not in listed
    cli("channels", "add", "sms", "text", "--set", "account_sid=AC" + "1" * 32,
        "--set", "from_number=+14155550100", "--secret", "auth_token", stdin="tok-123\n")  # fmt: skip
    assert "tok-123" not in cli("channels", "show", "text", "--json")
    cli("users", "create", "alice", "Alice")
    assert "alice is +41790000000 on text" in cli(
        "channels", "link", "alice", "text", "+41790000000"
    )
    assert "+41790000000" in cli("channels", "addresses", "alice")
    refused = cli("channels", "link", "alice", "text", "079", code=2)
    assert "E.164" in refused

    peer.reset(503)
    cli("channels", "set", "ops", "--set", "timeout=2")
    sent = cli("deliveries", "send", "ops", "--key", "k-1", "--event", '{"type": "ping"}')
    assert "is pending" in sent
    assert cli("deliveries", "ls", "--status", "pending", "--status", "sending").count("ops") == 1
    bad = cli("deliveries", "replay", code=2)
    assert "give delivery ids" in bad
    assert "Replaying 0 deliveries" in cli("deliveries", "replay", "--dead")
    shown = cli("deliveries", "show", "1")
    assert "ops" in shown and "Attempt" in shown  # the log's table (however far it got)
    cli("channels", "set", "ops", "--disable")
    assert "no" in cli("channels", "show", "ops")
    cli("channels", "rm", "text")
    assert "text" not in cli("channels", "ls", "--json")
