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
