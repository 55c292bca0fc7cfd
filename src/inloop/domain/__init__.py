"""The pure core of Inloop: entities, the transition table, validation rules.

No I/O, no clock, no web framework: time is passed in by the caller.
"""

from inloop.domain.enums import (
    OPEN_STATUSES,
    EventType,
    Kind,
    Priority,
    Resolution,
    Scope,
    Status,
)
from inloop.domain.requests import Event, NewEvent, NewRequest, Request
from inloop.domain.specs import Option

__all__ = [
    "OPEN_STATUSES",
    "Event",
    "EventType",
    "Kind",
    "NewEvent",
    "NewRequest",
    "Option",
    "Priority",
    "Request",
    "Resolution",
    "Scope",
    "Status",
]
