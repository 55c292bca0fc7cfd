"""Server answers as JSON, for the SDK and CLI tests that fake the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

NOW = "2026-01-01T12:00:00Z"
Handler = Callable[[httpx.Request], httpx.Response]


def request_json(**overrides: Any) -> dict[str, Any]:
    """A request as the server returns it."""
    body: dict[str, Any] = {
        "id": "req_1",
        "kind": "approval",
        "status": "pending",
        "title": "Deploy?",
        "prompt": "Deploy?",
        "options": [{"value": "approve"}, {"value": "reject"}],
        "priority": "medium",
        "created_by": "key:ak_1",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return body | overrides


def resolved(response: Any, **overrides: Any) -> dict[str, Any]:
    return request_json(
        status="resolved",
        resolution="responded",
        response=response,
        resolved_by="user:alice",
        resolved_at=NOW,
        **overrides,
    )


def user_json(**overrides: Any) -> dict[str, Any]:
    """A user as the server returns it, with presence and capacity."""
    body: dict[str, Any] = {
        "id": "usr_1",
        "handle": "alice",
        "name": "Alice",
        "roles": ["ops"],
        "created_at": NOW,
        "presence": "online",
        "capacity": 5,
        "last_active_at": NOW,
        "open_assigned": 2,
    }
    return body | overrides


#: A vote; ``stage`` is what the domain names the approval level, ``level`` what routing.md does.
VOTE = {
    "actor": "user:a",
    "stage": 0,
    "level": 0,
    "response": "approve",
    "comment": None,
    "at": NOW,
}


def routed(**overrides: Any) -> dict[str, Any]:
    """A request with the routing fields: candidates, assignee, level, votes."""
    fields: dict[str, Any] = {
        "assignee": "role:ops",
        "candidates": ["role:ops"],
        "assigned_to": "alice",
        "assigned_at": NOW,
        "level": 0,
        "reminders": 0,
        "votes": [],
    }
    return request_json(**(fields | overrides))
