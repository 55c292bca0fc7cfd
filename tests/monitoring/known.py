"""A known data set on a fake clock, and the figures it must give (tests/monitoring)."""

from __future__ import annotations

from typing import Any

import httpx

from inloop.server.services import Services
from tests.support import FakeClock

MANAGER_REASON = "no answer within 1h: escalated to role:manager"
VIP_REASON = "escalated now by admin-token: VIP: escalated to team:l2"


async def responder(api: httpx.AsyncClient, handle: str, **user: Any) -> dict[str, str]:
    """A user (with ``user``'s fields) and the auth header of a responder key for them."""
    made = await api.post("/v1/users", json={"handle": handle, "name": handle.title(), **user})
    assert made.status_code == 201, made.text
    key = await api.post("/v1/keys", json={"name": handle, "scopes": ["responder"], "user": handle})
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "Refund $120?", "options": ["approve", "reject"], **fields}
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def answer(api: httpx.AsyncClient, request: dict[str, Any], as_: dict[str, str]) -> None:
    response = await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": "approve"}, headers=as_
    )
    assert response.status_code == 200, response.text


async def seed(api: httpx.AsyncClient, services: Services, clock: FakeClock) -> None:
    """Seven requests on 2026-01-05 from 09:00, ending at 11:01 (see EXPECTED):

    answered by alice after 10 min (d), 61 min past a 1 h deadline its timer had not yet
    fired for (f, late) and 91 min after a timeout escalated it (a); a timeout closed
    two (b auto-rejected, c timed out); one was queued (g); an admin escalated one (h).
    """
    alice = await responder(api, "alice", roles=["manager"])
    await api.patch("/v1/users/alice", json={"capacity": 4})
    a = await create(api, timeout="1h", escalation={"action": "escalate", "to": "role:manager"})
    await create(api, timeout="1h", escalation="auto_reject")  # b
    await create(api, timeout="1h")  # c
    d = await create(api)
    f = await create(api, timeout="1h")
    await create(api, timeout="2h", escalation="queue")  # g
    h = await create(api, timeout="8h", escalation={"action": "escalate", "to": "team:l2"})
    clock.advance(minutes=10)
    await answer(api, d, alice)
    escalated = await api.post(f"/v1/requests/{h['id']}/escalate", json={"reason": "VIP"})
    assert escalated.status_code == 200, escalated.text
    clock.advance(minutes=51)  # 10:01
    await answer(api, f, alice)  # after its deadline, before the scheduler's next pass
    await services.scheduler.run_due()  # a escalated, b auto-rejected, c timed out
    clock.advance(minutes=30)  # 10:31
    await answer(api, a, alice)
    clock.advance(minutes=30)  # 11:01
    await services.scheduler.run_due()  # g queued


EXPECTED = {
    "answered": 3,
    "p50": 3660.0,
    "p90": 5100.0,  # 3660 + 0.8 * (5460 - 3660)
    "p99": 5424.0,
    "timeouts": {"count": 2, "out_of": 5, "rate": 0.4},
    "escalations": {"count": 2, "out_of": 7, "rate": 2 / 7},
    "sla_breaches": {"answered_late": 1, "timed_out": 2, "total": 3, "out_of": 5, "rate": 0.6},
    "timeouts_by_action": [
        {"action": "escalated", "count": 1},
        {"action": "queued", "count": 1},
        {"action": "timed_out", "count": 1},
        {"action": "auto_approved", "count": 0},
        {"action": "auto_rejected", "count": 1},
    ],
    "top_reasons": [
        {"reason": VIP_REASON, "count": 1, "source": "request"},
        {"reason": MANAGER_REASON, "count": 1, "source": "request"},
    ],
}
