"""examples/analyze_escalations.py (seed 004's monitoring code on Inloop) against a real
server socket: it prints the week's rate and reasons and sets the alert rule once."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import inloop
from inloop.server.services import Services
from tests.monitoring.test_sessions import sessions
from tests.support import ADMIN_TOKEN, FakeClock

EXAMPLE = Path(__file__).parents[2] / "examples" / "analyze_escalations.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("analyze_escalations", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_seeds_analysis_and_alert(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app

    await sessions(api, clock)  # 3 of 10 sessions escalated
    await api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                   "config": {"url": "https://ops.example/in"}})  # fmt: skip
    example = load()
    served = ThreadedServer().start(create_app(services.settings, services=services))

    def run() -> tuple[float | None, str, str | None]:
        with inloop.Client(served.url, ADMIN_TOKEN) as client:
            rate = example.analyze_escalations(client)
            first = example.alert_team(client, "hook", None)
            again = example.alert_team(client, "hook", None)
            assert first.id == again.id
            client.evaluate_alerts()  # the server's own loop may have judged it first
            now = client.get_alert(first.id)
            return rate, first.rule, f"{now.state.value} {now.breaches}"

    try:
        rate, rule, changed = await asyncio.to_thread(run)
    finally:
        served.stop()
    assert rate == pytest.approx(0.3)
    assert rule == "session_escalation_rate > 0.15 over 7d"
    printed = capsys.readouterr().out
    assert "Escalation rate: 30.0%" in printed
    assert "  High-risk action detected: 2" in printed and "  payment dispute: 1" in printed
    assert changed == "firing 1"
