"""Two ``inloop serve`` replicas on one PostgreSQL database, each running its alert
evaluator every second: a breach notifies once, a recovery re-arms, the next breach
notifies once more."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Databases, ServerProcess

pytestmark = [pytest.mark.e2e]


def wait_until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:g} s"
        time.sleep(0.1)  # polling for the evaluators' writes


def escalated(api: httpx.Client, n: int) -> None:
    for _ in range(n):
        made = api.post("/v1/requests", json={"prompt": "Refund?", "timeout": "8h",
                        "escalation": {"action": "escalate", "to": "team:l2"}})  # fmt: skip
        assert made.status_code == 201, made.text
        api.post(f"/v1/requests/{made.json()['id']}/escalate", json={"reason": "risk"})


@pytest.mark.postgres
def test_two_replicas_notify_once_per_breach(
    databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INLOOP_ALERT_INTERVAL", "1s")
    with databases.postgres() as url:
        replicas = [ServerProcess(url, tmp_path) for _ in range(2)]
        try:
            for replica in replicas:
                replica.start()
            with replicas[0].client() as api, replicas[1].client() as other:
                api.post("/v1/channels", json={"name": "hook", "kind": "webhook",
                         "config": {"url": "https://ops.invalid/in"}}).raise_for_status()  # fmt: skip
                made = api.post("/v1/alerts", json={"name": "esc", "channel": "hook",
                                "rule": "escalation_rate > 0.5 over 1d"})  # fmt: skip
                assert made.status_code == 201, made.text
                alert_id = made.json()["id"]

                def alert() -> dict[str, Any]:
                    found: dict[str, Any] = other.get(f"/v1/alerts/{alert_id}").json()
                    return found

                def passes(n: int) -> None:
                    """Wait for n more evaluations (by either replica)."""
                    for _ in range(n):
                        seen = alert()["evaluated_at"]
                        wait_until(
                            "an evaluation", lambda seen=seen: alert()["evaluated_at"] != seen
                        )

                def notices() -> list[str]:
                    found = api.get("/v1/deliveries", params={"topic": "alert"}).json()
                    return sorted(d["key"] for d in found["items"])

                escalated(api, 1)  # 1 of 1
                wait_until("the alert firing", lambda: alert()["state"] == "firing")
                passes(4)  # both replicas keep judging it breached
                assert notices() == [f"alert:{alert_id}:1:fired"]

                for _ in range(3):  # 1 of 4
                    api.post("/v1/requests", json={"prompt": "Ship?"}).raise_for_status()
                wait_until("the recovery", lambda: alert()["state"] == "ok")
                escalated(api, 3)  # 4 of 7
                wait_until("the second breach", lambda: alert()["breaches"] == 2)
                passes(4)
                assert notices() == [f"alert:{alert_id}:1:fired", f"alert:{alert_id}:2:fired"]
                trail = [
                    e["type"] for e in api.get(f"/v1/alerts/{alert_id}/events").json()["items"]
                ]
                assert trail == ["created", "fired", "recovered", "fired"]
            assert all(r.process is not None and r.process.poll() is None for r in replicas)
        finally:
            for replica in replicas:
                replica.stop()
