"""Alert rules through the API: stored, checked, evaluated on a fake clock, notifying once
per breach through the outbox, audited; two replicas notify once; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from inloop.domain.identity import SYSTEM
from inloop.server.services import Services
from tests.monitoring.known import create
from tests.support import FakeClock

HOOK = {"name": "ops-hook", "kind": "webhook", "config": {"url": "https://ops.example/in"}}
MAIL = {"name": "ops-mail", "kind": "email",
        "config": {"host": "127.0.0.1", "port": 9, "security": "none",
                   "from_address": "inloop@example.com"}}  # fmt: skip
RULE = "escalation_rate > 0.15 over 1d"


async def channels(api: httpx.AsyncClient) -> None:
    for body in (HOOK, MAIL):
        made = await api.post("/v1/channels", json=body)
        assert made.status_code == 201, made.text


async def alert(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "escalations", "rule": RULE, "channel": "ops-hook", **fields}
    made = await api.post("/v1/alerts", json=body)
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


async def notices(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    found = await api.get("/v1/deliveries", params={"topic": "alert"})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return sorted(items, key=lambda d: d["id"])


async def escalate(api: httpx.AsyncClient, n: int) -> None:
    for _ in range(n):
        request = await create(
            api, timeout="8h", escalation={"action": "escalate", "to": "team:l2"}
        )
        done = await api.post(f"/v1/requests/{request['id']}/escalate", json={"reason": "risk"})
        assert done.status_code == 200, done.text


async def tick(services: Services, clock: FakeClock) -> list[Any]:
    """One period later, the evaluator's pass."""
    clock.advance(minutes=1)
    return await services.alerts.evaluate()


async def test_an_alert_fires_once_per_breach_and_again_after_recovery(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await channels(api)
    made = await alert(api)
    assert (made["state"], made["rule"], made["threshold"]) == ("ok", RULE, 0.15)
    assert [e.changed for e in await services.alerts.evaluate()] == [None]  # nothing yet
    await escalate(api, 1)  # 1 of 1 escalated
    (fired,) = await tick(services, clock)
    assert (fired.changed, fired.value, fired.state) == ("fired", 1.0, "firing")
    for _ in range(3):  # still breached: no second notice
        assert [e.changed for e in await tick(services, clock)] == [None]
    (notice,) = await notices(api)
    event = notice["payload"]["event"]
    assert (event["type"], event["data"]["name"], event["data"]["value"]) == (
        "alert.fired", "escalations", 1.0)  # fmt: skip
    assert notice["key"] == f"alert:{made['id']}:1:fired"

    for _ in range(9):  # 1 of 10 escalated: recovered, and no notice asked for that
        await create(api)
    (recovered,) = await tick(services, clock)
    assert (recovered.changed, recovered.value) == ("recovered", 0.1)
    assert len(await notices(api)) == 1
    assert [e.changed for e in await tick(services, clock)] == [None]

    await escalate(api, 2)  # 3 of 12: a new breach, a new notice
    assert [e.changed for e in await tick(services, clock)] == ["fired"]
    assert [n["key"] for n in await notices(api)] == [
        f"alert:{made['id']}:1:fired", f"alert:{made['id']}:2:fired"]  # fmt: skip
    now = (await api.get(f"/v1/alerts/{made['id']}")).json()
    assert (now["state"], now["breaches"], now["value"]) == ("firing", 2, 0.25)
    trail = (await api.get(f"/v1/alerts/{made['id']}/events")).json()["items"]
    assert [(e["type"], e["actor"]) for e in trail] == [
        ("created", "admin-token"), ("fired", "system"), ("recovered", "system"),
        ("fired", "system")]  # fmt: skip
    assert trail[1]["data"] == {"value": 1.0, "rule": RULE, "breach": 1, "notice": "enqueued"}


async def test_an_email_alert_with_a_recovery_notice(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """To an address on an email channel; notify_recovery sends a second message."""
    await channels(api)
    made = await alert(api, name="timeouts", channel="ops-mail", to="oncall@example.com", notify_recovery=True,
                       rule="timeout_rate > 10% over 1d")  # fmt: skip
    await create(api, timeout="1h")
    clock.advance(hours=2)
    await services.scheduler.run_due()
    assert [e.changed for e in await tick(services, clock)] == ["fired"]
    clock.advance(days=2)
    assert [e.changed for e in await tick(services, clock)] == ["recovered"]  # nothing resolved
    fired, recovered = await notices(api)
    assert (fired["address"], fired["kind"]) == ("oncall@example.com", "email")
    text = fired["payload"]["message"]["text"]
    assert text == (
        "Inloop alert timeouts is firing: timeout_rate is 100.0% over the last 1d "
        "(rule: timeout_rate > 0.1 over 1d), at 2026-01-05T11:01:00+00:00."
    )
    assert fired["payload"]["message"]["subject"] == "Inloop alert timeouts is firing"
    assert recovered["payload"]["message"]["text"].startswith(
        "Inloop alert timeouts recovered: timeout_rate has no data over the last 1d"
    )
    assert recovered["key"] == f"alert:{made['id']}:1:recovered"


async def test_a_rule_is_evaluated_once_a_period(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """Due at creation, then every interval: a second pass in the same period does nothing."""
    await channels(api)
    await alert(api)
    assert len(await services.alerts.evaluate()) == 1
    assert await services.alerts.evaluate() == []
    clock.advance(seconds=59)
    assert await services.alerts.evaluate() == []
    clock.advance(seconds=1)
    assert len(await services.alerts.evaluate()) == 1


@pytest.fixture
def replica(services: Services, clock: FakeClock):  # type: ignore[no-untyped-def]
    """A second server on the same database."""
    from inloop.server.services import build_services

    other = build_services(services.settings, clock=clock)
    yield other
    other.close()


async def test_two_replicas_notify_once(
    api: httpx.AsyncClient, services: Services, replica: Services, clock: FakeClock
) -> None:
    """Both evaluate at the same moment: one claims the rule; and when both judge it anyway
    (check now), the conditional update lets one of them fire it."""
    await channels(api)
    made = await alert(api)
    await escalate(api, 1)
    results = await asyncio.gather(services.alerts.evaluate(), replica.alerts.evaluate())
    assert sorted(len(r) for r in results) == [0, 1]
    assert [e.changed for r in results for e in r] == ["fired"]

    await api.patch(f"/v1/alerts/{made['id']}", json={"rule": "escalation_rate > 0.5 over 1d"})
    for _ in range(3):
        await create(api)  # 1 of 4: recovers
    await services.alerts.evaluate()
    await escalate(api, 4)  # 5 of 8: breached again
    both = await asyncio.gather(
        services.alerts.evaluate_now(SYSTEM),
        replica.alerts.evaluate_now(SYSTEM),
    )
    assert sorted(e.changed or "" for r in both for e in r) == ["", "fired"]
    assert [n["key"] for n in await notices(api)] == [
        f"alert:{made['id']}:1:fired", f"alert:{made['id']}:2:fired"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"rule": "escalation_rate > lots over 7d"}, 422, "invalid_alert_rule", "rule"),
        ({"rule": "happiness > 1 over 7d"}, 422, "invalid_alert_rule", "rule"),
        ({"channel": "nowhere"}, 404, "not_found", "channel"),
        ({"channel": "ops-hook", "to": "a@example.com"}, 422, "invalid_alert", "to"),
        ({"channel": "ops-mail"}, 422, "invalid_alert", "to"),
        ({"channel": "ops-mail", "to": "not-an-address"}, 422, "invalid", "to"),
        ({"name": "bad name!"}, 422, "validation_error", "name"),
        ({"extra": 1}, 422, "validation_error", "extra"),
    ],
)
async def test_bad_alerts_are_refused_with_the_field_at_fault(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    await channels(api)
    response = await api.post(
        "/v1/alerts", json={"name": "a", "rule": RULE, "channel": "ops-hook", **body}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert (await api.get("/v1/alerts")).json()["items"] == []


async def test_crud_and_who_may(api: httpx.AsyncClient, services: Services) -> None:
    """Admins list, change and delete alerts (the trail stays); other keys may not."""
    await channels(api)
    made = await alert(api)
    assert (await api.post("/v1/alerts", json={"name": "escalations", "rule": RULE,
            "channel": "ops-hook"})).json()["error"]["code"] == "name_taken"  # fmt: skip
    changed = await api.patch(f"/v1/alerts/{made['id']}", json={"enabled": False,
                              "rule": "p90_response > 90m over 1d"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["threshold"]) == (False, 5400.0)
    assert await services.alerts.evaluate() == []  # disabled
    bad = await api.patch(f"/v1/alerts/{made['id']}", json={"rule": "p90_response > 2 over"})
    assert bad.json()["error"]["code"] == "invalid_alert_rule"
    key = await api.post("/v1/keys", json={"name": "agent", "scopes": ["agent"]})
    as_agent = {"Authorization": f"Bearer {key.json()['secret']}"}
    refused = await api.get("/v1/alerts", headers=as_agent)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "missing_scope")
    assert (await api.delete(f"/v1/alerts/{made['id']}")).status_code == 204
    assert (await api.get(f"/v1/alerts/{made['id']}")).status_code == 404
    trail = (await api.get(f"/v1/alerts/{made['id']}/events")).json()["items"]
    assert [e["type"] for e in trail] == ["created", "updated", "deleted"]
    assert (await api.get("/v1/alerts/alr_nothing/events")).status_code == 404


async def test_the_loop_in_serve_evaluates_due_rules_when_it_starts(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """The evaluator started with the server judges a due rule at once, then waits a
    period (on the real clock; the fake one does not move)."""
    await channels(api)
    made = await alert(api)
    await escalate(api, 1)
    passes: list[list[Any]] = []
    evaluated = asyncio.Event()
    original = services.alerts.evaluate

    async def counted() -> list[Any]:
        found = await original()
        passes.append(found)
        evaluated.set()
        return found

    services.alerts.evaluate = counted  # type: ignore[method-assign]
    await services.alerts.start()
    try:
        await asyncio.wait_for(evaluated.wait(), 10)
    finally:
        await services.alerts.stop()
    assert [[e.changed for e in p] for p in passes] == [["fired"]]
    assert (await api.get(f"/v1/alerts/{made['id']}")).json()["state"] == "firing"


async def test_one_pass_judges_every_due_rule_batch_after_batch(
    api: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inloop.server.services import alerts as alerts_service

    monkeypatch.setattr(alerts_service, "BATCH", 2)
    await channels(api)
    for n in range(5):
        await alert(api, name=f"rule-{n}")
    assert sorted(e.name for e in await services.alerts.evaluate()) == [
        f"rule-{n}" for n in range(5)
    ]
    assert await services.alerts.evaluate() == []


async def test_a_rule_with_for_fires_once_it_has_held_that_long(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """``for 5m``: a breach seen at 0 and 3 min does not fire; at 5 min it does, once; a
    recovery clears the wait, and the next breach waits again."""
    await channels(api)
    made = await alert(api, rule=RULE + " for 5m")
    assert made["rule"] == "escalation_rate > 0.15 over 1d for 5m" and made["hold"] == "5m"
    await escalate(api, 1)
    assert [(e.breached, e.changed) for e in await tick(services, clock)] == [(True, None)]
    started = (await api.get(f"/v1/alerts/{made['id']}")).json()["breached_since"]
    assert started is not None
    clock.advance(minutes=2)
    assert [e.changed for e in await tick(services, clock)] == [None]  # 3 min
    clock.advance(minutes=1)
    assert [e.changed for e in await tick(services, clock)] == ["fired"]  # 5 min
    assert [e.changed for e in await tick(services, clock)] == [None]
    for _ in range(9):
        await create(api)  # 1 of 10: recovers at once
    assert [e.changed for e in await tick(services, clock)] == ["recovered"]
    assert (await api.get(f"/v1/alerts/{made['id']}")).json()["breached_since"] is None
    await escalate(api, 2)  # 3 of 12: breached again, waits again
    assert [e.changed for e in await tick(services, clock)] == [None]
    clock.advance(minutes=4)
    assert [e.changed for e in await tick(services, clock)] == ["fired"]
    assert len(await notices(api)) == 2
