"""Functions the tests' workflows call (``function`` nodes)."""

from __future__ import annotations

from typing import Any

CALLS: list[dict[str, Any]] = []


def declined(variables: dict[str, Any]) -> None:
    raise ValueError(f"card declined for {variables['amount']}")


def count(variables: dict[str, Any]) -> dict[str, Any]:
    """Records each call: a side effect whose repetitions a test can count."""
    CALLS.append(dict(variables))
    return {"counted": len(CALLS)}


async def add(a: int, b: int, idempotency_key: str) -> dict[str, Any]:
    return {"sum": a + b, "key": idempotency_key}
