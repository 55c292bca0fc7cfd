"""``inloop workflow``: validate, show, run and serve declarative workflows (docs/workflows.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, Settings, echo_json, fail, stderr
from inloop.cli._context import stdout as out
from inloop.workflows.compiled import Workflow
from inloop.workflows.definition import LoadError, load_file
from inloop.workflows.problems import Problem, WorkflowError
from inloop.workflows.validation import compile_workflow

app = typer.Typer(
    help="Declarative workflows with human nodes: validate, show, run, serve.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="A workflow definition (.json, .yaml or .yml).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def load(path: Path) -> tuple[Any, Workflow]:
    """The parsed definition and its compiled form; problems are printed, exit 2."""
    try:
        data = load_file(path)
        return data, compile_workflow(data, name=path.stem, source=str(path))
    except LoadError as exc:
        print_problems(path, [exc.problem])
    except WorkflowError as exc:
        print_problems(path, exc.problems)
    raise typer.Exit(ExitCode.USAGE)


def print_problems(path: Path, problems: list[Problem]) -> None:
    console = stderr()
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    console.print(f"[red]✗[/] {escape(str(path))}: {count}", highlight=False, soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Where", no_wrap=True, style="bold")
    table.add_column("Problem and fix", overflow="fold")
    for problem in problems:
        table.add_row(escape(problem.path or "(the file)"), escape(problem.message))
    console.print(table)


def _import_beside(path: Path) -> None:
    """Function nodes name ``module:function``: modules beside the file, or in the
    current directory, import as they would from there."""
    for folder in (str(path.resolve().parent), os.getcwd()):
        if folder not in sys.path:
            sys.path.insert(0, folder)


@app.command("validate")
def validate(file: FileArg, as_json: JsonFlag = False) -> None:
    """Check a definition without running it: every problem, with its path and the fix."""
    try:
        data = load_file(file)
        workflow = compile_workflow(data, name=file.stem, source=str(file))
    except (LoadError, WorkflowError) as exc:
        problems = [exc.problem] if isinstance(exc, LoadError) else exc.problems
        if as_json:
            echo_json({"valid": False, "problems": [p.model_dump() for p in problems]})
        else:
            print_problems(file, problems)
        raise typer.Exit(ExitCode.USAGE) from None
    summary = {
        "valid": True,
        "name": workflow.name,
        "digest": workflow.digest,
        "nodes": len(workflow.nodes),
        "edges": sum(len(n.outgoing) for n in workflow.nodes.values()),
        "inputs": sorted(workflow.input_names),
        "required_inputs": sorted(workflow.required_inputs),
    }
    if as_json:
        echo_json(summary)
        return
    out().print(
        f"[green]✓[/] {escape(str(file))}: workflow [bold]{escape(workflow.name)}[/] is valid: "
        f"{summary['nodes']} nodes, {summary['edges']} edges, starts at {escape(workflow.start)}",
        highlight=False,
        soft_wrap=True,
    )
    if workflow.input_names:
        required = set(workflow.required_inputs)
        listed = ", ".join(
            f"{name}{' (required)' if name in required else ''}"
            for name in sorted(workflow.input_names)
        )
        out().print(f"  inputs: {escape(listed)}", highlight=False, soft_wrap=True)


@app.command("show")
def show(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="A workflow definition.")] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Draw this run: its path and where it is.")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Write the drawing as SVG to this file.")
    ] = None,
) -> None:
    """Draw a workflow: Mermaid text on stdout, and SVG with --svg. With --run, the run's
    path taken and current node are marked."""
    from inloop.workflows.drawing import Marks, mermaid
    from inloop.workflows.drawing import svg as draw_svg

    if (file is None) == (run is None):
        fail("give a workflow file or --run RUN_ID (one of them)", ExitCode.USAGE)
    marks = None
    if run is not None:
        from inloop.cli._context import connect

        with connect(ctx) as client:
            view = client.workflows.get(run)
        workflow = compile_workflow(view.definition)
        marks = Marks.of_path(
            workflow, [(s.node, s.edge) for s in view.path], [p.node for p in view.current]
        )
    else:
        assert file is not None
        _, workflow = load(file)
    if svg is not None:
        svg.write_text(draw_svg(workflow, marks), encoding="utf-8")
        stderr().print(f"wrote {escape(str(svg))}", highlight=False)
        return
    typer.echo(mermaid(workflow, marks), nl=False)


def parse_inputs(pairs: list[str], raw_json: str | None, workflow: Workflow) -> dict[str, Any]:
    """``--input a.b=value``: values are JSON when they parse (15000, true, null, [1,2],
    "quoted"), else text; a property the inputs schema types as a string stays text."""
    inputs: dict[str, Any] = {}
    if raw_json is not None:
        try:
            loaded = json.loads(raw_json)
        except ValueError as exc:
            fail(f"--inputs-json is not valid JSON: {exc}", ExitCode.USAGE)
        if not isinstance(loaded, dict):
            fail("--inputs-json must be a JSON object", ExitCode.USAGE)
        inputs.update(loaded)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(part.isidentifier() for part in parts):
            fail(f"--input {pair!r}: write name=value or a.b=value", ExitCode.USAGE)
        value: Any = text
        if not _declared_string(workflow.inputs_schema, parts):
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        target = inputs
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                fail(
                    f"--input {pair!r}: {part} is already set to a value, not an object",
                    ExitCode.USAGE,
                )
            target = child
        target[parts[-1]] = value
    return inputs


def _declared_string(schema: Mapping[str, Any] | None, parts: list[str]) -> bool:
    node: Any = schema
    for part in parts:
        if not isinstance(node, dict):
            return False
        node = (node.get("properties") or {}).get(part)
    return isinstance(node, dict) and node.get("type") == "string"


@app.command("run")
def run(
    ctx: typer.Context,
    file: FileArg,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="name=value (repeatable; a.b=value nests; JSON values are typed)."
        ),
    ] = None,
    inputs_json: Annotated[
        str | None, typer.Option("--inputs-json", help="All inputs as a JSON object.")
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", help="Start the run and return; `inloop workflow serve` carries it on."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a workflow: start it on the server and serve it from here, showing its
    progress and the desk link of each human node, until it ends."""
    data, workflow = load(file)
    given = parse_inputs(inputs or [], inputs_json, workflow)
    problems = workflow.check_inputs(given)
    if problems:
        print_problems(file, problems)
        raise typer.Exit(ExitCode.USAGE)
    _import_beside(file)
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    from inloop.cli._progress import follow

    try:
        code = asyncio.run(
            follow(settings, file, data, workflow, given, detach=detach, as_json=as_json)
        )
    except KeyboardInterrupt:
        stderr().print(
            "stopped serving; the run goes on when a worker serves it: inloop workflow serve "
            f"{file}",
            highlight=False,
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    raise typer.Exit(code)


@app.command("serve")
def serve(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="The workflows to serve (their runs, from anywhere).")
    ],
    concurrency: Annotated[int, typer.Option(min=1, help="Steps running at once.")] = 256,
    lease: Annotated[
        float, typer.Option(min=1, help="Seconds a claimed event stays this worker's.")
    ] = 300.0,
) -> None:
    """Serve workflows' runs (those started with --detach, through the API, or left by a
    process that stopped): run their nodes as events arrive, until interrupted. A worker
    makes only the function and http calls of the files it was given."""
    from inloop.client import AsyncClient
    from inloop.runtime import Worker
    from inloop.workflows.interpreter import WorkflowAgent

    loaded = [load(file)[1] for file in files]
    by_name: dict[str, list[Workflow]] = {}
    for workflow in loaded:
        by_name.setdefault(workflow.name, []).append(workflow)
    for file in files:
        _import_beside(file)
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def work() -> None:
        async with AsyncClient(settings.server, settings.token) as client:
            agents = [
                WorkflowAgent(versions[-1], client, trusted=versions)
                for versions in by_name.values()
            ]
            names = ", ".join(a.agent_name for a in agents)
            stderr().print(f"serving {names} from {settings.server}", highlight=False)
            await Worker(agents, client, concurrency=concurrency, lease=lease).serve()

    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a definition (for editors' completion and checks)."""
    from inloop.workflows.definition import definition_schema

    typer.echo(json.dumps(definition_schema(), indent=2))
