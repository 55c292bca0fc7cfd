"""What ``inloop.guard`` returns, and the errors it raises: small tagged types.

Ran        the action ran (automatically, or once approved/confirmed): ``result``
Pending    waiting on the end user (confirm, mfa) or an approver: ``message`` says so
Escalated  a human takes over: ``ticket``
Refused    it will not run: declined, rejected, expired, too many wrong codes

InloopError
├── ActionTamperedError      the action about to run is not the one approved
├── InvalidEditError         the approver's edit is not an action this tool can run
├── StrategyUnavailableError the server has no calls for this strategy
├── NeedsConfirmationError   (@guarded) the end user must confirm first: ``pending``
├── EscalatedError           (@guarded) a human took over: ``escalated``
└── ActionRefusedError       (@guarded) declined, rejected or expired: ``refused``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from inloop.domain.tickets import Ticket
from inloop.errors import InloopError
from inloop.policies.actions import Action
from inloop.policies.engine import Decision

__all__ = [
    "ActionRefusedError",
    "ActionTamperedError",
    "Escalated",
    "EscalatedError",
    "InvalidEditError",
    "NeedsConfirmationError",
    "Outcome",
    "Pending",
    "Ran",
    "Refused",
]


@dataclass(frozen=True)
class Ran:
    """The action ran; ``action`` is exactly what ran (the approved, maybe edited, one)."""

    action: Action
    decision: Decision
    result: Any
    approved_by: str | None = None
    request_id: str | None = None
    status: Literal["ran"] = "ran"

    @property
    def message(self) -> str:
        return str(self.result)


@dataclass(frozen=True)
class Pending:
    """Nothing ran yet: the end user must confirm (``confirm``, ``mfa``) or an approver
    decide (``approve``). ``id`` is the confirmation's or the approval request's."""

    action: Action
    decision: Decision
    strategy: Literal["confirm", "mfa", "approve"]
    id: str
    message: str
    attempts_left: int | None = None
    status: Literal["pending"] = "pending"


@dataclass(frozen=True)
class Escalated:
    """The action did not run: a handoff ticket was opened for a human."""

    action: Action
    decision: Decision
    ticket: Ticket
    message: str
    status: Literal["escalated"] = "escalated"


@dataclass(frozen=True)
class Refused:
    """The action will not run; ``reason`` says why (declined, rejected, expired, ...)."""

    action: Action
    decision: Decision
    reason: str
    message: str
    status: Literal["refused"] = "refused"


Outcome = Ran | Pending | Escalated | Refused


class ActionTamperedError(InloopError):
    """The action about to run differs from the one that was approved or confirmed."""

    def __init__(self, expected: str, found: str, where: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            f"refused to run: {where} holds an action with digest {found[:16]}..., "
            f"but the approved one has {expected[:16]}..."
        )


class InvalidEditError(InloopError):
    """The approver's edited payload is not a valid action of the same tool."""

    def __init__(self, request_id: str, problem: str) -> None:
        self.request_id = request_id
        self.problem = problem
        super().__init__(f"the edited action of {request_id} cannot run: {problem}")


class NeedsConfirmationError(InloopError):
    """Raised by a ``@guarded`` tool whose call the end user must confirm first.

    The pending action is in the session's state: tell the user ``pending.message`` and
    pass their reply to ``inloop.resume`` in the next turn; it runs the tool then.
    """

    def __init__(self, pending: Pending) -> None:
        self.pending = pending
        super().__init__(pending.message)


class EscalatedError(InloopError):
    """Raised by a ``@guarded`` tool whose call a human took over (``escalated.ticket``)."""

    def __init__(self, escalated: Escalated) -> None:
        self.escalated = escalated
        super().__init__(escalated.message)


class ActionRefusedError(InloopError):
    """Raised by a ``@guarded`` tool whose call was rejected, declined or expired."""

    def __init__(self, refused: Refused) -> None:
        self.refused = refused
        super().__init__(f"{refused.action.tool} did not run: {refused.reason}")
