"""Events: what steps consume and emit. Pydantic models, stored as JSON between steps.

An event travels by its *wire name*: the class name, or ``event_name`` when set. A run
started by one process is resumed by another, which may import the agent's module under
another name (``__main__`` here, ``myapp.agents`` there); the class name is the same.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """The base of every event. Subclass it for your own events (fields are JSON data)."""

    model_config = ConfigDict(extra="forbid")

    #: The name the event is stored under; the class name unless set.
    event_name: ClassVar[str | None] = None

    @classmethod
    def wire_name(cls) -> str:
        return cls.__dict__.get("event_name") or cls.__name__

    def wire_payload(self) -> dict[str, Any]:
        """The event's fields as JSON, as the run stores them."""
        return self.model_dump(mode="json")


class StartEvent(Event):
    """Starts a run. Subclass it to carry the run's input, or pass fields through ``run``."""

    model_config = ConfigDict(extra="allow")


class StopEvent(Event):
    """Ends the run; ``result`` (JSON data) is what ``await handle.result()`` returns."""

    result: Any = None


class UserMessageEvent(StartEvent):
    """A run started by a user's message."""

    user_query: str


class ControlEvent(Event):
    """The base of the events that pause a run (a HITL request) or end it."""


class HitlContinueEvent(Event):
    """A handoff ended and the AI has the conversation back (``flow_on_hitl_stopped``):
    appended to the inbox of the run a conversation is linked to (``run_id``)."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str
    session_id: str
    end_reason: str
    by: str | None = None


class DisplayEvent(Event):
    """The base of the events shown to a person (a HITL request is one, and a control
    event too)."""
