"""The workflow interpreter: a runtime ``Agent`` whose runs are workflow runs.

A workflow run is a run of the durable runtime (agent ``workflow:<name>``), and its
progress is the run's events:

- ``WorkflowStarted`` carries the definition, its digest and the inputs;
- ``WorkflowNodeReached`` (node, variables, path) is pending until a worker runs that
  node: one automated node (function, http, llm) per step, so each node's result is
  stored before the next one starts, and a node completes at most once per event. With
  ``checkpoint: human`` a step runs on through the automated nodes until the run asks a
  human or ends (fewer steps and writes; a worker that dies in the middle leaves every
  node of that step to run again);
- ``WorkflowHumanAsked`` is the HITL request of a human node (the request goes through
  routing and escalation in the completion's transaction); ``WorkflowHumanAnswered`` is
  appended when the request closes, however it closes;
- the StopEvent's result holds the outcome, the end node, the output and the path.

A step that consumes a start or an answer runs the first automated node after it too
(the event it consumed did no work of its own), so a run costs one step per automated
node and one per answer. Whatever worker claims the event resumes the run; the
definition comes with the run (fetched once per digest and cached).

A worker runs only what it trusts: the functions and the http calls (method, URL and
headers, as written) of the definitions it was given. A run whose definition calls
anything else fails, saying so, rather than letting an API key run code on the worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field

from inloop.client import AsyncClient
from inloop.domain.requests import APPROVAL_WORDS
from inloop.errors import UsageError
from inloop.llm import ChatModel, chat_model
from inloop.runtime.agent import Agent
from inloop.runtime.context import Context
from inloop.runtime.events import Event, StartEvent, StopEvent
from inloop.runtime.hitl import HumanInTheLoopRequestEvent, HumanInTheLoopResponseEvent, pair
from inloop.runtime.steps import step
from inloop.workflows.compiled import CompiledNode, RoutingError, Workflow
from inloop.workflows.definition import FunctionNode, HttpNode, HumanNode
from inloop.workflows.models import agent_name
from inloop.workflows.nodes import NodeContext, NodeError, Sleep, run_node
from inloop.workflows.problems import WorkflowError
from inloop.workflows.templates import as_text
from inloop.workflows.validation import compile_workflow, human_kind

log = logging.getLogger("inloop.workflows")

CACHE_SIZE = 64
MAX_PATH = 1000

Progress = Callable[[str, str, Mapping[str, Any]], None]


class WorkflowStarted(StartEvent):
    event_name = "WorkflowStarted"

    workflow: dict[str, Any]  # name, digest, definition
    inputs: dict[str, Any] = Field(default_factory=dict)


class _Position(Event):
    """Where a run stands: the node it enters, its variables and the path so far."""

    node: str
    digest: str
    variables: dict[str, Any]
    path: list[dict[str, Any]] = Field(default_factory=list)
    steps: int = 0


class WorkflowNodeReached(_Position):
    event_name = "WorkflowNodeReached"


class WorkflowHumanAsked(HumanInTheLoopRequestEvent):
    """A human node's request, and the run's position while it waits."""

    event_name = "WorkflowHumanAsked"

    request_kind: str | None = None
    node: str
    digest: str
    variables: dict[str, Any]
    path: list[dict[str, Any]] = Field(default_factory=list)
    steps: int = 0

    def request_body(self) -> dict[str, Any]:
        body = super().request_body()
        if self.request_kind is not None:
            body["kind"] = self.request_kind
        return body


class WorkflowHumanAnswered(HumanInTheLoopResponseEvent):
    event_name = "WorkflowHumanAnswered"


pair(WorkflowHumanAsked, WorkflowHumanAnswered)

Emitted = WorkflowNodeReached | WorkflowHumanAsked | StopEvent


class _Run:
    """A run's state while one step works on it."""

    def __init__(self, workflow: Workflow, run_id: str, position: Mapping[str, Any]) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self.variables: dict[str, Any] = dict(position.get("variables") or {})
        self.variables["run"] = {"id": run_id, "workflow": workflow.name}
        self.path: list[dict[str, Any]] = list(position.get("path") or [])
        self.steps: int = int(position.get("steps") or 0)

    def passed(self, node: str, edge: int | None, **note: Any) -> None:
        self.steps += 1
        if self.steps > self.workflow.max_steps:
            raise UsageError(
                f"the run has passed {self.workflow.max_steps} nodes (max_steps): a loop "
                "without a way out? Raise max_steps if it is meant to run that long"
            )
        self.path.append({"node": node, "edge": edge, **note})
        del self.path[:-MAX_PATH]

    def position(self, node: str) -> dict[str, Any]:
        variables = {k: v for k, v in self.variables.items() if k != "run"}
        return {
            "node": node,
            "digest": self.workflow.digest,
            "variables": variables,
            "path": self.path,
            "steps": self.steps,
        }


class WorkflowAgent(Agent):
    """Serves the runs of one workflow name (agent ``workflow:<name>``).

    ``trusted``: the definitions whose functions and http calls this worker may make
    (normally the files it serves); None trusts every definition (tests, or a worker
    only your own keys can start runs for).
    """

    name: ClassVar[str | None] = "workflow"

    def __init__(
        self,
        workflow: str | Workflow,
        client: AsyncClient | None = None,
        *,
        trusted: Collection[Workflow] | None = (),
        model: ChatModel | None = None,
        sleep: Sleep = asyncio.sleep,
        http_transport: httpx.AsyncBaseTransport | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        workflow_name = workflow if isinstance(workflow, str) else workflow.name
        super().__init__(client, name=agent_name(workflow_name))
        self.workflow_name = workflow_name
        served = [workflow] if isinstance(workflow, Workflow) else []
        self.trusted: set[tuple[str, ...]] | None = None
        if trusted is not None:
            self.trusted = {sig for wf in [*served, *trusted] for sig in _signatures(wf)}
        self._cache: OrderedDict[str, Workflow] = OrderedDict()
        for wf in served:
            self._cache[wf.digest] = wf
        self.model = model
        self.sleep = sleep
        self.http_transport = http_transport
        self.on_progress = on_progress

    # -- steps ---------------------------------------------------------------------

    @step()
    async def started(self, event: WorkflowStarted, ctx: Context) -> Emitted:
        workflow = self._remember(event.workflow.get("definition"), event.workflow.get("digest"))
        problems = workflow.check_inputs(event.inputs)
        if problems:
            raise UsageError("the run's inputs do not fit: " + "; ".join(map(str, problems)))
        run = _Run(workflow, ctx.run_id, {"variables": event.inputs})
        self._report(ctx.run_id, "started", {"workflow": workflow.name})
        return await self._enter(run, workflow.start, ctx, worked=False)

    @step()
    async def reached(self, event: WorkflowNodeReached, ctx: Context) -> Emitted:
        workflow = await self._workflow(event.digest, ctx)
        run = _Run(workflow, ctx.run_id, event.model_dump())
        return await self._enter(run, event.node, ctx, worked=False)

    @step()
    async def answered(self, event: WorkflowHumanAnswered, ctx: Context) -> Emitted:
        asked = event.request_event
        assert isinstance(asked, WorkflowHumanAsked)
        workflow = await self._workflow(asked.digest, ctx)
        run = _Run(workflow, ctx.run_id, asked.model_dump())
        node = workflow.node(asked.node)
        resolution = event.resolution.value if event.resolution else None
        answer = {
            "response": event.response,
            "resolution": resolution,
            "resolved_by": event.resolved_by,
            "comment": event.comment,
            "edited": event.edited,
            "request_id": event.request_id,
        }
        run.variables["response"] = event.response
        run.variables[node.id] = answer
        ahead = goes_ahead(asked.request_kind, event.response, resolution)
        route = self._route(workflow, node, run, goes_ahead=ahead)
        run.passed(node.id, route.edge.index if route.edge else None, resolution=resolution)
        self._report(ctx.run_id, "answered", {"node": node.id, **answer})
        if route.edge is None:
            return self._stop(
                run, node, _human_outcome(node, asked.request_kind, ahead, resolution)
            )
        return await self._enter(run, route.edge.target, ctx, worked=False)

    # -- moving on -----------------------------------------------------------------

    async def _enter(self, run: _Run, node_id: str, ctx: Context, *, worked: bool) -> Emitted:
        """Go into ``node_id``: ask there, stop there, or run it (one automated node per
        step: after one, the next is a new event, so its result is stored first; with
        ``checkpoint: human``, on to the next node until a human node or an end)."""
        workflow = run.workflow
        chained = workflow.checkpoint == "human"
        visit = 0
        while True:
            node = workflow.node(node_id)
            if node.type == "end":
                run.passed(node.id, None)
                return self._stop(run, node, getattr(node.spec, "outcome", None) or node.id)
            if node.type == "human":
                return self._ask(run, node, ctx)
            if worked and not chained:
                self._report(ctx.run_id, "queued", {"node": node.id})
                return WorkflowNodeReached(**run.position(node.id))
            worked = True
            try:
                output = await run_node(node, run.variables, self._node_context(ctx, visit))
                visit += 1
            except NodeError as exc:
                visit += 1
                if node.on_error is None:
                    raise
                run.variables["error"] = {"node": node.id, "message": str(exc)}
                run.passed(node.id, None, failed=str(exc)[:500])
                self._report(ctx.run_id, "failed", {"node": node.id, "error": str(exc)})
                node_id = node.on_error.target
                continue
            run.variables[node.id] = output
            if isinstance(output, dict):
                for key, value in output.items():
                    if key != node.id and key.isidentifier() and key not in ("run", "env"):
                        run.variables[key] = value
            route = self._route(workflow, node, run, goes_ahead=True)
            run.passed(node.id, route.edge.index if route.edge else None)
            self._report(ctx.run_id, "done", {"node": node.id, "output": output})
            if route.edge is None:
                return self._stop(run, node, "completed")
            node_id = route.edge.target

    def _route(self, workflow: Workflow, node: CompiledNode, run: _Run, *, goes_ahead: bool) -> Any:
        try:
            return workflow.route(node.id, run.variables, goes_ahead=goes_ahead)
        except RoutingError as exc:
            raise UsageError(f"after {node.id!r}: {exc}") from None

    def _ask(self, run: _Run, node: CompiledNode, ctx: Context) -> WorkflowHumanAsked:
        spec = node.spec
        assert isinstance(spec, HumanNode)
        scope = run.variables
        fields: dict[str, Any] = {}
        for name in ("options", "timeout", "escalation", "assignee", "priority", "response_schema",
                     "assignment", "approvals", "quorum"):  # fmt: skip
            value = getattr(spec, name)
            if value is not None:
                fields[name] = value
        if spec.options is not None:
            fields["options"] = [
                o if isinstance(o, str) else o.model_dump(exclude_none=True) for o in spec.options
            ]
        if spec.display is not None:
            fields["display"] = spec.display.model_dump()
        for name in ("title", "description", "context"):
            if getattr(spec, name) is not None:
                rendered = node.render(name, scope)
                fields[name] = rendered if name == "context" else as_text(rendered)
        payload = node.render("payload", scope) if spec.payload is not None else None
        fields["metadata"] = {
            **(spec.metadata or {}),
            "workflow": {"name": run.workflow.name, "run_id": run.run_id, "node": node.id},
        }
        self._report(ctx.run_id, "asked", {"node": node.id})
        return WorkflowHumanAsked(
            question=as_text(node.render("prompt", scope)),
            request_kind=human_kind(spec),
            payload=payload,
            **fields,
            **run.position(node.id),
        )

    def _stop(self, run: _Run, node: CompiledNode, outcome: str) -> StopEvent:
        variables = {k: v for k, v in run.variables.items() if k != "run"}
        output = None
        if node.type == "end" and getattr(node.spec, "output", None) is not None:
            output = node.render("output", run.variables)
        self._report(run.run_id, "ended", {"node": node.id, "outcome": outcome})
        return StopEvent(
            result={
                "workflow": run.workflow.name,
                "outcome": outcome,
                "ended_at": node.id,
                "output": output,
                "variables": variables,
                "path": run.path,
            }
        )

    # -- definitions ---------------------------------------------------------------

    def _remember(self, definition: Any, digest: Any) -> Workflow:
        if isinstance(digest, str) and digest in self._cache:
            self._cache.move_to_end(digest)
            return self._cache[digest]
        try:
            workflow = compile_workflow(definition)
        except WorkflowError as exc:
            raise UsageError(f"the run's definition cannot run: {exc}") from None
        self._check_trust(workflow)
        self._cache[workflow.digest] = workflow
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return workflow

    async def _workflow(self, digest: str, ctx: Context) -> Workflow:
        found = self._cache.get(digest)
        if found is not None:
            return found
        run = await ctx.client.runs.wait(ctx.run_id, timeout=0)
        started = run.start_event.get("payload", {}).get("workflow", {})
        return self._remember(started.get("definition"), digest)

    def _check_trust(self, workflow: Workflow) -> None:
        if self.trusted is None:
            return
        for node in workflow.nodes.values():
            signature = _signature(node)
            if signature is not None and signature not in self.trusted:
                what = (
                    f"calls {signature[1]}"
                    if signature[0] == "function"
                    else f"calls {signature[1]} {signature[2]}"
                )
                raise UsageError(
                    f"node {node.id!r} of this run's definition {what}, which no workflow "
                    "this worker serves does: a worker makes only the calls of the "
                    "definitions it was given (inloop workflow serve FILE)"
                )

    def _node_context(self, ctx: Context, visit: int = 0) -> NodeContext:
        if self.model is None:
            self.model = chat_model()
        return NodeContext(
            run_id=ctx.run_id,
            event_id=ctx.event_id,
            model=self.model,
            sleep=self.sleep,
            transport=self.http_transport,
            environment=os.environ,
            visit=visit,
        )

    def _report(self, run_id: str, what: str, detail: Mapping[str, Any]) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(run_id, what, detail)
            except Exception:  # a display must not fail a run
                log.exception("progress callback failed")


def goes_ahead(kind: str | None, response: Any, resolution: str | None) -> bool:
    """Whether an answer takes a default edge: any answer, except a rejection (an approval
    answered other than approve/yes, or auto-rejected; a confirmation answered false) and
    a close without an answer (timed out, cancelled)."""
    if resolution not in ("responded", "auto_approved"):
        return False
    if kind == "approval":
        return isinstance(response, str) and response.lower() in APPROVAL_WORDS
    if kind == "confirmation":
        return response is True
    return response is not None


def _human_outcome(
    node: CompiledNode, kind: str | None, ahead: bool, resolution: str | None
) -> str:
    if resolution not in ("responded", "auto_approved", "auto_rejected"):
        return resolution or "closed"
    if kind in ("approval", "confirmation"):
        return "approved" if ahead else "rejected"
    return "answered" if not node.outgoing else "rejected"


def _signature(node: CompiledNode) -> tuple[str, ...] | None:
    spec = node.spec
    if isinstance(spec, FunctionNode):
        return ("function", spec.function)
    if isinstance(spec, HttpNode):
        headers = ",".join(f"{k}:{v}" for k, v in sorted(spec.headers.items()))
        return ("http", spec.method, spec.url, headers)
    return None


def _signatures(workflow: Workflow) -> set[tuple[str, ...]]:
    return {sig for node in workflow.nodes.values() if (sig := _signature(node)) is not None}
