"""Risk policies: decisions per second for the default rules, in this process.

``policy_eval``: ``default_policy().decide(action)`` over a fixed mix of six actions (one
per row of seed 004's table: informational, booking, refund with an amount, deletion,
personal data, low confidence), each a fresh Action so nothing is cached between calls.
Reported: decisions/s, wall and CPU µs per decision (CPU time is less sensitive to a
loaded machine), without and with ``explain=True`` (which adds what every rule said).
"""

from __future__ import annotations

import time

from benchmarks._report import Metric, Target
from inloop.policies import Action, default_policy

RATE_TARGET = Target(">=", 10_000)  # decisions/s, default rules, no explanation

MIX: list[dict[str, object]] = [
    {"tool": "get_weather", "arguments": {"city": "Oslo"}, "text": "What's the weather?"},
    {
        "tool": "book_flight",
        "arguments": {"to": "NYC", "on": "2026-12-24"},
        "text": "Book a flight to NYC",
    },
    {"tool": "refund_order", "arguments": {"order": "A-17", "amount": 250}, "text": "Refund me"},
    {"tool": "delete_user_data", "arguments": {"scope": "all"}, "text": "Delete all my data"},
    {"tool": "update_profile", "arguments": {"customer": {"ssn": "000-00-0000"}}},
    {"tool": "answer", "text": "The capital of Australia is Sydney", "confidence": 0.55},
]


def policy_eval(backend: str, *, calls: int) -> list[Metric]:
    policy = default_policy()
    metrics: list[Metric] = []
    for explain in (False, True):
        for warm in range(200):
            policy.decide(Action.model_validate(MIX[warm % len(MIX)]), explain=explain)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(calls):
            policy.decide(Action.model_validate(MIX[i % len(MIX)]), explain=explain)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        suffix = " (explain)" if explain else ""
        metrics += [
            Metric(
                "policy_eval",
                backend,
                f"decisions/s{suffix}",
                calls / seconds,
                "/s",
                None if explain else RATE_TARGET,
                note=f"{len(policy.rules)} default rules, {calls} decisions, a new Action each",
            ),
            Metric("policy_eval", backend, f"per decision{suffix}", seconds / calls * 1e6, "µs"),
            Metric(
                "policy_eval", backend, f"CPU per decision{suffix}", cpu_seconds / calls * 1e6, "µs"
            ),
        ]
    return metrics
