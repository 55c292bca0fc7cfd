"""Functions the example workflows call (``function`` nodes name them ``module:function``;
the CLI finds this module because it sits beside the workflow files)."""

from __future__ import annotations

from typing import Any


def score_risk(variables: dict[str, Any]) -> dict[str, Any]:
    """A stand-in risk model: larger amounts and new customers score higher (0 to 1)."""
    amount = float(variables.get("amount") or 0)
    customer = variables.get("customer") or {}
    new_customer = 0.6 if customer.get("months", 0) < 3 else 0.0
    return {"risk_score": round(min(1.0, amount / 50_000 + new_customer), 2)}


def record_decision(request_id: str, decision: str, idempotency_key: str) -> dict[str, Any]:
    """Where a real workflow would write to its system of record (idempotently)."""
    return {
        "recorded": True,
        "request_id": request_id,
        "decision": decision,
        "key": idempotency_key,
    }
