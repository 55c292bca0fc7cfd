"""The SDK against a fake server: what an agent's author sees."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import inloop
from inloop.client._sse import ServerSentEvent, SSEDecoder
from tests.unit.fakes import NOW, Handler, request_json, resolved


def client(handler: Handler, **kwargs: Any) -> inloop.Client:
    return inloop.Client(
        "http://inloop.test", "tok", transport=httpx.MockTransport(handler), **kwargs
    )


def error(status: int, code: str, message: str, field: str | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, "field": field}}
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, inloop.BadRequestError),
        (401, inloop.AuthenticationError),
        (403, inloop.PermissionDeniedError),
        (404, inloop.NotFoundError),
        (409, inloop.ConflictError),
        (422, inloop.InvalidError),
        (500, inloop.ServerError),
        (503, inloop.ServerError),
    ],
)
def test_error_status_maps_to_exception(status: int, exc: type[inloop.APIError]) -> None:
    """Each error status raises its own APIError subclass carrying code, message and field."""
    c = client(lambda r: error(status, "some_code", "what went wrong", "response.x"))
    with pytest.raises(exc) as info:
        c.get("req_1")
    assert (info.value.status_code, info.value.code) == (status, "some_code")
    assert info.value.field == "response.x"
    assert "what went wrong" in str(info.value)
    assert isinstance(info.value, inloop.InloopError)


def test_non_json_error_body_still_explains() -> None:
    """An HTML error page from a proxy gives the status and its reason, not a JSON error."""
    c = client(lambda r: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(inloop.ServerError) as info:
        c.get("req_1")
    assert info.value.code == "http_502"
    assert info.value.message == "Bad Gateway"


def test_unreachable_server_raises_transport_error() -> None:
    """A connection failure surfaces as TransportError naming the server, never as httpx's."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(inloop.TransportError, match=r"inloop\.test"):
        client(refuse).health()


def test_create_sends_given_fields_and_idempotency_key() -> None:
    """create sends only the fields given, the token, and the Idempotency-Key header."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=request_json())

    created = client(handler).create(
        "Deploy?",
        options=["approve", inloop.Option(value="reject", label="No")],
        priority=inloop.Priority.HIGH,
        idempotency_key="deploy-42",
    )
    assert created.id == "req_1"
    sent = seen[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/requests")
    assert sent.headers["Idempotency-Key"] == "deploy-42"
    assert sent.headers["Authorization"] == "Bearer tok"
    assert json.loads(sent.content) == {
        "prompt": "Deploy?",
        "options": ["approve", {"value": "reject", "label": "No", "description": None}],
        "priority": "high",
    }


class Refund(BaseModel):
    amount: int
    reason: str


def test_create_turns_a_model_class_into_its_schema() -> None:
    """A pydantic model class given as response_schema is sent as its JSON Schema."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json=request_json(kind="form", options=None))

    client(handler).create("Refund?", response_schema=Refund)
    assert bodies[0]["response_schema"] == Refund.model_json_schema()


def test_list_sends_filters_as_query_params() -> None:
    """list repeats multi-valued filters and leaves out the ones not given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [request_json()], "next_cursor": "c2"})

    page = client(handler).list(status=["pending", inloop.Status.ASSIGNED], q="deploy", limit=10)
    assert [r.id for r in page.items] == ["req_1"]
    assert page.next_cursor == "c2"
    params = seen[0].url.params
    assert params.get_list("status") == ["pending", "assigned"]
    assert (params["q"], params["limit"]) == ("deploy", "10")
    assert "kind" not in params


def test_iter_follows_cursors_to_the_end() -> None:
    """iter yields every request across pages and stops when next_cursor is null."""
    pages = {
        None: ({"items": [request_json(id="req_1")], "next_cursor": "c2"}),
        "c2": ({"items": [request_json(id="req_2")], "next_cursor": None}),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["kind"] == "approval"
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    assert [r.id for r in client(handler).iter(kind="approval")] == ["req_1", "req_2"]


def test_wait_repeats_long_polls_until_closed() -> None:
    """wait keeps long-polling (each at most `poll` seconds) until the request closes."""
    polls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        polls.append(request.url.params["timeout"])
        done = len(polls) == 3
        return httpx.Response(200, json=resolved("approve") if done else request_json())

    request = client(handler).wait("req_1", poll=20)
    assert request.status == inloop.Status.RESOLVED
    assert polls == ["20", "20", "20"]


def test_wait_with_timeout_returns_the_open_request_at_the_deadline() -> None:
    """With timeout, wait shortens the last poll and returns the still-open request."""
    clock = FakeClock()
    polls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seconds = int(request.url.params["timeout"])
        polls.append(seconds)
        clock.now += seconds
        return httpx.Response(200, json=request_json())

    c = client(handler)
    c.clock = clock
    request = c.wait("req_1", timeout=50, poll=30)
    assert request.is_open
    assert polls == [30, 20]


def test_wait_refuses_a_poll_out_of_range() -> None:
    """A poll of 0 or over 600 seconds is a UsageError, before any call."""
    c = client(lambda r: pytest.fail("no call expected"))
    with pytest.raises(inloop.UsageError):
        c.wait("req_1", poll=0)


def test_ask_returns_a_confirmation_as_bool() -> None:
    """ask creates, waits and returns the typed answer with its comment and responder."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=request_json(kind="confirmation", options=None))
        return httpx.Response(
            200, json=resolved(False, kind="confirmation", options=None, comment="not today")
        )

    answer = client(handler).ask("Sure?", kind="confirmation")
    assert answer.value is False
    assert not answer.approved
    assert (answer.comment, answer.responded_by) == ("not today", "user:alice")
    assert answer.resolution == inloop.Resolution.RESPONDED


def test_ask_parses_a_form_into_the_response_model() -> None:
    """With a pydantic response_model, ask sends its schema and returns a model instance."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            return httpx.Response(201, json=request_json(kind="form", options=None))
        return httpx.Response(
            200, json=resolved({"amount": 30, "reason": "late"}, kind="form", options=None)
        )

    answer = client(handler).ask("Refund?", response_model=Refund)
    assert answer.value == Refund(amount=30, reason="late")
    assert answer.approved
    assert bodies[0]["response_schema"] == Refund.model_json_schema()


def test_ask_raises_no_answer_when_cancelled() -> None:
    """A request closed without an answer raises NoAnswerError carrying the request."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=request_json())
        return httpx.Response(200, json=request_json(status="cancelled", resolution="cancelled"))

    with pytest.raises(inloop.NoAnswerError) as info:
        client(handler).ask("Deploy?")
    assert info.value.request.resolution == inloop.Resolution.CANCELLED


def test_ask_raises_wait_timeout_when_the_callers_deadline_passes() -> None:
    """timeout_wait passing with the request open raises WaitTimeoutError; nothing is cancelled."""
    clock = FakeClock()
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "POST":
            return httpx.Response(201, json=request_json())
        clock.now += int(request.url.params["timeout"])
        return httpx.Response(200, json=request_json())

    c = client(handler)
    c.clock = clock
    with pytest.raises(inloop.WaitTimeoutError) as info:
        c.ask("Deploy?", timeout_wait=5)
    assert info.value.request.is_open
    assert methods == ["POST", "GET"]


def test_sse_decoder_joins_data_lines_skips_comments_and_keeps_the_id() -> None:
    """The SSE decoder joins multi-line data, ignores comments, and remembers the last id."""
    decoder = SSEDecoder()
    lines = [
        ": keepalive",
        "id: 7",
        "event: created",
        'data: {"a":',
        "data: 1}",
        "",
        ": ping",
        "",
        "data:plain",
        "",
    ]
    messages = [m for line in lines if (m := decoder.feed(line))]
    assert messages == [
        ServerSentEvent(event="created", data='{"a":\n1}', id="7"),
        ServerSentEvent(event="message", data="plain", id="7"),
    ]


def test_stream_events_yields_event_request_pairs() -> None:
    """stream_events parses each message into (Event, Request) and sends Last-Event-ID."""
    seen: list[httpx.Request] = []
    event = {"id": 8, "request_id": "req_1", "type": "responded", "actor": "user:alice", "at": NOW}
    data = json.dumps({"event": event, "request": resolved("approve")})
    stream = f": hello\n\nid: 8\nevent: responded\ndata: {data}\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    pairs = list(client(handler).stream_events(request_id="req_1", last_event_id="7"))
    assert [(e.id, e.type, r.response) for e, r in pairs] == [(8, "responded", "approve")]
    assert seen[0].headers["Last-Event-ID"] == "7"
    assert seen[0].url.params["request_id"] == "req_1"


def test_identity_calls_hit_their_routes() -> None:
    """Admin methods call the documented routes and return typed identities."""
    user = {"id": "u1", "handle": "alice", "name": "Alice", "roles": ["ops"], "created_at": NOW}
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.raw_path.decode()))
        return httpx.Response(200, json=user)

    c = client(handler)
    assert c.grant_role("alice", "ops").roles == ["ops"]
    c.update_user("a@b", disabled=True)
    assert seen == [("PUT", "/v1/users/alice/roles/ops"), ("PATCH", "/v1/users/a%40b")]


def test_environment_supplies_url_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without arguments the client reads INLOOP_URL and INLOOP_TOKEN."""
    monkeypatch.setenv("INLOOP_URL", "https://hitl.example/")
    monkeypatch.setenv("INLOOP_TOKEN", "secret")
    c = inloop.Client()
    assert (c.base_url, c.token) == ("https://hitl.example", "secret")
    c.close()


async def test_async_client_asks_and_maps_errors() -> None:
    """AsyncClient answers like Client: typed answers and the same exceptions."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/requests/missing":
            return error(404, "not_found", "no request missing")
        if request.method == "POST":
            return httpx.Response(201, json=request_json())
        return httpx.Response(200, json=resolved("approve"))

    async with inloop.AsyncClient(
        "http://inloop.test", transport=httpx.MockTransport(handler)
    ) as c:
        answer = await c.ask("Deploy?")
        assert (answer.value, answer.approved) == ("approve", True)
        with pytest.raises(inloop.NotFoundError):
            await c.get("missing")


def test_cli_imports_no_server_code() -> None:
    """Importing the CLI loads no server code until `serve` or `db` runs."""
    code = (
        "import sys, inloop.cli; "
        "bad = {'fastapi', 'sqlalchemy', 'starlette', 'alembic', 'uvicorn', 'jsonschema',"
        " 'inloop.server'}; print(sorted(bad & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
