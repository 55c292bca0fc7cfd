"""A request as every channel shows it: one neutral card, drawn by each adapter in its own
terms (Block Kit, an Adaptive Card, an email, an SMS). Agent text is untrusted: adapters
escape it for their medium (HTML for email; Slack's mrkdwn is avoided for agent text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inloop.domain.enums import Kind, Resolution
from inloop.domain.requests import APPROVAL_WORDS, REJECTION_WORDS, Request

MAX_FIELDS = 8
MAX_FIELD = 300
MAX_PROMPT = 2800

REASONS = {
    "created": "New request",
    "assigned": "Assigned to you",
    "reassigned": "Assigned to you",
    "transferred": "Transferred to you",
    "escalated": "Escalated to you",
    "advanced": "Your approval is needed",
    "released": "Back in the queue",
    "reminded": "Reminder: still waiting for an answer",
}

#: Where an answer came from, as an update says it ("Approved in Slack by Alice").
WHERE = {
    "desk": "in the desk",
    "slack": "in Slack",
    "teams": "in Teams",
    "email": "by email",
    "sms": "by SMS",
    "webhook": "by webhook",
}


@dataclass(frozen=True)
class Card:
    request_id: str
    kind: Kind
    title: str
    prompt: str
    priority: str
    reason: str
    desk_url: str
    options: list[tuple[str, str]] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    due_at: datetime | None = None
    closed: bool = False
    outcome: str | None = None
    answer_url: str | None = None
    code: str | None = None

    @property
    def free_text(self) -> bool:
        """Answered with words (input, chat), not by picking an option."""
        return self.kind in (Kind.INPUT, Kind.CHAT)


def card_for(
    request: Request,
    *,
    base_url: str,
    names: dict[str, str],
    reason: str = "created",
    answer_url: str | None = None,
    code: str | None = None,
) -> Card:
    """The card for ``request`` as it stands (closed: with how it ended)."""
    options = [(o.value, o.label or o.value) for o in request.options or []]
    if request.kind == Kind.CONFIRMATION:
        options = [("true", "Yes"), ("false", "No")]
    return Card(
        request_id=request.id,
        kind=request.kind,
        title=request.title,
        prompt=_cut(request.prompt, MAX_PROMPT),
        priority=request.priority.value,
        reason=REASONS.get(reason, reason),
        desk_url=f"{base_url}/desk/requests/{request.id}",
        options=options,
        fields=context_fields(request.context),
        schema=request.response_schema,
        due_at=request.due_at,
        closed=not request.is_open,
        outcome=None if request.is_open else outcome(request, names),
        answer_url=answer_url,
        code=code,
    )


def context_fields(context: Any) -> list[tuple[str, str]]:
    """A short summary of the context: its first keys and their values, shortened."""
    if not isinstance(context, dict):
        return [] if context is None else [("Context", _cut(_text(context), MAX_FIELD))]
    items = list(context.items())[:MAX_FIELDS]
    return [(str(k).replace("_", " ").capitalize(), _cut(_text(v), MAX_FIELD)) for k, v in items]


def outcome(request: Request, names: dict[str, str]) -> str:
    """How a closed request ended, in words: "Approved in the desk by Alice"."""
    who = _who(request.resolved_by, names)
    if request.resolution == Resolution.RESPONDED:
        via = (request.responded_via or {}).get("channel")
        where = WHERE.get(str(via), f"in {via}" if via else "through the API")
        return f"{answered(request)} {where} by {who}"
    return {
        Resolution.AUTO_APPROVED: "Approved automatically: no answer in time",
        Resolution.AUTO_REJECTED: "Rejected automatically: no answer in time",
        Resolution.TIMED_OUT: "Closed: no answer in time",
        Resolution.CANCELLED: f"Cancelled by {who}",
        Resolution.TRANSFERRED: "Transferred",
    }.get(request.resolution or Resolution.CANCELLED, "Closed")


def answered(request: Request) -> str:
    value = request.response
    if request.kind == Kind.CONFIRMATION:
        return "Confirmed" if value is True else "Declined"
    if request.kind in (Kind.APPROVAL, Kind.CHOICE) and isinstance(value, str):
        word = value.lower()
        if request.kind == Kind.APPROVAL and word in APPROVAL_WORDS:
            return "Approved"
        if request.kind == Kind.APPROVAL and word in REJECTION_WORDS:
            return "Rejected"
        label = next((o.label or o.value for o in request.options or [] if o.value == value), value)
        return f"Answered “{label}”"
    return "Answered"


def _who(actor: str | None, names: dict[str, str]) -> str:
    if not actor:
        return "someone"
    if actor.startswith("user:"):
        handle = actor.removeprefix("user:")
        return names.get(handle, handle)
    return {"policy": "the policy", "system": "Inloop"}.get(actor, actor)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
