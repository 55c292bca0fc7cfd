"""End-user conversations and their messages: text, image, file, and a "bloc" of several.

A conversation is what a customer has with an AI agent; a human may take it over (a
handoff session, ``inloop.domain.handoffs``) or guide the AI without the customer seeing
(a consult, which is a request). Everything here is pure: no clock, no store.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inloop.domain.errors import InvalidError
from inloop.domain.requests import json_problem

CONVERSATION_ID = re.compile(r"[A-Za-z0-9_.:@+-]{1,120}")
MAX_TEXT = 20_000
MAX_BLOC = 20


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    BLOC = "bloc"


class Role(StrEnum):
    """Who a message is from: the customer, the AI agent, a human agent, or Inloop itself."""

    USER = "user"
    AGENT = "agent"
    HUMAN = "human"
    SYSTEM = "system"


class Audience(StrEnum):
    """Who sees a message: everyone in the conversation, or only the humans helping."""

    ALL = "all"
    HUMANS = "humans"


class MessageStatus(StrEnum):
    SENT = "sent"
    PENDING_APPROVAL = "pending_approval"  # approver mode: a human approves or edits it first
    REJECTED = "rejected"


def _invalid(message: str, field: str) -> InvalidError:
    # Raised from validators on purpose (as in requests.py): the caller learns the field.
    return InvalidError(message, field=field, code="invalid_message")


def check_url(value: str, field: str) -> str:
    """Only http(s) URLs: a javascript: or data: link must never reach a page."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
        raise _invalid(
            f"{field} must be an http:// or https:// URL of at most 2000 characters", field
        )
    return value


class Part(BaseModel):
    """One piece of a message: its type says which fields it carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: MessageType = MessageType.TEXT
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    url: str | None = None
    name: str | None = Field(default=None, max_length=300, description="A file's name.")
    items: list[Part] | None = Field(default=None, description="A bloc's parts.")

    @model_validator(mode="after")
    def _fits_type(self) -> Part:
        kind = self.type
        if kind == MessageType.TEXT:
            if self.text is None or not self.text.strip():
                raise _invalid("a text message needs a text that is not blank", "text")
            if self.url or self.items or self.name:
                raise _invalid("a text message carries only text", "type")
        elif kind in (MessageType.IMAGE, MessageType.FILE):
            if not self.url:
                raise _invalid(f"an {kind.value} message needs a url", "url")
            check_url(self.url, "url")
            if kind == MessageType.FILE and not self.name:
                raise _invalid("a file message needs the file's name", "name")
            if self.items:
                raise _invalid(f"an {kind.value} message has no items", "items")
        else:
            if not self.items or len(self.items) > MAX_BLOC:
                raise _invalid(f"a bloc holds 1 to {MAX_BLOC} items", "items")
            if any(item.type == MessageType.BLOC for item in self.items):
                raise _invalid("a bloc holds text, image and file items, not blocs", "items")
            if self.text or self.url:
                raise _invalid("a bloc's content is in its items", "type")
        return self

    def plain(self) -> str:
        """The message as one line of text (transcripts, summaries, Zendesk comments)."""
        if self.type == MessageType.TEXT:
            return self.text or ""
        if self.type == MessageType.IMAGE:
            return f"[image {self.url}]" + (f" {self.text}" if self.text else "")
        if self.type == MessageType.FILE:
            return f"[file {self.name} {self.url}]"
        return " ".join(item.plain() for item in self.items or [])

    def types(self) -> set[MessageType]:
        """The types it is made of (a bloc's own and its items')."""
        return {self.type, *(item.type for item in self.items or [])}


class NewMessage(Part):
    """A message as an agent or a relay sends it. ``external_id`` is the sender's own id
    of the message (the provider's): sending it again returns the first one."""

    role: Role = Role.AGENT
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    author_name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = json_problem(value)
        if problem is not None:
            raise _invalid(f"metadata.{problem[0]} {problem[1]}", "metadata")
        return value

    def content(self) -> dict[str, Any]:
        """The stored form of the content: the part's own fields, nothing unset."""
        return Part.model_validate(self.model_dump(include=set(Part.model_fields))).model_dump(
            exclude_none=True
        )


class Message(BaseModel):
    """A message as stored: ids grow in the order messages were written."""

    id: int
    conversation_id: str
    role: Role
    author: str | None = Field(default=None, description="Who wrote it: key:, user:, system.")
    author_name: str | None = None
    type: MessageType
    content: dict[str, Any]
    audience: Audience = Audience.ALL
    status: MessageStatus = MessageStatus.SENT
    external_id: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime

    @property
    def part(self) -> Part:
        return Part.model_validate(self.content)

    @property
    def text(self) -> str:
        return self.part.plain()


class NewConversation(BaseModel):
    """What an agent sends to open a conversation with a customer."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        description="Your own id for it (your channel's conversation id); one is made if left out.",
    )
    user_id: str = Field(min_length=1, max_length=200)
    user_name: str | None = Field(default=None, max_length=200)
    user_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    customer: dict[str, Any] = Field(
        default_factory=dict, description="Details the human agents see: company, account..."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    accepts: list[MessageType] = Field(
        default_factory=lambda: list(MessageType),
        min_length=1,
        description="The message types the customer's channel can show.",
    )
    approver_mode: bool | None = Field(
        default=None, description="A human approves each AI message first (server default: off)."
    )
    approver_auto_accept_seconds: int | None = Field(default=None, ge=1, le=86_400)
    run_id: str | None = Field(
        default=None, max_length=40, description="A durable run that gets the continue event."
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not CONVERSATION_ID.fullmatch(value):
            raise _invalid("id must be 1 to 120 letters, digits or _ . : @ + -", "id")
        return value

    @field_validator("customer", "metadata")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = json_problem(value)
        if problem is not None:
            raise _invalid(f"{problem[0]} {problem[1]}", "customer")
        return value


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_name: str | None = Field(default=None, max_length=200)
    user_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    customer: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    approver_mode: bool | None = None
    approver_auto_accept_seconds: int | None = Field(default=None, ge=1, le=86_400)
    run_id: str | None = Field(default=None, max_length=40)


class Conversation(BaseModel):
    id: str
    user_id: str
    user_name: str | None = None
    user_email: str | None = None
    customer: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    accepts: list[MessageType] = Field(default_factory=lambda: list(MessageType))
    approver_mode: bool | None = None
    approver_auto_accept_seconds: int | None = None
    run_id: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    chat_url: str | None = Field(
        default=None,
        description="The customer's chat page, with its secret token: returned only when a "
        "token is made (creation, POST .../chat-token).",
    )


class ConversationEventType(StrEnum):
    """What the agent's event log of a conversation holds."""

    MESSAGE = "message"  # a customer's message for the AI (not during a handoff)
    HANDOFF_STARTED = "handoff_started"
    HUMAN_ASSIGNED = "human_assigned"
    HANDOFF_ENDED = "handoff_ended"
    CONTINUE = "continue"  # the AI takes the conversation back (flow_on_hitl_stopped)
    CONSULT_OPENED = "consult_opened"
    CONSULT_ANSWERED = "consult_answered"
    CONSULT_TRANSFERRED = "consult_transferred"
    MESSAGE_APPROVED = "message_approved"
    MESSAGE_REJECTED = "message_rejected"


class ConversationEvent(BaseModel):
    id: int
    conversation_id: str
    type: ConversationEventType
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


def is_command(text: str | None, command: str | None) -> bool:
    """Botpress's rule: the whole message, trimmed, equals the command, in any case."""
    if not text or not command:
        return False
    return text.strip().casefold() == command.strip().casefold()
