"""What @require_approval does with each way a request can close (pure: no server)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

import inloop
from inloop.imperative._approval import _Gate
from inloop.models import Kind, Request, Resolution, Status

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def pay(to: str, amount: int, *, memo: str = "") -> None:
    """Pay someone."""


def closed(resolution: Resolution, response: Any = None, **fields: Any) -> Request:
    return Request(
        id="req_1",
        kind=Kind.APPROVAL,
        status=Status.CANCELLED if resolution == Resolution.CANCELLED else Status.RESOLVED,
        resolution=resolution,
        title="Approve pay?",
        prompt="...",
        priority="medium",
        created_by="agent",
        created_at=NOW,
        updated_at=NOW,
        response=response,
        resolved_by=fields.pop("resolved_by", "policy"),
        **fields,
    )


def decide(request: Request) -> tuple[tuple[Any, ...], dict[str, Any]]:
    gate = _Gate(pay, None, {})
    return gate.decide(gate.bind(("bob", 5), {}), request)


def test_auto_approved_runs_the_call_as_made() -> None:
    assert decide(closed(Resolution.AUTO_APPROVED, "approve")) == (("bob", 5), {"memo": ""})


@pytest.mark.parametrize(
    ("resolution", "response", "reason"),
    [
        (Resolution.AUTO_REJECTED, "reject", "auto_rejected"),
        (Resolution.TIMED_OUT, None, "timed_out"),
        (Resolution.CANCELLED, None, "cancelled"),
        (Resolution.TRANSFERRED, None, "transferred"),
        (Resolution.RESPONDED, "escalate", "answered 'escalate'"),
    ],
)
def test_every_other_ending_is_a_denial_saying_how(
    resolution: Resolution, response: Any, reason: str
) -> None:
    with pytest.raises(inloop.ApprovalDenied) as denied:
        decide(closed(resolution, response))
    assert denied.value.reason == reason
    assert denied.value.function == "pay"


def test_an_edit_may_not_name_another_function() -> None:
    edited = {"function": "drain_account", "arguments": {"to": "eve", "amount": 5}}
    with pytest.raises(inloop.EditError, match="another function, 'drain_account'"):
        decide(closed(Resolution.RESPONDED, "modify", edited=edited, resolved_by="user:ann"))


def test_keyword_only_and_defaults_survive_an_edit() -> None:
    edited = {"function": "pay", "arguments": {"to": "bob", "amount": "7", "memo": "rent"}}
    request = closed(Resolution.RESPONDED, "modify", edited=edited, resolved_by="user:ann")
    args, kwargs = decide(request)
    assert inspect.signature(pay).bind(*args, **kwargs).arguments == {
        "to": "bob",
        "amount": 7,
        "memo": "rent",
    }


def test_a_modify_without_an_edit_is_a_denial() -> None:
    """A modify vote of a multi-level approval carries no edit: nothing to run."""
    with pytest.raises(inloop.ApprovalDenied):
        decide(closed(Resolution.RESPONDED, "modify", resolved_by="user:ann"))


def test_only_approvals_and_confirmations_can_guard_a_call() -> None:
    with pytest.raises(inloop.UsageError, match="not a choice"):
        inloop.require_approval(kind="choice")


def test_a_method_shows_its_arguments_without_self() -> None:
    class Bank:
        def pay(self, to: str, amount: int) -> None: ...

    gate = _Gate(Bank.pay, "k", {})
    call = gate.bind((Bank(), "bob", 5), {})
    fields = gate.create_fields(call)
    assert gate.name == "Bank.pay"
    assert fields["payload"] == {"function": "Bank.pay", "arguments": {"to": "bob", "amount": 5}}
    assert fields["idempotency_key"].startswith("k:Bank.pay:")
    assert (
        gate.create_fields(gate.bind((Bank(), "bob", 5), {}))["idempotency_key"]
        == (
            fields["idempotency_key"]  # another instance, the same call: the same key
        )
    )


def test_the_bare_decorator_keeps_the_function_s_name_and_signature() -> None:
    @inloop.require_approval
    def wire(to: str, amount: int) -> None:
        """Wire money."""

    assert wire.__name__ == "wire" and wire.__doc__ == "Wire money."
    assert list(inspect.signature(wire).parameters) == ["to", "amount"]
