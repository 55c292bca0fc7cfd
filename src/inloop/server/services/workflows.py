"""Workflow runs on the server: check a definition, start its run, read where it stands.

A workflow run is a run of the durable runtime (agent ``workflow:<name>``): this service
checks the definition and the inputs with the same compiler the workers use, then starts
the run through ``RunService``; workers serving the workflow (``inloop workflow serve``)
carry it on. Nothing here runs a node.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from inloop.domain.access import can_see
from inloop.domain.enums import Scope
from inloop.domain.errors import InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.runs import NewRun, Run, RunTimeline, TypedEvent
from inloop.server.services.runs import RunService
from inloop.server.store import requests as request_sql
from inloop.server.store import runs as sql
from inloop.server.store.database import Database
from inloop.workflows.compiled import Workflow
from inloop.workflows.models import (
    STARTED,
    NewWorkflowRun,
    Validation,
    WorkflowRun,
    agent_name,
    is_workflow_run,
    workflow_run,
)
from inloop.workflows.problems import Problem, WorkflowError
from inloop.workflows.validation import compile_workflow, digest_of

CACHE_SIZE = 256


class WorkflowService:
    def __init__(self, db: Database, runs: RunService) -> None:
        self.db = db
        self.runs = runs
        self._compiled: OrderedDict[str, Workflow] = OrderedDict()

    def compile(self, definition: Any, name: str | None) -> Workflow:
        """The compiled workflow (cached by the definition's digest); WorkflowError lists
        every problem."""
        key = digest_of({"definition": definition, "name": name})
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
            return found
        workflow = compile_workflow(definition, name=name)
        self._compiled[key] = workflow
        while len(self._compiled) > CACHE_SIZE:
            self._compiled.popitem(last=False)
        return workflow

    async def validate(self, principal: Principal, definition: Any, name: str | None) -> Validation:
        principal.require(Scope.AGENT)
        try:
            workflow = self.compile(definition, name)
        except WorkflowError as exc:
            return Validation(valid=False, problems=exc.problems)
        return describe(workflow)

    async def start(self, principal: Principal, new: NewWorkflowRun) -> Run:
        """Check the definition and the inputs, then start the run; 422 ``invalid_workflow``
        (every problem in ``details``) before anything is written."""
        principal.require(Scope.AGENT)
        try:
            workflow = self.compile(new.definition, new.name)
        except WorkflowError as exc:
            raise invalid(exc.problems) from None
        problems = workflow.check_inputs(new.inputs)
        if problems:
            raise invalid(problems)
        payload = {
            "workflow": {
                "name": workflow.name,
                "digest": workflow.digest,
                "definition": workflow.definition,
            },
            "inputs": new.inputs,
        }
        start = TypedEvent(type=STARTED, payload=payload)
        return await self.runs.start(
            principal, NewRun(agent=agent_name(workflow.name), start_event=start)
        )

    async def get(self, principal: Principal, run_id: str) -> WorkflowRun:
        """The run's state, for the key that started it and admins (as ``GET /v1/runs``)."""
        timeline = await self.runs.timeline(principal, run_id)
        return _checked(timeline)

    async def for_desk(self, principal: Principal, run_id: str) -> WorkflowRun:
        """The run's state for a human at the desk: admins, and whoever may see one of the
        run's requests (its candidates, its assignees)."""
        timeline = await self.db.read(_timeline, run_id)
        if timeline is None:
            raise NotFoundError(f"no run with id {run_id!r}", field="id")
        view = _checked(timeline)
        if not (principal.is_admin or any(can_see(principal, r) for r in view.requests)):
            raise PermissionDeniedError(
                f"run {run_id} asked you nothing: only admins and the people its requests "
                "went to may see it",
                code="forbidden",
            )
        return view


def describe(workflow: Workflow) -> Validation:
    return Validation(
        valid=True,
        name=workflow.name,
        digest=workflow.digest,
        nodes=len(workflow.nodes),
        edges=sum(len(n.outgoing) for n in workflow.nodes.values()),
        inputs=sorted(workflow.input_names),
        required_inputs=sorted(workflow.required_inputs),
    )


def invalid(problems: list[Problem]) -> InvalidError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    error = InvalidError(f"{first}{more}", field=first.path or None, code="invalid_workflow")
    error.details = [p.model_dump() for p in problems]
    return error


def _checked(timeline: RunTimeline) -> WorkflowRun:
    if not is_workflow_run(timeline.run):
        raise NotFoundError(
            f"run {timeline.run.id} is a run of agent {timeline.run.agent}, not of a workflow",
            field="id",
            code="not_a_workflow_run",
        )
    return workflow_run(timeline)


def _timeline(conn: Any, run_id: str) -> RunTimeline | None:
    run = sql.get_run(conn, run_id)
    if run is None:
        return None
    events = sql.list_events(conn, run_id)
    ids = [e.request_id for e in events if e.request_id]
    found = request_sql.get_requests(conn, ids) if ids else {}
    requests = sorted(found.values(), key=lambda r: (r.created_at, r.id))
    return RunTimeline(run=run, events=events, requests=requests)
