"""``inloop workflow run``: start the run, serve it from this process, show where it is.

Progress is read from the server (``GET /v1/workflows/runs/{id}``), so it is right even
when another worker runs some of the steps; the local worker's steps make it refresh at
once, and it looks again every few seconds in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from inloop.cli._context import ExitCode, Settings, as_text, echo_json, stderr
from inloop.cli._context import stdout as out
from inloop.client import AsyncClient
from inloop.domain.runs import RunStatus
from inloop.runtime import Worker
from inloop.workflows.compiled import Workflow
from inloop.workflows.interpreter import WorkflowAgent
from inloop.workflows.models import PathStep, WorkflowRun

#: How often the display looks at the run when nothing here told it that something moved.
REFRESH_SECONDS = 2.0


async def follow(
    settings: Settings,
    file: Path,
    data: Any,
    workflow: Workflow,
    inputs: dict[str, Any],
    *,
    detach: bool,
    as_json: bool,
) -> int:
    desk = settings.server.rstrip("/") + "/desk"
    async with AsyncClient(settings.server, settings.token) as client:
        run = await client.workflows.start(workflow.definition, inputs)
        page = f"{desk}/workflows/runs/{run.id}"
        if detach:
            if as_json:
                echo_json({"run_id": run.id, "agent": run.agent, "page": page})
            else:
                out().print(
                    f"started run [bold]{run.id}[/] of {escape(workflow.name)}", highlight=False
                )
                out().print(f"  its page: {page}", highlight=False)
                out().print(
                    "  it goes on when a worker serves it: inloop workflow serve "
                    f"{escape(str(file))}",
                    highlight=False,
                    soft_wrap=True,
                )
            return ExitCode.OK
        moved = asyncio.Event()
        agent = WorkflowAgent(
            workflow, client, trusted=[workflow], on_progress=lambda *_: moved.set()
        )
        worker = Worker([agent], client, poll=30.0)
        serving = asyncio.create_task(worker.serve())
        try:
            view = await _watch(client, run.id, workflow, desk, page, moved)
        finally:
            worker.stop()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    return _report(view, as_json)


async def _watch(
    client: AsyncClient, run_id: str, workflow: Workflow, desk: str, page: str, moved: asyncio.Event
) -> WorkflowRun:
    console = stderr()
    console.print(
        f"run {run_id} of {escape(workflow.name)}: {page}", highlight=False, soft_wrap=True
    )
    shown_steps = 0
    shown_requests: set[str] = set()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{workflow.name}: starting", total=None)
        while True:
            view = await client.workflows.get(run_id)
            for step in view.path[shown_steps:]:
                progress.console.print(_step_line(workflow, step), highlight=False, soft_wrap=True)
            shown_steps = len(view.path)
            for request in view.waiting_on:
                if request.id not in shown_requests:
                    shown_requests.add(request.id)
                    node = request.metadata.get("workflow", {}).get("node", "?")
                    progress.console.print(
                        f"[yellow]⏸[/] {escape(node)}: waiting for a human: "
                        f"{desk}/requests/{request.id}",
                        highlight=False,
                        soft_wrap=True,
                    )
                    progress.console.print(
                        f"    {escape(request.title)} (answer in the desk, or: inloop requests "
                        f"respond {request.id} <answer>)",
                        highlight=False,
                        soft_wrap=True,
                    )
            if not view.status.is_open:
                return view
            progress.update(task, description=_where(view))
            moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), REFRESH_SECONDS)
                # A step here just moved the run: see it once its completion is stored.
                await client.runs.wait(run_id, timeout=1.0, paused=True)


def _where(view: WorkflowRun) -> str:
    if not view.current:
        return f"{view.workflow}: running"
    parts = []
    for position in view.current:
        what = {"running": "running", "waiting": "waiting for a human", "answered": "answered"}
        parts.append(f"{position.node} ({what[position.state]})")
    return f"{view.workflow}: at " + ", ".join(parts)


def _step_line(workflow: Workflow, step: PathStep) -> str:
    node = workflow.nodes.get(step.node)
    kind = node.type if node is not None else "?"
    if step.failed:
        return f"[red]✗[/] {escape(step.node)} ({kind}) failed: {escape(step.failed)}"
    note = f": {step.resolution}" if step.resolution else ""
    return f"[green]✓[/] {escape(step.node)} ({kind}){escape(note)}"


def _report(view: WorkflowRun, as_json: bool) -> int:
    if as_json:
        from inloop.cli._context import jsonable

        echo_json(jsonable(view.model_dump(mode="json", exclude={"definition"})))
    elif view.status == RunStatus.COMPLETED:
        out().print(
            f"[bold]{escape(view.outcome or '')}[/] (at {escape(view.ended_at or '')})",
            highlight=False,
            soft_wrap=True,
        )
        if view.output is not None:
            out().print(escape(as_text(view.output)), highlight=False)
    else:
        out().print(f"[red]{view.status.value}[/]: {escape(view.run.error or '')}", highlight=False)
    return ExitCode.OK if view.status == RunStatus.COMPLETED else ExitCode.REJECTED
