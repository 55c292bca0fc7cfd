"""Alert notices leave through the outbox like any delivery: a signed webhook event to a
real HTTP peer, an email to a real SMTP server; once per breach; SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from inloop.server.services import Services
from tests.channels.fakes import Peer, signature_ok
from tests.channels.test_email import Inbox, smtp  # noqa: F401  (the SMTP server fixture)
from tests.channels.test_outbox import SECRET, hook
from tests.support import FakeClock


async def breach(api: httpx.AsyncClient) -> None:
    made = await api.post("/v1/requests", json={"prompt": "Refund?", "timeout": "8h",
                          "escalation": {"action": "escalate", "to": "team:l2"}})  # fmt: skip
    assert made.status_code == 201, made.text
    done = await api.post(f"/v1/requests/{made.json()['id']}/escalate", json={"reason": "risk"})
    assert done.status_code == 200, done.text


async def test_a_webhook_gets_one_signed_alert_event_per_breach(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, peer: Peer, peer_url: str
) -> None:
    await hook(api, peer_url)
    made = await api.post("/v1/alerts", json={"name": "esc", "channel": "ops-hook",
                          "rule": "escalation_rate > 0.15 over 7d"})  # fmt: skip
    assert made.status_code == 201, made.text
    await breach(api)
    await services.alerts.evaluate()
    clock.advance(minutes=5)
    await services.alerts.evaluate()  # still breached: nothing more
    await services.dispatcher.run_due()
    alerts = [r for r in peer.received if r.json()["type"].startswith("alert.")]
    assert len(alerts) == 1
    (got,) = alerts
    assert signature_ok(SECRET, got)
    assert got.headers["webhook-id"] == f"alert:{made.json()['id']}:1:fired"
    data = got.json()["data"]
    assert (data["name"], data["metric"], data["value"], data["threshold"], data["window"]) == (
        "esc", "escalation_rate", 1.0, 0.15, "7d")  # fmt: skip


async def test_an_email_alert_reaches_the_inbox(
    api: httpx.AsyncClient,
    services: Services,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    box, port = smtp
    box.messages.clear()
    created = await api.post("/v1/channels", json={"name": "mail", "kind": "email", "config": {
        "host": "127.0.0.1", "port": port, "security": "none",
        "from_address": "inloop@example.com"}})  # fmt: skip
    assert created.status_code == 201, created.text
    made = await api.post("/v1/alerts", json={"name": "esc", "channel": "mail",
                          "to": "oncall@example.com", "rule": "escalations >= 1 over 1d"})  # fmt: skip
    assert made.status_code == 201, made.text
    await breach(api)
    await services.alerts.evaluate()
    await services.dispatcher.run_due()
    ((sender, to, message),) = box.messages
    assert (sender, to) == ("inloop@example.com", ["oncall@example.com"])
    assert message["Subject"] == "Inloop alert esc is firing"
    body = message.get_payload(decode=True) if not message.is_multipart() else None
    text = body.decode() if isinstance(body, bytes) else str(message.get_payload(0))
    assert "escalations is 1 over the last 1d" in text
