"""Agent sessions (seed 004's ``sb.sessions``): a state an agent keeps between turns, the
log of its turns, and the history of every change, each with its reasoning.

Not the desk's sign-in sessions (``desk_sessions``): these belong to agents. A session
exists from its first write (``update_state`` or ``add_turn``); reading one that was never
written is a 404 that the SDK turns into an empty, unsaved session. Everything here is
pure: no clock, no store.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inloop.domain.errors import InvalidError
from inloop.domain.requests import json_problem

SESSION_ID = re.compile(r"[A-Za-z0-9_.:@+-]{1,200}")
MAX_REASONING = 2_000


def check_session_id(value: str) -> str:
    if not SESSION_ID.fullmatch(value):
        raise InvalidError(
            f"{value[:50]!r} is not a session id: use 1 to 200 letters, digits or _ . : @ + -",
            field="session_id",
            code="invalid_session_id",
        )
    return value


def check_json(value: Any, field: str, code: str) -> Any:
    problem = json_problem(value)
    if problem is not None:
        where, message = problem
        path = f"{field}.{where}" if where else field
        raise InvalidError(f"{path} {message}", field=field, code=code)
    return value


class SessionEventType(StrEnum):
    """What a session's history records, oldest first."""

    STATE_CHANGED = "state_changed"
    TURN = "turn"
    ESCALATED = "escalated"  # a handoff ticket was opened
    CONFIRMATION = "confirmation"  # a step of a confirmation (``data.step`` says which)


class AgentSession(BaseModel):
    """A session as stored. ``exists`` is False only for the empty session the SDK makes up
    for an id that was never written (``created_at`` is then None)."""

    id: str
    state: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = Field(default=0, description="How many state updates it has had.")
    escalated: bool = False
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    exists: bool = True


class StateUpdate(BaseModel):
    """``update_state``: the keys to set (a shallow merge: keys not named stay as they are;
    a key set to null stays, with the value null), and why."""

    model_config = ConfigDict(extra="forbid")

    state: dict[str, Any] = Field(description="The keys to set; others are kept.")
    reasoning: str | None = Field(default=None, max_length=MAX_REASONING)
    metadata: dict[str, Any] | None = Field(
        default=None, description="Merged into the session's metadata, like state."
    )

    @field_validator("state", "metadata")
    @classmethod
    def _plain(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        check_json(value, "state", "invalid_state")
        return value


class NewTurn(BaseModel):
    """``add_turn``: one exchange, whatever its shape (text or a JSON object each way)."""

    model_config = ConfigDict(extra="forbid")

    input: Any = None
    output: Any = None
    reasoning: str | None = Field(default=None, max_length=MAX_REASONING)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("input", "output", "metadata")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return check_json(value, "turn", "invalid_turn")


class Turn(BaseModel):
    """One logged exchange of a session."""

    id: int
    session_id: str
    input: Any = None
    output: Any = None
    reasoning: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    actor: str
    created_at: datetime


class SessionEvent(BaseModel):
    """One entry of a session's history: a state change (``data.changes``: each key's
    ``from`` and ``to``), a turn, an escalation, a confirmation's step."""

    id: int
    session_id: str
    type: SessionEventType
    actor: str
    reasoning: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class SessionContext(BaseModel):
    """What a human taking over needs: the state, the metadata, the latest turns."""

    session_id: str
    state: dict[str, Any]
    metadata: dict[str, Any]
    escalated: bool
    recent_turns: list[Turn] = Field(
        default_factory=list, description="The latest turns, oldest first."
    )

    def __getitem__(self, key: str) -> Any:
        """``context["state"]``, as seed 004 reads it."""
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)


def merge(state: dict[str, Any], changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The merged state and, for each key whose value changes, ``{"from", "to"}``."""
    merged = dict(state)
    diff: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in state or state[key] != value:
            diff[key] = {"from": state.get(key), "to": value}
        merged[key] = value
    return merged, diff


def turn_of(event: SessionEvent) -> Turn:
    return Turn(
        id=event.id,
        session_id=event.session_id,
        input=event.data.get("input"),
        output=event.data.get("output"),
        metadata=event.data.get("metadata") or {},
        reasoning=event.reasoning,
        actor=event.actor,
        created_at=event.created_at,
    )
