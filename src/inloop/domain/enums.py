"""The vocabularies of the request lifecycle."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What sort of answer a request asks for."""

    APPROVAL = "approval"
    INPUT = "input"
    CONFIRMATION = "confirmation"
    CHOICE = "choice"
    FORM = "form"
    CHAT = "chat"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def order(self) -> int:
        """Sort position: urgent first (0), low last (3)."""
        return _PRIORITY_ORDER[self]

    def raised(self) -> Priority:
        """One step more urgent (urgent stays urgent)."""
        return _BY_ORDER[max(0, self.order - 1)]


_PRIORITY_ORDER = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}
_BY_ORDER = {order: priority for priority, order in _PRIORITY_ORDER.items()}


class Status(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({Status.PENDING, Status.ASSIGNED})


class Resolution(StrEnum):
    """How a closed request ended."""

    RESPONDED = "responded"
    AUTO_APPROVED = "auto_approved"
    AUTO_REJECTED = "auto_rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


class EventType(StrEnum):
    """Audit event types. Later features add theirs here."""

    CREATED = "created"
    RESPONDED = "responded"
    CANCELLED = "cancelled"
    ASSIGNED = "assigned"
    CLAIMED = "claimed"
    RELEASED = "released"
    REASSIGNED = "reassigned"
    ROUTING_FAILED = "routing_failed"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    QUEUED = "queued"
    TIMED_OUT = "timed_out"
    AUTO_APPROVED = "auto_approved"
    AUTO_REJECTED = "auto_rejected"
    VOTED = "voted"
    ADVANCED = "advanced"
    SUMMARISED = "summarised"


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Scope(StrEnum):
    """What an API key may do."""

    ADMIN = "admin"
    AGENT = "agent"
    RESPONDER = "responder"
    METRICS = "metrics"  # reads /metrics only (a Prometheus scraper's key)
