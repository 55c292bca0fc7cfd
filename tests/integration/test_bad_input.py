"""Bad input gets a JSON error naming the field, never a 500, and stores nothing.

Each case is one a reviewer sent with curl to ``inloop serve``; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inloop.server.services import Services
from tests.support import ADMIN_TOKEN

FORM = {"prompt": "Rate it", "response_schema": {"type": "object"}}


def assert_error(response: httpx.Response, status: int, code: str, field: str | None) -> str:
    """The response is the one error shape, with this status, code and field; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert (body["error"]["code"], body["error"]["field"]) == (code, field), body
    message: str = body["error"]["message"]
    assert message
    return message


async def stored(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/v1/requests")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def respond(api: httpx.AsyncClient, request_id: str, content: bytes) -> httpx.Response:
    return await api.post(
        f"/v1/requests/{request_id}/respond",
        content=content,
        headers={"Content-Type": "application/json"},
    )


# 1. An unexpected error


@pytest.fixture
async def lenient_api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``api``, but the transport hands back the 500 instead of re-raising the error."""
    from inloop.server.app import create_app

    app = create_app(services.settings, services=services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://inloop.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


async def test_an_unexpected_error_is_a_json_500_that_leaks_nothing(
    lenient_api: httpx.AsyncClient,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault in a service answers 500 internal_error in the error shape; the log has it."""

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("password=hunter2 in /srv/secret.py")

    monkeypatch.setattr(services.requests, "get", broken)
    response = await lenient_api.get("/v1/requests/req_1")
    message = assert_error(response, 500, "internal_error", None)
    assert "hunter2" not in message and "RuntimeError" not in message
    assert "hunter2" in caplog.text


# 2. A blank prompt


async def test_a_blank_prompt_is_refused(api: httpx.AsyncClient) -> None:
    """A prompt of spaces has no first line to be the title: 422 on prompt."""
    response = await api.post("/v1/requests", json={"prompt": "   "})
    assert_error(response, 422, "invalid_request", "prompt")
    assert await stored(api) == []


# 3. Durations past a year


@pytest.mark.parametrize("timeout", ["99999999999d", "PT999999999999999999.0S"])
async def test_a_duration_past_365_days_is_refused(api: httpx.AsyncClient, timeout: str) -> None:
    """A timeout too long for a timestamp: 422 on timeout saying the limit."""
    response = await api.post("/v1/requests", json={"prompt": "Go?", "timeout": timeout})
    assert "365 days" in assert_error(response, 422, "validation_error", "timeout")
    response = await api.post(
        "/v1/requests",
        json={
            "prompt": "Go?",
            "kind": "confirmation",
            "timeout": "1h",
            "escalation": {"action": "escalate", "to": "role:ops", "timeout": timeout},
        },
    )
    assert_error(response, 422, "validation_error", "escalation.timeout")
    assert await stored(api) == []


async def test_a_duration_of_365_days_is_accepted(api: httpx.AsyncClient) -> None:
    """The limit itself is allowed: due a year on."""
    request = await create(api, {"prompt": "Go?", "timeout": "365d"})
    assert request["due_at"] == "2027-01-05T09:00:00Z"


# 4. Integers past 64 bits, NaN and Infinity


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"prompt": "x", "context": {"n": 1000000000000000000000000000000}}', "context.n"),
        (b'{"prompt": "x", "metadata": {"n": [18446744073709551616]}}', "metadata.n.0"),
        (b'{"prompt": "x", "context": {"a": NaN}}', "context.a"),
        (b'{"prompt": "x", "context": Infinity}', "context"),
        (b'{"prompt": "x", "metadata": {"m": -Infinity}}', "metadata.m"),
        (
            b'{"prompt": "x", "response_schema": {"type": "number", "maximum": NaN}}',
            "response_schema",
        ),
    ],
)
async def test_json_that_cannot_be_stored_is_refused_on_create(
    api: httpx.AsyncClient, body: bytes, field: str
) -> None:
    """Such values would crash the store or be stored as null: 422 naming where they are."""
    response = await api.post(
        "/v1/requests", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_request", field)
    assert await stored(api) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"response": {"n": 1000000000000000000000000000000}}', "response.n"),
        (b'{"response": {"score": NaN}}', "response.score"),
        (b'{"response": Infinity}', "response"),
    ],
)
async def test_json_that_cannot_be_stored_is_refused_as_an_answer(
    api: httpx.AsyncClient, body: bytes, field: str
) -> None:
    """The same for a form's answer: 422 invalid_response, and the request stays open."""
    request = await create(api, FORM)
    assert_error(await respond(api, request["id"], body), 422, "invalid_response", field)
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "pending"


async def test_64_bit_integers_are_stored_exactly(api: httpx.AsyncClient) -> None:
    """The edges of what is accepted come back as sent, not rounded."""
    context = {"max": 2**64 - 1, "min": -(2**63)}
    request = await create(api, {"prompt": "x", "context": context})
    fetched = await api.get(f"/v1/requests/{request['id']}")
    assert fetched.json()["context"] == context


# 5. A time without a timezone


async def test_a_time_without_a_timezone_is_taken_as_utc(api: httpx.AsyncClient) -> None:
    """created_after / created_before without an offset filter as UTC instead of failing."""
    request = await create(api, {"prompt": "x"})  # created 2026-01-05T09:00Z
    after = await api.get("/v1/requests", params={"created_after": "2020-01-01T00:00:00"})
    assert after.status_code == 200, after.text
    assert [r["id"] for r in after.json()["items"]] == [request["id"]]
    for when, found in [("2026-01-05T08:59:59", 1), ("2026-01-05T09:00:01", 0)]:
        page = await api.get("/v1/requests", params={"created_after": when})
        assert len(page.json()["items"]) == found, when
    before = await api.get("/v1/requests", params={"created_before": "2020-01-01T00:00:00"})
    assert before.status_code == 200 and before.json()["items"] == []


async def test_a_time_that_leaves_the_calendar_in_utc_is_refused(api: httpx.AsyncClient) -> None:
    """9999-12-31T23:59:59-14:00 is past year 9999 in UTC: 422, not an overflow."""
    response = await api.get("/v1/requests", params={"created_after": "9999-12-31T23:59:59-14:00"})
    assert_error(response, 422, "validation_error", "created_after")


# 6. A forged cursor


def cursor(*fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(fields)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        cursor(10**30, "2026-01-05T09:00:00+00:00", "req_x"),
        cursor(-1, "2026-01-05T09:00:00+00:00", "req_x"),
        cursor(1.5, "2026-01-05T09:00:00+00:00", "req_x"),
        cursor(1, "2026-01-05T09:00:00", "req_x"),
        cursor(1, "0001-01-01T00:00:00+01:00", "req_x"),
        cursor(1, "2026-01-05T09:00:00+00:00", "r" * 5000),
        cursor(1, "2026-01-05T09:00:00+00:00", 7),
        cursor(1, 2),
        "not base64!",
    ],
)
async def test_a_forged_cursor_is_refused(api: httpx.AsyncClient, forged: str) -> None:
    """Any cursor this server could not have made is invalid_cursor, not a 500."""
    await create(api, {"prompt": "x"})
    response = await api.get("/v1/requests", params={"cursor": forged})
    assert_error(response, 422, "invalid_cursor", "cursor")


# 7. A bad Last-Event-ID


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"last_event_id": "\u00b2"}, {}),  # "²" passes str.isdigit
        ({"last_event_id": "9" * 5000}, {}),
        ({}, {"Last-Event-ID": "9" * 30}),
        ({}, {"Last-Event-ID": "9" * 19}),
        ({}, {"Last-Event-ID": "-1"}),
    ],
)
async def test_a_bad_last_event_id_is_refused_before_streaming(
    api: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    """Only 1 to 18 ASCII digits are an event id: anything else is a 422 up front."""
    response = await api.get("/v1/events", params=params, headers=headers)
    assert_error(response, 422, "validation_error", "Last-Event-ID")


# 8. Explicit nulls on a user


async def test_a_null_name_or_disabled_is_refused(api: httpx.AsyncClient) -> None:
    """name and disabled need a value; capacity null means no limit and is kept."""
    created = await api.post("/v1/users", json={"handle": "ann", "name": "Ann"})
    assert created.status_code == 201, created.text
    for field in ("name", "disabled"):
        response = await api.patch("/v1/users/ann", json={field: None})
        assert_error(response, 422, "validation_error", field)
    user = (await api.get("/v1/users/ann")).json()
    assert (user["name"], user["disabled"]) == ("Ann", False)
    response = await api.patch("/v1/users/ann", json={"capacity": None})
    assert response.status_code == 200 and response.json()["capacity"] is None


# 9. Bad role names


async def test_a_bad_role_name_is_a_422_on_role(api: httpx.AsyncClient) -> None:
    """A role that could never be given at creation is refused, and the user is unchanged."""
    created = await api.post("/v1/users", json={"handle": "ann", "name": "Ann"})
    assert created.status_code == 201, created.text
    for method in ("PUT", "DELETE"):
        response = await api.request(method, "/v1/users/ann/roles/bad%20role")
        assert_error(response, 422, "validation_error", "role")
    assert (await api.get("/v1/users/ann")).json()["roles"] == []


async def test_a_role_for_an_unknown_or_malformed_handle_is_a_404(api: httpx.AsyncClient) -> None:
    """No user has the handle "bad handle": not found, as for any unknown user."""
    for path in ("/v1/users/bad%20handle/roles/ops", "/v1/users/ghost/roles/ops"):
        assert_error(await api.put(path), 404, "not_found", "handle")
    assert (await api.get("/v1/roles")).json()["items"] == []


# 10. A key for an unknown user


async def test_a_key_for_an_unknown_user_names_the_user_field(api: httpx.AsyncClient) -> None:
    """The body's field is user, so the error says user; no key is made."""
    response = await api.post("/v1/keys", json={"name": "k", "scopes": ["agent"], "user": "ghost"})
    assert_error(response, 404, "not_found", "user")
    assert [k["name"] for k in (await api.get("/v1/keys")).json()["items"]] == []


# 11. A body without its content type


async def test_a_body_without_a_json_content_type_says_so(api: httpx.AsyncClient) -> None:
    """FastAPI reads such a body as no object at all: the error says what to send."""
    response = await api.post(
        "/v1/requests", content=b'{"prompt": "x"}', headers={"Content-Type": "text/plain"}
    )
    message = assert_error(response, 422, "validation_error", None)
    assert "JSON object" in message and "Content-Type: application/json" in message
    for body in (b'{"prompt": "x"}', b""):
        response = await api.post("/v1/requests", content=body)
        assert "application/json" in assert_error(response, 422, "validation_error", None)
    assert await stored(api) == []


# 12. A response_schema that refers outside itself


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "https://example.invalid/s.json"},
        {"$ref": "#/$defs/missing"},
        {"type": "object", "properties": {"a": {"$ref": "other.json#/x"}}},
        {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
    ],
)
async def test_a_schema_whose_refs_do_not_resolve_is_refused(
    api: httpx.AsyncClient, schema: dict[str, Any]
) -> None:
    """Refused when created, not a 500 on every answer later."""
    response = await api.post("/v1/requests", json={"prompt": "x", "response_schema": schema})
    assert_error(response, 422, "invalid_request", "response_schema")
    assert await stored(api) == []


async def test_a_schema_with_local_refs_checks_answers(api: httpx.AsyncClient) -> None:
    """References inside the schema work: a fitting answer is taken, another refused."""
    schema = {
        "type": "object",
        "properties": {"rating": {"$ref": "#/$defs/rating"}},
        "$defs": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}},
    }
    request = await create(api, {"prompt": "Rate", "response_schema": schema})
    bad = await respond(api, request["id"], b'{"response": {"rating": 9}}')
    assert_error(bad, 422, "invalid_response", "response.rating")
    good = await respond(api, request["id"], b'{"response": {"rating": 4}}')
    assert good.status_code == 200, good.text


# 13. Patterns that backtrack


async def test_a_backtracking_pattern_answers_at_once(api: httpx.AsyncClient) -> None:
    """^(a+)+$ against 26 a's and a ! takes seconds with backtracking; RE2 is linear."""
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(a+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    request = await create(api, {"prompt": "Code?", "response_schema": schema})
    evil = "aaaaaaaaaaaaaaaaaaaaaaaaaa!"
    for answer, field in [({"code": evil}, "response.code"), ({evil: 1}, "response")]:
        started = time.perf_counter()
        response = await respond(api, request["id"], json.dumps({"response": answer}).encode())
        assert time.perf_counter() - started < 0.5
        assert_error(response, 422, "invalid_response", field)
    good = await respond(api, request["id"], b'{"response": {"code": "aaa", "aa": 2}}')
    assert good.status_code == 200, good.text


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=a)b", "(?<!a)b"])
async def test_a_pattern_re2_cannot_run_is_refused(api: httpx.AsyncClient, pattern: str) -> None:
    """Backreferences and lookarounds need backtracking: refused when created."""
    for schema in (
        {"type": "string", "pattern": pattern},
        {"type": "object", "patternProperties": {pattern: {}}},
    ):
        response = await api.post("/v1/requests", json={"prompt": "x", "response_schema": schema})
        assert "RE2" in assert_error(response, 422, "invalid_request", "response_schema")
    assert await stored(api) == []
