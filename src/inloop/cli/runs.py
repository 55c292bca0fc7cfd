"""``inloop runs``: list, show (the timeline) and cancel durable agent runs; ``inloop worker``."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, as_text, connect, done, echo_json, fail, stderr
from inloop.cli._context import stdout as out
from inloop.domain.runs import RunStatus, RunTimeline

app = typer.Typer(help="List, inspect and cancel durable agent runs.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RunId = Annotated[str, typer.Argument(help="The run id.")]


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


@app.command("ls")
def list_runs(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option(help="Only this agent's runs.")] = None,
    status: Annotated[list[RunStatus] | None, typer.Option(help="Repeatable.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=500, help="At most 500.")] = None,
    cursor: Annotated[str | None, typer.Option(help="Where the last page ended.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List runs, newest first."""
    with connect(ctx) as client:
        page = client.runs.list(agent=agent, status=status, limit=limit, cursor=cursor)
    if as_json:
        echo_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("ID", no_wrap=True, min_width=30)
    table.add_column("Agent", overflow="fold")
    table.add_column("Status", no_wrap=True, min_width=9)
    table.add_column("Started", overflow="fold")
    table.add_column("Finished", overflow="fold")
    table.add_column("Result / error", ratio=1, overflow="fold")
    for run in page.items:
        outcome = run.error.splitlines()[-1] if run.error else as_text(run.result)
        table.add_row(
            run.id, escape(run.agent), run.status, _when(run.created_at),
            _when(run.finished_at), escape(outcome if run.finished_at else ""),
        )  # fmt: skip
    out().print(table)
    if page.next_cursor:
        stderr().print(f"More runs: --cursor {page.next_cursor}", highlight=False)


@app.command("show")
def show(ctx: typer.Context, id: RunId, as_json: JsonFlag = False) -> None:
    """A run's timeline: its events, the steps that consumed them, and the requests it
    asked with who answered and when."""
    with connect(ctx) as client:
        timeline = client.runs.get(id)
    if as_json:
        echo_json(timeline)
        return
    print_timeline(timeline)


def print_timeline(timeline: RunTimeline) -> None:
    run = timeline.run
    console = out()
    console.print(f"[bold]{run.id}[/]  {escape(run.agent)}  [bold]{run.status}[/]")
    console.print(f"started {_when(run.created_at)} by {escape(run.created_by)}", highlight=False)
    if run.finished_at:
        console.print(f"finished {_when(run.finished_at)}", highlight=False)
    if run.status == RunStatus.COMPLETED:
        console.print(f"result: {escape(as_text(run.result))}", highlight=False)
    if run.error:
        console.print(f"[red]{escape(run.error)}[/]", highlight=False)
    requests = {r.id: r for r in timeline.requests}
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for header in ("#", "At", "Event", "Status", "Consumed by"):
        table.add_column(header, no_wrap=True)
    table.add_column("Request", ratio=1, overflow="fold")
    for event in timeline.events:
        note = ""
        request = requests.get(event.request_id or "")
        if request is not None:
            note = f"{request.id} {request.kind} {request.status}: {request.title}"
            if request.resolved_at is not None:
                answer = as_text(request.response) if request.response is not None else "-"
                note += (
                    f" | {request.resolution} by {request.resolved_by} at "
                    f"{_when(request.resolved_at)}: {answer}"
                )
        table.add_row(
            str(event.id), _when(event.created_at), escape(event.type), event.status,
            escape(event.step or ""), escape(note),
        )  # fmt: skip
    console.print(table)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    id: RunId,
    reason: Annotated[str | None, typer.Option(help="Recorded with the run.")] = None,
) -> None:
    """Cancel an open run and its open requests."""
    with connect(ctx) as client:
        run = client.runs.cancel(id, reason=reason)
    done(f"run {run.id} {run.status}")


def worker(
    ctx: typer.Context,
    agents: Annotated[
        list[str],
        typer.Argument(help="module:Class of each agent to serve, e.g. myapp.agents:ApprovalAgent"),
    ],
    concurrency: Annotated[int, typer.Option(min=1, help="Steps running at once.")] = 256,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Events claimed per call.")] = 256,
    lease: Annotated[
        float, typer.Option(min=1, help="Seconds a claimed event stays this worker's.")
    ] = 300.0,
) -> None:
    """Serve agents: run their steps as events arrive (runs started anywhere, answers
    from anyone), until interrupted."""
    from inloop.client import AsyncClient
    from inloop.runtime import Agent, Worker

    instances: list[Agent] = []
    sys.path.insert(0, os.getcwd())
    for target in agents:
        module_name, _, attr = target.partition(":")
        try:
            found: Any = getattr(importlib.import_module(module_name), attr or "")
        except (ImportError, AttributeError) as exc:
            fail(f"cannot load {target!r} (module:Class): {exc}", ExitCode.USAGE)
        if not (isinstance(found, type) and issubclass(found, Agent)):
            fail(f"{target} is not an Agent subclass", ExitCode.USAGE)
        instances.append(found())
    settings = ctx.obj
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per call

    async def serve() -> None:
        async with AsyncClient(settings.server, settings.token) as client:
            for agent in instances:
                agent._client = client
            names = ", ".join(a.agent_name for a in instances)
            stderr().print(f"serving {names} from {settings.server}", highlight=False)
            await Worker(
                instances, client, concurrency=concurrency, batch=batch, lease=lease
            ).serve()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
