"""Durable agent runs: a run, its ordered inbox of events, and what workers send back.

A run's events are its state: a step consumes one pending event and emits others, in one
transaction on the server, so a run paused on a human resumes in any process, later.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inloop.domain.errors import InvalidError
from inloop.domain.requests import NewRequest, Request, json_problem

#: The code of the 404 that says a ``ctx.once`` key has nothing recorded yet (any other
#: 404, such as an unknown run, is an error a worker must not read as "run it now").
NOT_RECORDED = "not_recorded"


class RunStatus(StrEnum):
    RUNNING = "running"  # an event waits for a step
    PAUSED = "paused"  # only humans are awaited
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (RunStatus.RUNNING, RunStatus.PAUSED)


class RunEventStatus(StrEnum):
    PENDING = "pending"  # waits for the step that consumes its type
    WAITING = "waiting"  # a HITL request event: waits for its request to close
    DONE = "done"
    FAILED = "failed"  # its step raised: the run failed
    CANCELLED = "cancelled"


class Run(BaseModel):
    id: str
    agent: str
    status: RunStatus
    start_event: dict[str, Any]
    result: Any = None
    error: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class RunEvent(BaseModel):
    """One event of a run's inbox, in the order it was appended."""

    id: int
    run_id: str
    agent: str
    type: str
    payload: dict[str, Any]
    status: RunEventStatus
    step: str | None = Field(default=None, description="The step that consumed it.")
    emitted_by: int | None = Field(default=None, description="The event whose step emitted it.")
    request_id: str | None = None
    attempts: int = 0
    created_at: datetime
    done_at: datetime | None = None


class RunTimeline(BaseModel):
    """A run with its events and the requests it asked, oldest first."""

    run: Run
    events: list[RunEvent]
    requests: list[Request]


def _json_payload(value: dict[str, Any], field: str) -> dict[str, Any]:
    problem = json_problem(value)
    if problem is not None:
        where, message = problem
        raise InvalidError(f"{field}.{where} {message}", field=field, code="invalid_run")
    return value


class TypedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("payload")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _json_payload(value, "payload")


class NewRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=200)
    start_event: TypedEvent


class Emitted(TypedEvent):
    """An event a step emitted: a plain event, a HITL request (with the request to create
    and the type of the response event), or the StopEvent that ends the run."""

    kind: Literal["event", "request", "stop"] = "event"
    request: NewRequest | None = None
    reply_type: str | None = Field(default=None, min_length=1, max_length=200)
    result: Any = None

    @model_validator(mode="after")
    def _fits_kind(self) -> Emitted:
        if self.kind == "request" and (self.request is None or self.reply_type is None):
            raise InvalidError(
                "a request event needs the request to create and its reply_type",
                field="request",
                code="invalid_run",
            )
        if self.kind != "request" and (self.request is not None or self.reply_type is not None):
            raise InvalidError(
                f"request and reply_type go with kind request, not {self.kind}",
                field="request",
                code="invalid_run",
            )
        problem = json_problem(self.result)
        if problem is not None:
            raise InvalidError(
                f"result.{problem[0]} {problem[1]}", field="result", code="invalid_run"
            )
        return self


class Completion(BaseModel):
    """A step finished with one event: what it emitted, or the error it raised."""

    model_config = ConfigDict(extra="forbid")

    event_id: int
    step: str = Field(min_length=1, max_length=200)
    emitted: list[Emitted] = Field(default_factory=list, max_length=100)
    error: str | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _one_stop(self) -> Completion:
        if sum(e.kind == "stop" for e in self.emitted) > 1:
            raise InvalidError("a step emits at most one StopEvent", field="emitted")
        if self.error is not None and self.emitted:
            raise InvalidError("a failed step emits nothing", field="emitted")
        return self


class Completions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Completion] = Field(min_length=1, max_length=1000)


class CompletionResult(BaseModel):
    event_id: int
    ok: bool
    code: str | None = None
    message: str | None = None
    field: str | None = None


class Claim(BaseModel):
    """A worker asks for pending events of its agents, leased to it for ``lease`` seconds."""

    model_config = ConfigDict(extra="forbid")

    agents: list[str] = Field(min_length=1, max_length=100)
    worker: str = Field(min_length=1, max_length=100)
    limit: int = Field(default=100, ge=1, le=1000)
    lease: float = Field(default=300, ge=1, le=86_400)
    wait: float = Field(default=0, ge=0, le=60)

    @field_validator("agents")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not 1 <= len(name) <= 200:
                raise InvalidError("each agent name has 1 to 200 characters", field="agents")
        return value


class Renewal(BaseModel):
    """A worker still running these events' steps keeps its leases on them."""

    model_config = ConfigDict(extra="forbid")

    worker: str = Field(min_length=1, max_length=100)
    event_ids: list[int] = Field(min_length=1, max_length=10_000)
    lease: float = Field(default=300, ge=1, le=86_400)


class OnceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = None

    @field_validator("value")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        problem = json_problem(value)
        if problem is not None:
            raise InvalidError(
                f"value.{problem[0]} {problem[1]}".replace("value. ", "value "), field="value"
            )
        return value


class OnceValue(BaseModel):
    key: str
    value: Any = None
    recorded: bool = Field(description="True if this call recorded it, False if it was known.")
