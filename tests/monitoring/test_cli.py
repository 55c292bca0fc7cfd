"""``inloop stats`` and ``inloop alerts`` against a live server on the test's database:
the tables, the chart, the JSON, and the alert commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner

from inloop.cli import app
from inloop.server.services import Services
from tests.monitoring.known import EXPECTED, MANAGER_REASON, create, seed
from tests.support import ADMIN_TOKEN, FakeClock

Cli = Callable[..., str]


async def live_cli(services: Services, run: Callable[[Cli], None]) -> None:
    """Serve the app on a socket, and run ``run(cli)`` off the event loop."""
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app

    served = ThreadedServer().start(create_app(services.settings, services=services))
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(
            app, ["--server", served.url, "--token", ADMIN_TOKEN, *args], env={"COLUMNS": "200"}
        )
        assert result.exit_code == code, result.output
        return result.output

    try:
        await asyncio.to_thread(run, cli)
    finally:
        served.stop()


async def test_stats_prints_tables_a_chart_and_json(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await seed(api, services, clock)
    await create(api, prompt="<b>[red]markup[/red]</b>")  # text never reaches Rich markup

    def run(cli: Cli) -> None:
        text = cli("stats", "--since", "7d")
        for line in ("Escalation rate", "25.0%", "2 of 8 created", "Timeout rate", "40.0%",
                     "SLA breaches", "60.0%", "1 answered late, 2 timed out",
                     "Response p50", "1.0 h", "Response p90", "1.4 h",
                     "Top escalation reasons", "Timeouts by action", "auto rejected",
                     "Load per human", "alice", "Escalations per day"):  # fmt: skip
            assert line in text, line
        assert MANAGER_REASON[:40] in text
        day = next(line for line in text.splitlines() if line.startswith("01-05"))
        assert "█" * 30 in day and day.endswith("2 of 8 (25.0%)")
        assert "rate" in text.splitlines()[-1]
        figures = json.loads(cli("stats", "--since", "7d", "--json"))
        assert figures["sla_breaches"] == {**EXPECTED["sla_breaches"], "out_of": 5}  # type: ignore[dict-item]
        assert figures["timeouts_by_action"] == EXPECTED["timeouts_by_action"]
        refused = cli("stats", "--since", "soon", code=2)
        assert "not a duration" in refused

    await live_cli(services, run)


async def test_alert_commands(api: httpx.AsyncClient, services: Services) -> None:
    made = await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                          "config": {"url": "https://ops.example/in"}})  # fmt: skip
    assert made.status_code == 201, made.text

    def run(cli: Cli) -> None:
        added = cli("alerts", "add", "esc", "escalation_rate > 15% over 7d", "--channel", "hook")
        assert "Added alert esc" in added and "escalation_rate > 0.15 over 7d" in added
        wrong = cli("alerts", "add", "bad", "escalation_rat > 1 over 7d", "--channel", "hook",
                    code=2)  # fmt: skip
        assert "did you mean escalation_rate?" in wrong
        assert "esc" in cli("alerts", "ls") and "ok" in cli("alerts", "ls")
        checked = cli("alerts", "check")
        assert "esc" in checked and "no data" in checked
        changed = cli("alerts", "set", "esc", "--rule", "open_requests > 0 over 1d", "--disable")
        assert "open_requests > 0 over 1d (off)" in changed
        shown = cli("alerts", "show", "esc")
        assert "created" in shown and "updated" in shown
        listed = json.loads(cli("alerts", "ls", "--json"))
        assert [(a["name"], a["enabled"]) for a in listed] == [("esc", False)]
        assert "Deleted alert esc" in cli("alerts", "rm", "esc")
        assert "no alert" in cli("alerts", "show", "esc", code=1)

    await live_cli(services, run)


@pytest.mark.parametrize("since", ["24h"])
async def test_stats_on_an_empty_store(
    api: httpx.AsyncClient, services: Services, since: str
) -> None:
    def run(cli: Cli) -> None:
        text = cli("stats", "--since", since)
        assert "(none in this period)" in text and "Response p50" in text and "none" in text

    await live_cli(services, run)
