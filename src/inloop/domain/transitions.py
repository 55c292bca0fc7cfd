"""The one transition table of the request lifecycle.

The store enforces the same table a second time: every status write is
``UPDATE ... WHERE id = :id AND status IN (allowed_from(action))``, so a lost race
changes nothing instead of writing twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from inloop.domain.enums import Resolution, Status
from inloop.domain.errors import ConflictError

_OPEN = frozenset({Status.PENDING, Status.ASSIGNED})


class Action(StrEnum):
    ASSIGN = "assign"
    RELEASE = "release"
    ESCALATE = "escalate"
    RESPOND = "respond"
    AUTO_APPROVE = "auto_approve"
    AUTO_REJECT = "auto_reject"
    TIME_OUT = "time_out"
    CANCEL = "cancel"
    TRANSFER = "transfer"


class Transition(NamedTuple):
    allowed_from: frozenset[Status]
    to: Status
    resolution: Resolution | None


TRANSITIONS: dict[Action, Transition] = {
    Action.ASSIGN: Transition(_OPEN, Status.ASSIGNED, None),
    Action.RELEASE: Transition(frozenset({Status.ASSIGNED}), Status.PENDING, None),
    Action.ESCALATE: Transition(_OPEN, Status.PENDING, None),
    Action.RESPOND: Transition(_OPEN, Status.RESOLVED, Resolution.RESPONDED),
    Action.AUTO_APPROVE: Transition(_OPEN, Status.RESOLVED, Resolution.AUTO_APPROVED),
    Action.AUTO_REJECT: Transition(_OPEN, Status.RESOLVED, Resolution.AUTO_REJECTED),
    Action.TIME_OUT: Transition(_OPEN, Status.RESOLVED, Resolution.TIMED_OUT),
    Action.CANCEL: Transition(_OPEN, Status.CANCELLED, Resolution.CANCELLED),
    Action.TRANSFER: Transition(_OPEN, Status.TRANSFERRED, Resolution.TRANSFERRED),
}


def transition(current: Status, action: Action) -> Transition:
    """The transition ``action`` makes from ``current``, or a ConflictError saying why not."""
    rule = TRANSITIONS[action]
    if current not in rule.allowed_from:
        raise ConflictError(
            f"the request is {current.value}, so it cannot be {_PAST[action]}",
            code="request_closed" if not current.is_open else "invalid_transition",
        )
    return rule


_PAST = {
    Action.ASSIGN: "assigned",
    Action.RELEASE: "released",
    Action.ESCALATE: "escalated",
    Action.RESPOND: "answered",
    Action.AUTO_APPROVE: "approved automatically",
    Action.AUTO_REJECT: "rejected automatically",
    Action.TIME_OUT: "timed out",
    Action.CANCEL: "cancelled",
    Action.TRANSFER: "transferred",
}
