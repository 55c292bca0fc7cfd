"""Shapes of the fields an agent sets on a request: options, assignee, escalation, display.

Assignee and escalation are stored as given; these models check only their shape, so a
typo is refused when the request is created rather than when a timer fires.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from inloop.domain.durations import parse_duration

REF = re.compile(r"(user|role|team):[A-Za-z0-9_.@+-]{1,100}")


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_ref(value: str) -> str:
    if not REF.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an assignee: use user:<handle>, role:<name> or team:<name>"
        )
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
AssigneeRef = Annotated[str, AfterValidator(_check_ref)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    """One answer a human may pick. ``value`` is what the agent receives."""

    value: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class Transfer(_Strict):
    transfer: AssigneeRef


Fallback = Literal["queue", "escalate"] | Transfer


class AssigneeStrategy(_Strict):
    strategy: Literal["round_robin", "least_busy"]
    pool: AssigneeRef | list[AssigneeRef] = Field(min_length=1)
    fallback: Fallback | None = Field(
        default=None, description="When nobody in the pool can take it; server default: queue."
    )

    @property
    def refs(self) -> list[str]:
        return [self.pool] if isinstance(self.pool, str) else list(self.pool)


def _shape(value: Any) -> str:
    # Unions are told apart by the JSON type, so an error speaks of the intended shape
    # rather than listing every alternative. Tags are capitalised: not field names.
    if isinstance(value, dict | BaseModel):
        return "Object"
    return "List" if isinstance(value, list) else "Text"


Assignee = Annotated[
    Annotated[AssigneeRef, Tag("Text")]
    | Annotated[list[AssigneeRef], Field(min_length=1), Tag("List")]
    | Annotated[AssigneeStrategy, Tag("Object")],
    Discriminator(_shape),
]

EscalationAction = Literal["auto_approve", "auto_reject", "escalate", "retry", "queue"]
FinalAction = Literal["auto_approve", "auto_reject", "queue", "cancel"]


class EscalationLevel(_Strict):
    to: Assignee
    timeout: Duration


class EscalationPolicy(_Strict):
    """What happens when a request times out: one action, or a chain of levels."""

    action: EscalationAction
    to: Assignee | None = None
    timeout: Duration | None = None
    levels: list[EscalationLevel] | None = Field(default=None, min_length=1)
    final_action: FinalAction | None = None
    max_retries: int | None = Field(default=None, ge=1, le=100)
    remind_every: Duration | None = None

    @model_validator(mode="after")
    def _coherent(self) -> EscalationPolicy:
        if self.to is not None and self.levels is not None:
            raise ValueError("give either 'to' (one level) or 'levels' (a chain), not both")
        if self.action == "escalate" and self.to is None and self.levels is None:
            raise ValueError("action 'escalate' needs 'to' (an assignee) or 'levels'")
        if self.action != "escalate" and (self.to is not None or self.levels is not None):
            raise ValueError(f"'to' and 'levels' go with action 'escalate', not {self.action!r}")
        if self.max_retries is not None and self.action != "retry":
            raise ValueError("'max_retries' goes with action 'retry'")
        return self

    def actions(self) -> set[str]:
        return {self.action, *([self.final_action] if self.final_action else [])}


Escalation = Annotated[
    Annotated[EscalationAction, Tag("Text")] | Annotated[EscalationPolicy, Tag("Object")],
    Discriminator(_shape),
]


class Assignment(_Strict):
    """What happens when nobody is assigned within ``timeout`` (agentAssignedTimeoutSeconds)."""

    timeout: Duration
    action: Literal["escalate", "transfer", "auto_approve", "auto_reject", "cancel"]
    to: AssigneeRef | None = None

    @model_validator(mode="after")
    def _target(self) -> Assignment:
        if (self.action == "transfer") != (self.to is not None):
            raise ValueError("'to' goes with action 'transfer', which needs it")
        return self


class ApprovalStage(_Strict):
    assignee: Assignee
    timeout: Duration | None = None


class Quorum(_Strict):
    quorum: int = Field(ge=1, le=100)
    of: list[AssigneeRef] = Field(min_length=1)
    veto: bool = False

    @model_validator(mode="after")
    def _reachable(self) -> Quorum:
        if all(ref.startswith("user:") for ref in self.of) and self.quorum > len(set(self.of)):
            raise ValueError(
                f"a quorum of {self.quorum} cannot be reached by {len(set(self.of))} users"
            )
        return self


class Display(_Strict):
    """Hints for how the desk lays out the context."""

    layout: Literal["stacked", "side-by-side"] = "stacked"
    highlight: list[str] = Field(default_factory=list, max_length=50)


def candidate_refs(assignee: Any) -> list[str]:
    """The refs of who may answer, from an assignee spec as stored (``*``: anyone)."""
    if assignee is None:
        return ["*"]
    if isinstance(assignee, str):
        return [assignee]
    if isinstance(assignee, list):
        return list(assignee)
    pool: str | list[str] = assignee["pool"] if isinstance(assignee, dict) else assignee.pool
    return [pool] if isinstance(pool, str) else list(pool)


def escalation_actions(escalation: Any) -> set[str]:
    if isinstance(escalation, EscalationPolicy):
        return escalation.actions()
    return {escalation} if isinstance(escalation, str) else set()
