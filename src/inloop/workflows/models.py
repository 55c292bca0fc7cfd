"""What the workflow API takes and answers, shared by the server and the SDK.

A workflow run's state is read from its run's events (see ``interpreter``): the latest
position (``WorkflowNodeReached``, ``WorkflowHumanAsked`` or the StopEvent's result) holds
the variables and the path taken; the open events say which node it is at.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.requests import Request
from inloop.domain.runs import Run, RunEvent, RunEventStatus, RunStatus, RunTimeline
from inloop.workflows.problems import Problem

AGENT_PREFIX = "workflow:"
STARTED = "WorkflowStarted"
REACHED = "WorkflowNodeReached"
ASKED = "WorkflowHumanAsked"
ANSWERED = "WorkflowHumanAnswered"
STOPPED = "StopEvent"


def agent_name(workflow_name: str) -> str:
    return AGENT_PREFIX + workflow_name


class NewWorkflowRun(BaseModel):
    """Start a run of a definition: it is checked first, and refused with every problem."""

    model_config = ConfigDict(extra="forbid")

    definition: Any = Field(description="The workflow, as JSON (seed 001's shapes).")
    inputs: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(
        default=None, description="Used when the definition names none (the CLI: the file's stem)."
    )


class DefinitionCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: Any
    name: str | None = None


class Validation(BaseModel):
    valid: bool
    name: str | None = None
    digest: str | None = None
    nodes: int = 0
    edges: int = 0
    inputs: list[str] = Field(
        default_factory=list, description="Declared, or read and set by no node."
    )
    required_inputs: list[str] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)


class PathStep(BaseModel):
    """A node the run has passed, and the edge it left by (its index in ``edges``)."""

    node: str
    edge: int | None = None
    resolution: str | None = None
    failed: str | None = None


class Position(BaseModel):
    """A node the run is at: ``running`` (a worker runs it, or will), ``waiting`` (on a
    human), ``answered`` (the answer waits for a worker)."""

    node: str
    state: Literal["running", "waiting", "answered"]
    request_id: str | None = None
    event_id: int


class WorkflowRun(BaseModel):
    run: Run
    workflow: str
    digest: str
    definition: dict[str, Any]
    inputs: dict[str, Any]
    status: RunStatus
    outcome: str | None = None
    ended_at: str | None = None
    output: Any = None
    current: list[Position] = Field(default_factory=list)
    path: list[PathStep] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    requests: list[Request] = Field(default_factory=list)

    @property
    def waiting_on(self) -> list[Request]:
        """The open requests of the human nodes it is at."""
        ids = {p.request_id for p in self.current if p.state == "waiting"}
        return [r for r in self.requests if r.id in ids]


def is_workflow_run(run: Run) -> bool:
    return run.agent.startswith(AGENT_PREFIX) and run.start_event.get("type") == STARTED


def workflow_run(timeline: RunTimeline) -> WorkflowRun:
    """A workflow run's state, read from its run's timeline."""
    run = timeline.run
    started = run.start_event.get("payload", {})
    workflow = started.get("workflow", {})
    view = WorkflowRun(
        run=run,
        workflow=str(workflow.get("name", run.agent.removeprefix(AGENT_PREFIX))),
        digest=str(workflow.get("digest", "")),
        definition=workflow.get("definition") or {},
        inputs=started.get("inputs") or {},
        status=run.status,
        requests=timeline.requests,
        variables=dict(started.get("inputs") or {}),
    )
    latest: dict[str, Any] | None = None
    for event in timeline.events:
        position = _position(event)
        if position is not None:
            latest = position
        current = _current(event)
        if current is not None:
            view.current.append(current)
    if run.status == RunStatus.COMPLETED and isinstance(run.result, dict):
        latest = run.result
        view.outcome = run.result.get("outcome")
        view.ended_at = run.result.get("ended_at")
        view.output = run.result.get("output")
    if latest is not None:
        view.path = [PathStep.model_validate(step) for step in latest.get("path") or []]
        view.variables = dict(latest.get("variables") or {})
    return view


def _position(event: RunEvent) -> dict[str, Any] | None:
    if event.type in (REACHED, ASKED):
        return event.payload
    if event.type == ANSWERED:
        asked = event.payload.get("request_event")
        return asked if isinstance(asked, dict) else None
    return None


def _current(event: RunEvent) -> Position | None:
    if event.status == RunEventStatus.PENDING and event.type == REACHED:
        return Position(node=event.payload["node"], state="running", event_id=event.id)
    if event.status == RunEventStatus.WAITING and event.type == ASKED:
        return Position(
            node=event.payload["node"],
            state="waiting",
            request_id=event.request_id,
            event_id=event.id,
        )
    if event.status == RunEventStatus.PENDING and event.type == ANSWERED:
        asked = event.payload.get("request_event") or {}
        return Position(
            node=str(asked.get("node", "")),
            state="answered",
            request_id=event.request_id,
            event_id=event.id,
        )
    return None
