"""Deliveries: messages and events on their way out through a channel, and their attempts.

A delivery is a row written in the same transaction as the change that causes it (a
transactional outbox), under a unique ``key`` that names the intent: a retry of the same
intent finds the row and writes nothing. The dispatcher sends it, at least once, and
records every attempt; after the last retry it is a dead letter until replayed.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inloop.domain.errors import InvalidError
from inloop.domain.requests import json_problem

#: What a key may hold: it travels as the Standard Webhooks ``webhook-id`` header.
KEY = re.compile(r"[A-Za-z0-9_.:@+/=-]{1,400}")
MAX_TEXT = 20_000


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waits for its due time
    SENDING = "sending"  # claimed by a dispatcher; due again when its lease runs out
    DELIVERED = "delivered"
    DEAD = "dead"  # the last retry failed (or the peer refused it for good): replay it
    SKIPPED = "skipped"  # no longer needed (its request closed before it went out)

    @property
    def is_open(self) -> bool:
        return self in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class Message(BaseModel):
    """Text for a human: the subject (email), the text, and an HTML body (email)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=300)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    html: str | None = Field(default=None, max_length=200_000)


class NewDelivery(BaseModel):
    """What to send, to whom, over which channel; the service API of docs/channels.md.

    Give ``message`` for a human channel (email, SMS, Slack, Teams) and ``event`` (a JSON
    object, conventionally ``{"type": ..., "data": ...}``) for a webhook. ``to`` is the
    address in the channel's terms (an email address, an E.164 phone number, a Slack
    channel or user id, a Teams conversation id); a webhook sends to its configured URL.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Names the intent: a second delivery with this key is a no-op.")
    channel: str = Field(min_length=1, max_length=100, description="A channel's name, or kind.")
    to: str | None = Field(default=None, min_length=1, max_length=500)
    topic: str = Field(default="message", min_length=1, max_length=60)
    message: Message | None = None
    event: dict[str, Any] | None = None
    request_id: str | None = Field(default=None, max_length=40)
    user: str | None = Field(default=None, max_length=100, description="The Inloop user told.")
    sensitive: bool = Field(
        default=False,
        description="Kept encrypted until sent and erased after (one-time codes): never "
        "shown by the API or the log.",
    )

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY.fullmatch(value):
            raise InvalidError(
                "key must be 1 to 400 letters, digits or _ . : @ + / = -",
                field="key",
                code="invalid_delivery",
            )
        return value

    @field_validator("event")
    @classmethod
    def _plain_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = json_problem(value)
        if problem is not None:
            where, message = problem
            raise InvalidError(f"event.{where} {message}", field="event", code="invalid_delivery")
        return value

    @model_validator(mode="after")
    def _content(self) -> NewDelivery:
        if (self.message is None) == (self.event is None):
            raise InvalidError(
                "give message (for email, SMS, Slack, Teams) or event (for a webhook), exactly one",
                field="message",
                code="invalid_delivery",
            )
        return self

    def content(self) -> dict[str, Any]:
        """The stored payload: what the channel renders."""
        if self.message is not None:
            return {"message": self.message.model_dump(exclude_none=True)}
        return {"event": self.event}


class Delivery(BaseModel):
    """A delivery as stored, with where it stands."""

    id: int
    key: str
    channel: str
    kind: str
    address: str | None = None
    topic: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts since it was created or last replayed.")
    replays: int = 0
    due_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None
    request_id: str | None = None
    user: str | None = None
    parent_id: int | None = Field(default=None, description="The message an update edits.")
    ref: dict[str, Any] | None = Field(
        default=None, description="The peer's reference: Slack channel and ts, Teams ids..."
    )
    payload: dict[str, Any] | None = Field(
        default=None, description="What is sent (null for sensitive deliveries)."
    )
    sensitive: bool = False


class Attempt(BaseModel):
    """One try at sending a delivery, as the delivery log keeps it."""

    id: int
    delivery_id: int
    attempt: int
    replay: int
    at: datetime
    duration_ms: int
    outcome: Literal["delivered", "failed", "dead"]
    status_code: int | None = None
    error: str | None = None
    response: str | None = None


class DeliveryDetail(Delivery):
    attempts_log: list[Attempt] = Field(default_factory=list)


def backoff(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before retry ``attempt + 1``: exponential from ``base``, at most ``cap``,
    with "equal jitter" (``jitter`` in [0, 1) is drawn by the caller): half the delay
    is fixed, the other half random, so retries of one outage spread out."""
    delay: float = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + delay / 2 * jitter
