"""The SDK's routing calls against a fake server: claim, hand on, escalate, presence, capacity."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import inloop
from tests.unit.fakes import NOW, VOTE, Handler, request_json, routed, user_json


class Recorder:
    """A fake server that answers every call with one body and keeps what it was sent."""

    def __init__(self, body: dict[str, Any], status: int = 200) -> None:
        self.body = body
        self.status = status
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def sent(self) -> list[tuple[str, str, Any]]:
        """(method, raw path, JSON body or None) of each call."""
        return [
            (r.method, r.url.raw_path.decode(), json.loads(r.content) if r.content else None)
            for r in self.seen
        ]


def client(handler: Handler) -> inloop.Client:
    return inloop.Client("http://inloop.test", "tok", transport=httpx.MockTransport(handler))


def refusal(status: int, code: str) -> Recorder:
    return Recorder({"error": {"code": code, "message": "no", "field": None}}, status)


def test_claim_release_reassign_escalate_send_their_routes_and_bodies() -> None:
    """Each call posts to its route, sends only the given fields, and returns the request."""
    server = Recorder(routed())
    c = client(server)
    assert c.claim("req_1").id == "req_1"
    c.release("req_1")
    c.release("req_1", reason="out sick")
    c.reassign("req_1", "user:bob", reason="bob knows")
    c.reassign("req/2", "team:support")
    c.escalate("req_1")
    c.escalate("req_1", reason="urgent")
    assert server.sent == [
        ("POST", "/v1/requests/req_1/claim", None),
        ("POST", "/v1/requests/req_1/release", {}),
        ("POST", "/v1/requests/req_1/release", {"reason": "out sick"}),
        ("POST", "/v1/requests/req_1/reassign", {"to": "user:bob", "reason": "bob knows"}),
        ("POST", "/v1/requests/req%2F2/reassign", {"to": "team:support"}),
        ("POST", "/v1/requests/req_1/escalate", {}),
        ("POST", "/v1/requests/req_1/escalate", {"reason": "urgent"}),
    ]


def test_claim_held_by_another_raises_conflict_with_its_code() -> None:
    """A 409 assigned_to_another raises ConflictError carrying that code."""
    with pytest.raises(inloop.ConflictError) as info:
        client(refusal(409, "assigned_to_another")).claim("req_1")
    assert info.value.code == "assigned_to_another"


def test_escalate_by_a_non_assignee_raises_permission_denied() -> None:
    """A 403 forbidden raises PermissionDeniedError."""
    with pytest.raises(inloop.PermissionDeniedError) as info:
        client(refusal(403, "forbidden")).escalate("req_1")
    assert info.value.code == "forbidden"


def test_routing_fields_are_read_and_unknown_fields_are_kept() -> None:
    """The routing fields are read, and a field the models do not name yet is kept."""
    request = client(Recorder(routed(votes=[VOTE], level=1))).claim("req_1")
    assert (request.candidates, request.assigned_to, request.level) == (["role:ops"], "alice", 1)
    assert [v["actor"] if isinstance(v, dict) else v.actor for v in request.votes] == ["user:a"]
    unknown = client(Recorder(routed(sla_tier="gold"))).get("req_1")
    assert (unknown.model_extra or {})["sla_tier"] == "gold"


def test_set_presence_puts_to_me_or_to_a_user() -> None:
    """set_presence PUTs {"presence"} to /v1/me/presence, or with user= to that user's route."""
    server = Recorder(user_json(presence="away"))
    c = client(server)
    me = c.set_presence("away")
    c.set_presence("offline", user="a@b")
    assert me.presence == "away"
    assert server.sent == [
        ("PUT", "/v1/me/presence", {"presence": "away"}),
        ("PUT", "/v1/users/a%40b/presence", {"presence": "offline"}),
    ]


def test_update_user_tells_an_unset_capacity_from_unlimited() -> None:
    """capacity left out is not sent, capacity=None sends null (unlimited), a number is sent."""
    server = Recorder(user_json())
    c = client(server)
    c.update_user("alice", name="Al")
    c.update_user("alice", capacity=None)
    c.update_user("alice", capacity=3)
    assert [body for _, _, body in server.sent] == [
        {"name": "Al"},
        {"capacity": None},
        {"capacity": 3},
    ]


def test_create_and_ask_pass_approvals_quorum_and_assignment_through() -> None:
    """Multi-level approvals, a quorum and an assignment timeout reach the server as given."""
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            return httpx.Response(201, json=request_json())
        return httpx.Response(200, json=request_json(status="resolved", resolution="responded",
                                                     response="approve", resolved_at=NOW))  # fmt: skip

    levels = [{"assignee": "role:l1", "timeout": "8h"}, {"assignee": "role:l2", "timeout": "24h"}]
    quorum = {"quorum": 2, "of": ["user:a", "user:b"], "veto": True}
    assignment = {"timeout": "60s", "action": "transfer", "to": "team:live"}
    c = client(handler)
    c.create("Pay?", kind="approval", approvals=levels, assignment=assignment)
    assert c.ask("Pay?", kind="approval", quorum=quorum).value == "approve"
    assert bodies == [
        {"prompt": "Pay?", "kind": "approval", "approvals": levels, "assignment": assignment},
        {"prompt": "Pay?", "kind": "approval", "quorum": quorum},
    ]


async def test_async_client_has_the_same_routing_calls() -> None:
    """AsyncClient's claim, release, reassign, escalate, set_presence and capacity match Client's."""
    server = Recorder(routed())
    users = Recorder(user_json())
    transport = httpx.MockTransport(lambda r: (users if "/users/" in r.url.path
                                               or "/me/" in r.url.path else server)(r))  # fmt: skip
    async with inloop.AsyncClient("http://inloop.test", "tok", transport=transport) as c:
        assert (await c.claim("req_1")).id == "req_1"
        await c.release("req_1", reason="r")
        await c.reassign("req_1", "role:x")
        await c.escalate("req_1")
        await c.set_presence("online")
        await c.set_presence("away", user="bob")
        await c.update_user("bob", capacity=None)
        await c.update_user("bob", disabled=True)
    assert server.sent == [
        ("POST", "/v1/requests/req_1/claim", None),
        ("POST", "/v1/requests/req_1/release", {"reason": "r"}),
        ("POST", "/v1/requests/req_1/reassign", {"to": "role:x"}),
        ("POST", "/v1/requests/req_1/escalate", {}),
    ]
    assert users.sent == [
        ("PUT", "/v1/me/presence", {"presence": "online"}),
        ("PUT", "/v1/users/bob/presence", {"presence": "away"}),
        ("PATCH", "/v1/users/bob", {"capacity": None}),
        ("PATCH", "/v1/users/bob", {"disabled": True}),
    ]


def test_stream_events_keep_the_routing_fields() -> None:
    """A streamed request keeps fields the models do not name yet, like assigned_to."""
    event = {"id": 9, "request_id": "req_1", "type": "created", "actor": "user:alice", "at": NOW}
    data = json.dumps({"event": event, "request": routed()})
    stream = f"id: 9\nevent: created\ndata: {data}\n\n"
    c = client(lambda r: httpx.Response(200, text=stream,
                                        headers={"content-type": "text/event-stream"}))  # fmt: skip
    [(_, request)] = list(c.stream_events(request_id="req_1"))
    assert request.assigned_to == "alice"
