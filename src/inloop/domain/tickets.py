"""Handoff tickets: an escalation to humans that carries the whole context (the session's
turns, the conversation's messages, the state, the metadata, the reason) and a priority
from rules an admin configures. Everything here is pure: no clock, no store.

The default rules are seed 004's ``calculate_priority``: payment or security is urgent,
a complaint or frustration is high, anything else normal. Rules are tried in order; the
first whose keywords appear (case-insensitively) in one of its fields wins.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from inloop.domain.agent_sessions import check_json
from inloop.domain.enums import Priority
from inloop.domain.errors import InvalidError

MAX_RULES = 100
MAX_REASON = 2_000


class TicketPriority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def request_priority(self) -> Priority:
        """The desk request's priority (the desk's ``medium`` is a ticket's ``normal``)."""
        return Priority.MEDIUM if self == TicketPriority.NORMAL else Priority(self.value)


class TicketStatus(StrEnum):
    """Where the ticket stands: its desk request's status, in a ticket's words."""

    OPEN = "open"  # waiting for a human
    ASSIGNED = "assigned"  # a human has it
    RESOLVED = "resolved"  # a human answered it
    CLOSED = "closed"  # cancelled, or closed by a timeout policy

    @classmethod
    def of_request(cls, status: str, resolution: str | None) -> TicketStatus:
        if status == "pending":
            return cls.OPEN
        if status == "assigned":
            return cls.ASSIGNED
        return cls.RESOLVED if resolution == "responded" else cls.CLOSED


Field_ = Literal["reason", "action", "metadata", "state"]


def _reason_only() -> list[Field_]:
    return ["reason"]


class PriorityRule(BaseModel):
    """``keywords`` found in any of ``fields`` (the reason, by default) give ``priority``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    keywords: list[str] = Field(min_length=1, max_length=100)
    priority: TicketPriority
    fields: list[Field_] = Field(default_factory=_reason_only, min_length=1)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip().lower() for k in value]
        if any(not k or len(k) > 100 for k in cleaned):
            raise ValueError("every keyword must be 1 to 100 characters, not blank")
        return cleaned


class TicketRules(BaseModel):
    """The ticket settings ``PUT /v1/ticket-rules`` takes: the priority rules, in order,
    the priority when none matches, and how the desk request is routed (an assignee spec,
    a timeout and an escalation policy, as a request takes them; null: the desk's default)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[PriorityRule] = Field(max_length=MAX_RULES)
    default_priority: TicketPriority = TicketPriority.NORMAL
    assignee: Any = None
    timeout: str | None = None
    escalation: Any = None

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: list[PriorityRule]) -> list[PriorityRule]:
        seen: set[str] = set()
        for i, rule in enumerate(value):
            if rule.name in seen:
                raise InvalidError(
                    f"rules.{i}.name: another rule is named {rule.name!r}; names must be unique",
                    field=f"rules.{i}.name",
                    code="invalid_ticket_rules",
                )
            seen.add(rule.name)
        return value


DEFAULT_RULES = TicketRules.model_validate(
    {
        "rules": [
            {"name": "payment_or_security", "keywords": ["payment", "security"],
             "priority": "urgent"},
            {"name": "complaint_or_frustration", "keywords": ["complaint", "frustrat"],
             "priority": "high"},
        ]
    }
)  # fmt: skip


def choose_priority(
    rules: TicketRules, subject: dict[str, Any]
) -> tuple[TicketPriority, str | None]:
    """The priority for a ticket and the name of the rule that gave it (None: the default).

    ``subject`` holds the ticket's reason, action, metadata and state; a rule reads the
    text of the fields it names (JSON for the structured ones).
    """
    texts: dict[str, str] = {}
    for rule in rules.rules:
        for name in rule.fields:
            if name not in texts:
                value = subject.get(name)
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                texts[name] = text.lower() if value is not None else ""
            if any(k in texts[name] for k in rule.keywords):
                return rule.priority, rule.name
    return rules.default_priority, None


class NewTicket(BaseModel):
    """``tickets.open``: which session, why, and what else the human should see."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    priority: TicketPriority | None = Field(
        default=None, description="Set to skip the rules; left out, the rules decide."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=120)
    action: Any = Field(default=None, description="The action that needs a human, as JSON.")
    turn_limit: int = Field(default=200, ge=1, le=1000)

    @field_validator("metadata", "action")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        check_json(value, "ticket", "invalid_ticket")
        return value


class HistoryEntry(BaseModel):
    """One line of a ticket's history: a turn of the session or a conversation message."""

    source: Literal["turn", "message"]
    role: str
    text: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class Ticket(BaseModel):
    """A handoff ticket; ``label`` is how people say it (``#12``)."""

    id: str
    number: int
    session_id: str
    conversation_id: str | None = None
    request_id: str
    reason: str
    priority: TicketPriority
    rule: str | None = Field(default=None, description="The priority rule that matched.")
    status: TicketStatus
    assigned_to: str | None = None
    resolution: Any = Field(default=None, description="The human's answer, once resolved.")
    resolved_at: datetime | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    action: Any = None
    created_by: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return f"#{self.number}"
