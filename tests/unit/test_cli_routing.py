"""The routing commands against a fake server: claim, hand on, escalate, presence, capacity."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.unit.fakes import VOTE, Handler, request_json, routed, user_json
from tests.unit.test_cli import run


def answer(body: dict[str, Any], status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def refuse(status: int, code: str, message: str) -> Handler:
    return answer({"error": {"code": code, "message": message, "field": None}}, status)


def sent(server: Any) -> list[tuple[str, str, Any]]:
    """(method, raw path, JSON body or None) of each call the fake server got."""
    return [
        (c.method, c.url.raw_path.decode(), json.loads(c.content) if c.content else None)
        for c in server.calls
    ]


def test_claim_posts_and_says_who_holds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests claim posts to /claim with no body and prints the new assignee."""
    result, server = run(monkeypatch, answer(routed()), "requests", "claim", "req_1")
    assert result.exit_code == 0, result.output
    assert "Claimed req_1: assigned to alice" in result.stdout
    assert sent(server) == [("POST", "/v1/requests/req_1/claim", None)]


def test_claim_held_by_another_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 409 assigned_to_another prints its code on stderr and exits 1."""
    handler = refuse(409, "assigned_to_another", "req_1 is assigned to bob")
    result, _ = run(monkeypatch, handler, "requests", "claim", "req_1")
    assert (result.exit_code, result.stdout) == (1, "")
    assert "assigned_to_another: req_1 is assigned to bob" in result.stderr


def test_claim_by_a_non_candidate_exits_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 forbidden exits 4, like every refused credential."""
    handler = refuse(403, "forbidden", "you are not a candidate")
    result, _ = run(monkeypatch, handler, "requests", "claim", "req_1")
    assert result.exit_code == 4
    assert "forbidden: you are not a candidate" in result.stderr


def test_release_sends_the_reason_and_names_the_candidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests release --reason sends it and prints who may claim the request now."""
    released = routed(assigned_to=None, assigned_at=None, candidates=["role:ops", "*"])
    result, server = run(
        monkeypatch, answer(released), "requests", "release", "req_1", "--reason", "on leave"
    )
    assert result.exit_code == 0, result.output
    assert "Released req_1: pending for role:ops, any responder" in result.stdout
    assert sent(server) == [("POST", "/v1/requests/req_1/release", {"reason": "on leave"})]


def test_reassign_sends_the_target_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests reassign ID TO --reason posts {"to", "reason"} and prints the new assignee."""
    result, server = run(
        monkeypatch, answer(routed(assigned_to="bob", candidates=["user:bob"])),
        "requests", "reassign", "req_1", "user:bob", "--reason", "bob owns billing",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Reassigned req_1: assigned to bob" in result.stdout
    assert sent(server) == [
        ("POST", "/v1/requests/req_1/reassign", {"to": "user:bob", "reason": "bob owns billing"})
    ]


def test_reassign_by_a_non_assignee_exits_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the assignee or an admin may reassign: a 403 exits 4."""
    handler = refuse(403, "forbidden", "only the assignee or an admin may reassign")
    result, _ = run(monkeypatch, handler, "requests", "reassign", "req_1", "role:x")
    assert result.exit_code == 4
    assert "forbidden" in result.stderr


def test_escalate_posts_and_prints_the_new_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests escalate sends an empty body without --reason and names the new candidates."""
    escalated = routed(assigned_to=None, candidates=["role:admin"], level=1)
    result, server = run(monkeypatch, answer(escalated), "requests", "escalate", "req_1")
    assert result.exit_code == 0, result.output
    assert "Escalated req_1: pending for role:admin" in result.stdout
    assert sent(server) == [("POST", "/v1/requests/req_1/escalate", {})]


def test_escalate_a_closed_request_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 409 request_closed on escalate exits 1 with the code."""
    handler = refuse(409, "request_closed", "req_1 is resolved")
    result, _ = run(monkeypatch, handler, "requests", "escalate", "req_1", "--reason", "late")
    assert result.exit_code == 1
    assert "request_closed" in result.stderr


def test_ls_shows_who_each_request_is_assigned_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests ls has an "Assigned to" column with the assignee's handle."""
    page = {"items": [routed(assigned_to="carol")], "next_cursor": None}
    result, _ = run(monkeypatch, answer(page), "requests", "ls")
    assert result.exit_code == 0, result.output
    assert "Assigned to" in result.stdout
    assert "carol" in result.stdout


def test_show_prints_routing_fields_and_votes(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests show prints candidates, assignee, a reached level and a votes table."""
    vote = VOTE | {"actor": "user:dave", "comment": "fine by me"}
    request = routed(candidates=["role:l1_approver"], assigned_to="erin", level=1, votes=[vote])

    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.path.endswith("/events"):
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json=request)

    result, _ = run(monkeypatch, handler, "requests", "show", "req_1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split() == ["candidates", "role:l1_approver"] for line in lines)
    assert any(line.split() == ["assigned", "to", "erin"] for line in lines)
    assert any(line.split() == ["level", "1"] for line in lines)
    assert "Votes" in result.stdout
    assert "user:dave" in result.stdout
    assert "fine by me" in result.stdout


def test_show_of_a_plain_request_has_no_votes_or_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without votes, an assignee or an escalation, show adds no routing noise."""

    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.path.endswith("/events"):
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json=request_json())

    result, _ = run(monkeypatch, handler, "requests", "show", "req_1")
    assert result.exit_code == 0, result.output
    assert "Votes" not in result.stdout
    assert not any(line.split()[:1] == ["level"] for line in result.stdout.splitlines())


def test_show_json_keeps_the_routing_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests show --json prints the routing fields the server sent."""

    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.path.endswith("/events"):
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json=routed(votes=[VOTE]))

    result, _ = run(monkeypatch, handler, "requests", "show", "req_1", "--json")
    shown = json.loads(result.stdout)["request"]
    assert (shown["candidates"], shown["assigned_to"]) == (["role:ops"], "alice")
    assert shown["votes"][0]["actor"] == "user:a"


def test_presence_sets_your_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """inloop presence away PUTs to /v1/me/presence and confirms."""
    result, server = run(monkeypatch, answer(user_json(presence="away")), "presence", "away")
    assert result.exit_code == 0, result.output
    assert "alice is away" in result.stdout
    assert sent(server) == [("PUT", "/v1/me/presence", {"presence": "away"})]


def test_presence_for_another_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """--user sets that user's presence through /v1/users/{handle}/presence."""
    body = user_json(handle="bob", presence="offline")
    result, server = run(monkeypatch, answer(body), "presence", "offline", "--user", "bob")
    assert result.exit_code == 0, result.output
    assert "bob is offline" in result.stdout
    assert sent(server) == [("PUT", "/v1/users/bob/presence", {"presence": "offline"})]


def test_presence_of_another_without_admin_exits_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting someone else's presence without the admin scope is a 403: exit 4."""
    handler = refuse(403, "forbidden", "needs the admin scope")
    result, _ = run(monkeypatch, handler, "presence", "online", "--user", "bob")
    assert result.exit_code == 4
    assert "forbidden: needs the admin scope" in result.stderr


def test_unknown_presence_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A presence other than online, away or offline exits 2 without calling the server."""
    result, server = run(monkeypatch, answer(user_json()), "presence", "busy")
    assert result.exit_code == 2
    assert server.calls == []


@pytest.mark.parametrize(
    ("options", "body"),
    [
        (["--capacity", "3"], {"capacity": 3}),
        (["--unlimited"], {"capacity": None}),
        (["--name", "Al"], {"name": "Al"}),
    ],
)
def test_users_update_sets_or_clears_the_capacity(
    monkeypatch: pytest.MonkeyPatch, options: list[str], body: dict[str, Any]
) -> None:
    """--capacity N sends it, --unlimited sends null, and neither leaves it out."""
    result, server = run(monkeypatch, answer(user_json()), "users", "update", "alice", *options)
    assert result.exit_code == 0, result.output
    assert sent(server) == [("PATCH", "/v1/users/alice", body)]


def test_users_update_refuses_capacity_with_unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    """--capacity and --unlimited together exit 2 before any call."""
    result, server = run(
        monkeypatch, answer(user_json()), "users", "update", "alice", "--capacity", "2",
        "--unlimited",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr
    assert server.calls == []


def test_users_ls_shows_presence_and_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """users ls shows each user's presence and open assigned requests over their capacity."""
    items = [
        user_json(),
        user_json(handle="bob", presence="offline", capacity=None, open_assigned=0),
    ]
    result, _ = run(monkeypatch, answer({"items": items}), "users", "ls")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "online" in rows["alice"]
    assert "2/5" in rows["alice"]
    assert "offline" in rows["bob"]
    assert "0/unlimited" in rows["bob"]


def test_requests_ls_filters_by_assignee_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    """`requests ls --assigned-to ann` sends the assigned_to filter."""
    result, server = run(
        monkeypatch,
        answer({"items": [], "next_cursor": None}),
        "requests",
        "ls",
        "--assigned-to",
        "ann",
    )
    assert result.exit_code == 0, result.output
    assert server.calls[0].url.params["assigned_to"] == "ann"
