"""The requests API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support import FakeClock

APPROVAL = {"prompt": "Approve the deploy of v2.3?", "options": ["approve", "reject"]}


async def create(
    api: httpx.AsyncClient, body: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    response = await api.post("/v1/requests", json=body or APPROVAL, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_every_field_and_a_pending_status(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A created request comes back whole: id, status, the fields as sent, due_at from timeout."""
    body = {
        "kind": "approval",
        "title": "Refund",
        "prompt": "Approve refund of $120?",
        "description": "Customer asked twice",
        "options": ["approve", "reject", "modify"],
        "context": {"transaction": {"amount": 120}, "risk_factors": ["new card"]},
        "display": {"layout": "side-by-side", "highlight": ["risk_factors"]},
        "priority": "high",
        "assignee": "role:manager",
        "timeout": "4h",
        "escalation": {
            "action": "escalate",
            "to": "role:senior_manager",
            "timeout": "4h",
            "final_action": "auto_reject",
        },
        "conversation_id": "conv-1",
        "user_id": "cust-9",
        "metadata": {"source": "test"},
        "callback_url": "https://agent.example/callback",
    }
    request = await create(api, body)
    assert request["id"].startswith("req_")
    assert request["status"] == "pending" and request["resolution"] is None
    assert request["options"][2] == {"value": "modify", "label": None, "description": None}
    assert request["context"] == body["context"] and request["display"] == body["display"]
    assert request["escalation"] == body["escalation"] and request["assignee"] == "role:manager"
    assert request["due_at"] == "2026-01-05T13:00:00Z"
    assert request["created_by"] == "admin-token"
    fetched = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert fetched == request


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"prompt": "Why?"}, "input"),
        ({"prompt": "Pick", "options": ["red", "blue"]}, "choice"),
        ({"prompt": "Ok?", "options": ["approve", "reject", "modify"]}, "approval"),
        ({"prompt": "Rate", "response_schema": {"type": "object"}}, "form"),
        ({"prompt": "Sure?", "kind": "approval"}, "approval"),
    ],
)
async def test_kind_is_inferred_when_left_out(
    api: httpx.AsyncClient, body: dict[str, Any], kind: str
) -> None:
    """Without a kind, the fields decide: schema means form, approve means approval."""
    assert (await create(api, body))["kind"] == kind


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"prompt": "x", "colour": "red"}, "colour", "Extra inputs"),
        ({"prompt": ""}, "prompt", "at least 1"),
        ({"prompt": "x", "priority": "asap"}, "priority", "'urgent'"),
        ({"prompt": "x", "kind": "form"}, "response_schema", "needs a response_schema"),
        (
            {"prompt": "x", "kind": "form", "response_schema": {"type": "bogus"}},
            "response_schema",
            "not a valid JSON Schema",
        ),
        ({"prompt": "x", "kind": "choice"}, "options", "needs options"),
        ({"prompt": "x", "kind": "input", "options": ["a"]}, "options", "approval or choice"),
        ({"prompt": "x", "options": ["a", "a"]}, "options", "distinct"),
        ({"prompt": "x", "timeout": "soon"}, "timeout", "not a duration"),
        ({"prompt": "x", "assignee": "alice"}, "assignee", "user:<handle>"),
        ({"prompt": "x", "timeout": "1h", "escalation": "explode"}, "escalation", "auto_approve"),
        (
            {"prompt": "x", "timeout": "1h", "escalation": {"action": "escalate", "to": "nobody"}},
            "escalation.to",
            "not an assignee",
        ),
        (
            {"prompt": "x", "timeout": "1h", "escalation": {"action": "escalate"}},
            "escalation",
            "needs 'to'",
        ),
        (
            {"prompt": "x", "escalation": "auto_reject", "options": ["approve", "reject"]},
            "timeout",
            "needs a timeout",
        ),
        (
            {"prompt": "x", "timeout": "1h", "escalation": "auto_approve"},
            "escalation",
            "approval or confirmation",
        ),
        ({"prompt": "x", "display": {"layout": "grid"}}, "display.layout", "side-by-side"),
        ({"prompt": "x", "callback_url": "ftp://x"}, "callback_url", "URL"),
        ({"prompt": 5}, "prompt", "string"),
    ],
)
async def test_bad_request_is_refused_with_the_field_at_fault(
    api: httpx.AsyncClient, body: dict[str, Any], field: str, words: str
) -> None:
    """Every malformed create is a 422 naming the field, and stores nothing."""
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert (await api.get("/v1/requests")).json()["items"] == []


async def test_malformed_json_is_a_400(api: httpx.AsyncClient) -> None:
    """A body that is not JSON says so."""
    response = await api.post(
        "/v1/requests", content=b"{prompt:", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_idempotency_key_replays_the_same_request_and_refuses_another_body(
    api: httpx.AsyncClient,
) -> None:
    """Same key and body: the original request. Same key, other body: 409, nothing new."""
    first = await create(api, APPROVAL, **{"Idempotency-Key": "deploy-42"})
    again = await api.post("/v1/requests", json=APPROVAL, headers={"Idempotency-Key": "deploy-42"})
    assert again.status_code == 201 and again.json() == first
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await api.post(
        "/v1/requests",
        json={**APPROVAL, "prompt": "Other"},
        headers={"Idempotency-Key": "deploy-42"},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert len((await api.get("/v1/requests")).json()["items"]) == 1


async def test_concurrent_creates_with_one_idempotency_key_make_one_request(
    api: httpx.AsyncClient,
) -> None:
    """Retries racing each other still create the request once."""
    results = await asyncio.gather(
        *[
            api.post("/v1/requests", json=APPROVAL, headers={"Idempotency-Key": "race"})
            for _ in range(10)
        ]
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1


@pytest.mark.parametrize(
    ("body", "good", "bad"),
    [
        (APPROVAL, "approve", "maybe"),
        ({"prompt": "Pick", "options": ["red", "blue"]}, "blue", ["blue"]),
        ({"prompt": "Sure?", "kind": "confirmation"}, False, "yes"),
        ({"prompt": "Why?", "kind": "input"}, "because", 42),
        ({"prompt": "Say", "kind": "chat"}, "hello", "   "),
        (
            {
                "prompt": "Rate",
                "response_schema": {
                    "type": "object",
                    "required": ["approved", "quality_score"],
                    "properties": {
                        "approved": {"type": "boolean"},
                        "quality_score": {"type": "integer", "minimum": 1, "maximum": 5},
                    },
                },
            },
            {"approved": True, "quality_score": 4},
            {"approved": True, "quality_score": 9},
        ),
    ],
)
async def test_respond_checks_the_answer_against_the_kind(
    api: httpx.AsyncClient, body: dict[str, Any], good: Any, bad: Any
) -> None:
    """An answer that does not fit is a 422 and leaves the request open; a fitting one resolves it."""
    request = await create(api, body)
    refused = await api.post(f"/v1/requests/{request['id']}/respond", json={"response": bad})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"].startswith("response")
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "pending"
    answered = await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": good, "comment": "fine"}
    )
    assert answered.status_code == 200
    resolved = answered.json()
    assert resolved["status"] == "resolved" and resolved["resolution"] == "responded"
    assert resolved["response"] == good and resolved["comment"] == "fine"
    assert resolved["resolved_by"] == "admin-token"


async def test_form_error_names_the_nested_field(api: httpx.AsyncClient) -> None:
    """A schema violation points at the property that broke it."""
    request = await create(
        api,
        {
            "prompt": "Rate",
            "response_schema": {
                "type": "object",
                "properties": {"score": {"type": "integer", "maximum": 5}},
            },
        },
    )
    refused = await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": {"score": 7}}
    )
    assert refused.json()["error"]["field"] == "response.score"


async def test_second_answer_is_a_conflict_and_the_first_stands(api: httpx.AsyncClient) -> None:
    """The first valid answer wins; a later one gets 409 request_closed."""
    request = await create(api)
    await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    second = await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "reject"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "request_closed"
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["response"] == "approve"


async def test_cancel_closes_and_audits_with_the_reason(api: httpx.AsyncClient) -> None:
    """Cancel moves an open request to cancelled; answering it afterwards is a conflict."""
    request = await create(api)
    cancelled = await api.post(
        f"/v1/requests/{request['id']}/cancel", json={"reason": "deploy aborted"}
    )
    assert cancelled.status_code == 200
    assert (
        cancelled.json()["status"] == "cancelled" and cancelled.json()["resolution"] == "cancelled"
    )
    assert (await api.post(f"/v1/requests/{request['id']}/cancel")).status_code == 409
    assert (
        await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    ).status_code == 409
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert [(e["type"], e["reason"]) for e in events] == [
        ("created", None),
        ("cancelled", "deploy aborted"),
    ]


async def test_audit_trail_has_actor_reason_and_time(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Every change appends an event with who, why and when."""
    request = await create(api)
    clock.advance(minutes=5)
    await api.post(
        f"/v1/requests/{request['id']}/respond", json={"response": "reject", "comment": "too risky"}
    )
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    assert [e["type"] for e in events] == ["created", "responded"]
    assert events[1]["actor"] == "admin-token" and events[1]["reason"] == "too risky"
    assert events[1]["at"] == "2026-01-05T09:05:00Z" and events[1]["data"] == {"response": "reject"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/requests/req_nope",
        "/v1/requests/req_nope/events",
        "/v1/requests/req_nope/wait?timeout=0",
    ],
)
async def test_unknown_request_is_a_404(api: httpx.AsyncClient, path: str) -> None:
    """An unknown id says so, on every route."""
    response = await api.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "no request with id 'req_nope'",
        "field": "id",
    }


async def test_answering_an_unknown_request_is_a_404(api: httpx.AsyncClient) -> None:
    """respond and cancel on an unknown id are 404s."""
    assert (
        await api.post("/v1/requests/req_nope/respond", json={"response": "x"})
    ).status_code == 404
    assert (await api.post("/v1/requests/req_nope/cancel")).status_code == 404


async def test_wait_returns_the_moment_the_answer_is_committed(api: httpx.AsyncClient) -> None:
    """A long-poll parked on a request wakes with the answer, well before its timeout."""
    request = await create(api)
    waiting = asyncio.create_task(
        api.get(f"/v1/requests/{request['id']}/wait", params={"timeout": 60})
    )
    await asyncio.sleep(0)  # let the waiter park before the answer arrives
    await api.post(f"/v1/requests/{request['id']}/respond", json={"response": "approve"})
    resolved = (await asyncio.wait_for(waiting, 10)).json()
    assert resolved["status"] == "resolved" and resolved["response"] == "approve"


async def test_wait_returns_the_open_request_when_the_timeout_passes(
    api: httpx.AsyncClient,
) -> None:
    """timeout=0 answers at once with the request as it stands."""
    request = await create(api)
    still = await api.get(f"/v1/requests/{request['id']}/wait", params={"timeout": 0})
    assert still.status_code == 200 and still.json()["status"] == "pending"


async def test_wait_on_a_closed_request_returns_at_once(api: httpx.AsyncClient) -> None:
    """Waiting on a request that is already answered does not block."""
    request = await create(api)
    await api.post(f"/v1/requests/{request['id']}/cancel")
    done = await asyncio.wait_for(
        api.get(f"/v1/requests/{request['id']}/wait", params={"timeout": 600}), 10
    )
    assert done.json()["status"] == "cancelled"


async def test_wait_refuses_an_out_of_range_timeout(api: httpx.AsyncClient) -> None:
    """The long-poll's timeout is bounded and says so."""
    request = await create(api)
    response = await api.get(f"/v1/requests/{request['id']}/wait", params={"timeout": 601})
    assert response.status_code == 422 and response.json()["error"]["field"] == "timeout"


async def test_a_body_over_the_limit_is_a_413_and_stores_nothing(api: httpx.AsyncClient) -> None:
    """A 2 MB context is refused with a JSON error before it is parsed."""
    response = await api.post("/v1/requests", json={"prompt": "x", "context": "a" * 2_000_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert (await api.get("/v1/requests")).json()["items"] == []


async def test_a_streamed_body_over_the_limit_is_a_413(api: httpx.AsyncClient) -> None:
    """Without a Content-Length, the limit is counted as the body streams in."""

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"prompt": "x", "context": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    response = await api.post(
        "/v1/requests", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert (await api.get("/v1/requests")).json()["items"] == []
