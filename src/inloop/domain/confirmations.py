"""Confirmations: the end user says yes or no to a pending action (``yes_no``), or proves
it is them with a one-time code sent by email and SMS (``mfa``, seed 004's multi-factor
confirmation).

The action is kept as canonical JSON (keys sorted, no spaces, UTF-8), with its SHA-256:
what runs after the confirmation is the exact bytes that were confirmed. Everything here is
pure: no clock, no store, no secrets (codes are made and checked by the server).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inloop.domain.agent_sessions import check_json
from inloop.domain.durations import parse_duration
from inloop.domain.errors import InvalidError

MAX_ATTEMPTS = 3
MAX_RESENDS = 3
RESEND_EVERY = timedelta(seconds=30)
MAX_TTL = timedelta(hours=1)
MAX_ACTION = 100_000  # bytes of canonical JSON


def canonical_json(value: Any) -> str:
    """The one text of a JSON value: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


class ConfirmationKind(StrEnum):
    YES_NO = "yes_no"
    MFA = "mfa"


class ConfirmationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    LOCKED = "locked"  # too many wrong codes


class ConfirmationStep(StrEnum):
    """What a confirmation's audit trail records (the session history's ``data.step``)."""

    CREATED = "created"
    SENT = "sent"
    RESENT = "resent"
    ATTEMPT_FAILED = "attempt_failed"
    LOCKED = "locked"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"


class NewConfirmation(BaseModel):
    """``confirmations.request``: the action waiting on the end user, and how to ask."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=200)
    action: Any = Field(description="The pending action, as JSON: kept byte-exact.")
    kind: ConfirmationKind = ConfirmationKind.YES_NO
    to_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    to_phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    reason: str | None = Field(default=None, max_length=2_000)
    ttl: str = Field(default="5m", description="How long it stays open: 30s to 1h.")

    @field_validator("action")
    @classmethod
    def _action(cls, value: Any) -> Any:
        if value is None:
            raise InvalidError("action is required: the action to confirm", field="action")
        check_json(value, "action", "invalid_action")
        if len(canonical_json(value).encode()) > MAX_ACTION:
            raise InvalidError(
                f"action is over {MAX_ACTION} bytes as JSON", field="action", code="invalid_action"
            )
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        try:
            ttl = parse_duration(value)
        except ValueError as exc:
            raise InvalidError(str(exc), field="ttl", code="invalid_ttl") from None
        if not timedelta(seconds=30) <= ttl <= MAX_TTL:
            raise InvalidError("ttl must be between 30s and 1h", field="ttl", code="invalid_ttl")
        return value

    @model_validator(mode="after")
    def _where(self) -> NewConfirmation:
        if self.kind == ConfirmationKind.MFA and not (self.to_email or self.to_phone):
            raise InvalidError(
                "a multi-factor confirmation sends its code to to_email and/or to_phone: "
                "give at least one",
                field="to_email",
                code="invalid_confirmation",
            )
        if self.kind == ConfirmationKind.YES_NO and (self.to_email or self.to_phone):
            raise InvalidError(
                "a yes_no confirmation is asked in your own conversation; to_email and "
                "to_phone are for kind mfa",
                field="to_email" if self.to_email else "to_phone",
                code="invalid_confirmation",
            )
        return self

    @property
    def ttl_delta(self) -> timedelta:
        return parse_duration(self.ttl)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yes: bool


class CodeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=20)


class Confirmation(BaseModel):
    """A confirmation as the API shows it: never the code, nor where it was sent in full."""

    id: str
    session_id: str
    kind: ConfirmationKind
    status: ConfirmationStatus
    action: Any
    action_json: str = Field(description="The action's canonical JSON: what was confirmed.")
    action_digest: str = Field(description="SHA-256 of action_json, hex.")
    reason: str | None = None
    sent_to: list[str] = Field(default_factory=list, description="Masked destinations.")
    attempts_left: int
    resends_left: int
    next_resend_at: datetime | None = None
    expires_at: datetime
    created_by: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == ConfirmationStatus.CONFIRMED


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    return number[:3] + "*" * max(0, len(number) - 5) + number[-2:]
