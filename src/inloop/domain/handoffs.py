"""Live handoff sessions: a human takes a conversation over from the AI, then gives it back.

The session's state machine is the table below; the store applies it a second time with
``UPDATE handoff_sessions ... WHERE id = :id AND status IN (:allowed)``, so two ends
racing (the customer's /end and the agent closing) write once.

    start --> pending --assign--> active --end--> ended (end_reason)
                 |   <--release--   |
                 +------- end ------+

The configuration keys are Botpress's HITL plugin's, in snake_case, with their defaults
and meaning. A message key set to null (``NULL`` on the command line) sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.errors import ConflictError, InvalidError


class SessionStatus(StrEnum):
    PENDING = "pending"  # waiting for a human agent to be assigned
    ACTIVE = "active"  # a human agent speaks; the AI is muted
    ENDED = "ended"

    @property
    def is_open(self) -> bool:
        return self is not SessionStatus.ENDED


OPEN_SESSION = frozenset({SessionStatus.PENDING, SessionStatus.ACTIVE})


class EndReason(StrEnum):
    """How a session ended (Botpress's HITL_END_REASON)."""

    USER_CLOSED = "user_closed"  # the customer sent the close command
    ASSIGNMENT_TIMEOUT = "assignment_timeout"  # no human was assigned in time
    AGENT_CLOSED = "agent_closed"  # the human agent closed it
    STOP_CALLED = "stop_called"  # the AI agent called stop_hitl
    INTERNAL_ERROR = "internal_error"  # the provider failed for good


class SessionAction(StrEnum):
    ASSIGN = "assign"
    RELEASE = "release"
    END = "end"


class SessionTransition(NamedTuple):
    allowed_from: frozenset[SessionStatus]
    to: SessionStatus


SESSION_TRANSITIONS: dict[SessionAction, SessionTransition] = {
    SessionAction.ASSIGN: SessionTransition(OPEN_SESSION, SessionStatus.ACTIVE),
    SessionAction.RELEASE: SessionTransition(
        frozenset({SessionStatus.ACTIVE}), SessionStatus.PENDING
    ),
    SessionAction.END: SessionTransition(OPEN_SESSION, SessionStatus.ENDED),
}


def session_transition(current: SessionStatus, action: SessionAction) -> SessionTransition:
    rule = SESSION_TRANSITIONS[action]
    if current not in rule.allowed_from:
        raise ConflictError(
            f"the handoff session is {current.value}, so it cannot be {action.value}ed"
            if action != SessionAction.END
            else "the handoff session has ended already",
            code="handoff_ended" if current == SessionStatus.ENDED else "invalid_transition",
        )
    return rule


DEFAULTS: dict[str, Any] = {
    # Sent to the customer when the handoff begins.
    "on_hitl_handoff_message": (
        "I have escalated this conversation to a human agent. They should be with you shortly."
    ),
    # Sent to the customer when a human agent is assigned; {{agent_name}} is their name.
    "on_human_agent_assigned_message": "{{agent_name}} has joined the conversation.",
    # Sent to the customer when the human agent closes the session.
    "on_hitl_stopped_message": (
        "{{agent_name}} closed the conversation. I will continue assisting you."
    ),
    # Sent to the human agent when the customer ends the session with the close command.
    "on_user_hitl_cancelled_message": "( The user has ended the session. )",
    # Sent to the human agent when they send a message the customer's channel cannot show.
    "on_incompatible_msg_type_message": (
        "Sorry, the user can only receive text messages. Please resend your message as a "
        "text message."
    ),
    # Sent to the customer after they ended the session with the close command.
    "on_user_hitl_close_message": "You have ended the conversation with the human agent.",
    # Sent to the customer when nobody was assigned within agent_assigned_timeout_seconds.
    "on_agent_assigned_timeout_message": (
        "No human agent is available right now. I will continue assisting you."
    ),
    # What the customer types to end the session (whole message, any case).
    "user_hitl_close_command": "/end",
    # Seconds to wait for a human to be assigned before ending the session; 0: wait forever.
    "agent_assigned_timeout_seconds": 0,
    # Show the human agent's name to the customer (else "A human agent").
    "use_human_agent_info": True,
    # After the session ends, give the AI a `continue` event so it resumes unprompted.
    "flow_on_hitl_stopped": True,
}

MESSAGE_KEYS = frozenset(k for k in DEFAULTS if k.startswith("on_"))


class HandoffConfig(BaseModel):
    """The eleven keys. Every one is optional in an override; null silences a message."""

    model_config = ConfigDict(extra="forbid")

    on_hitl_handoff_message: str | None = Field(default=None, max_length=4000)
    on_human_agent_assigned_message: str | None = Field(default=None, max_length=4000)
    on_hitl_stopped_message: str | None = Field(default=None, max_length=4000)
    on_user_hitl_cancelled_message: str | None = Field(default=None, max_length=4000)
    on_incompatible_msg_type_message: str | None = Field(default=None, max_length=4000)
    on_user_hitl_close_message: str | None = Field(default=None, max_length=4000)
    on_agent_assigned_timeout_message: str | None = Field(default=None, max_length=4000)
    user_hitl_close_command: str | None = Field(default=None, min_length=1, max_length=100)
    agent_assigned_timeout_seconds: int | None = Field(default=None, ge=0, le=7 * 86_400)
    use_human_agent_info: bool | None = None
    flow_on_hitl_stopped: bool | None = None

    def given(self) -> dict[str, Any]:
        """The keys that were set (a null message counts: it silences)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


def effective_config(project: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the project's settings, then this handoff's overrides."""
    config = dict(DEFAULTS)
    for layer in (project, overrides):
        for key, value in layer.items():
            if key not in DEFAULTS:
                continue
            if value is None and key not in MESSAGE_KEYS:
                raise InvalidError(
                    f"{key} cannot be null: only the messages (on_...) can be silenced",
                    field=key,
                    code="invalid_configuration",
                )
            config[key] = value
    return config


def render(template: str | None, *, agent_name: str | None) -> str | None:
    """A configured message with ``{{agent_name}}`` (or Botpress's ``$humanAgentName``)
    filled in; None when the message is silenced."""
    if template is None:
        return None
    name = agent_name or "A human agent"
    return template.replace("{{agent_name}}", name).replace("$humanAgentName", name)


class StartHitl(BaseModel):
    """seed 000's ``startHitl`` inputs, in snake_case."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300, description="Shown to the human agent.")
    description: str | None = Field(default=None, max_length=20_000)
    user_id: str = Field(min_length=1, max_length=200)
    user_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    configuration_overrides: HandoffConfig = Field(default_factory=HandoffConfig)


class StopHitl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class HandoffSession(BaseModel):
    id: str
    conversation_id: str
    status: SessionStatus
    end_reason: EndReason | None = None
    title: str
    description: str | None = None
    user_id: str
    user_email: str | None = None
    provider: str
    external_id: str | None = Field(default=None, description="The provider's ticket id.")
    request_id: str | None = Field(default=None, description="The desk's ticket (desk only).")
    human: str | None = Field(default=None, description="Handle or name of the human agent.")
    human_name: str | None = None
    config: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    assigned_at: datetime | None = None
    ended_at: datetime | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status.is_open
