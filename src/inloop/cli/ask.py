"""``inloop ask``: put a question to humans from a shell script and wait for the answer."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inloop.cli._context import (
    ExitCode,
    as_text,
    connect,
    echo_json,
    fail,
    parse_json,
    stderr,
)
from inloop.client import Client
from inloop.domain.durations import parse_duration
from inloop.errors import ConflictError
from inloop.models import ANSWERED, Kind, Priority, Request

TIMEOUT_REASON = "inloop ask: no answer before the timeout"
INTERRUPT_REASON = "inloop ask: interrupted"


def ask(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The question to ask.", show_default=False)],
    options: Annotated[
        str | None,
        typer.Option(help="Comma-separated answers to pick from, e.g. approve,reject."),
    ] = None,
    kind: Annotated[
        Kind | None, typer.Option(help="Inferred when left out.", show_default=False)
    ] = None,
    title: Annotated[str | None, typer.Option(help="Defaults to the prompt's first line.")] = None,
    timeout: Annotated[
        str | None,
        typer.Option(help="Give up and cancel after this long: 30s, 15m, 1h, PT4H."),
    ] = None,
    assignee: Annotated[
        list[str] | None,
        typer.Option(
            help="Who should answer: user:<handle>, role:<name>, team:<name>; repeatable."
        ),
    ] = None,
    priority: Annotated[Priority | None, typer.Option(show_default=False)] = None,
    context: Annotated[str | None, typer.Option(help="JSON shown to the human.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole resolved request as JSON.")
    ] = False,
) -> None:
    """Ask humans a question, wait for the answer, print it.

    Exits 0 when answered (an approval: approved), 1 when not approved (rejected, or any
    other answer to an approval, or a confirmation answered no), 2 on bad usage, 3 when the
    request closed without an answer (timed out, cancelled, transferred), 4 when the server
    is unreachable.
    """
    seconds = _seconds(timeout)
    fields: dict[str, Any] = {
        "kind": kind,
        "title": title,
        "options": [o.strip() for o in options.split(",") if o.strip()] if options else None,
        "timeout": timeout,
        "assignee": assignee[0] if assignee and len(assignee) == 1 else assignee or None,
        "priority": priority,
        "context": parse_json(context, "--context") if context is not None else None,
    }
    with connect(ctx) as client:
        request = client.create(prompt, **fields)
        stderr().print(
            f"Asked [bold]{request.id}[/] at {client.base_url}; waiting for an answer "
            "(Ctrl-C cancels it).",
            highlight=False,
        )
        try:
            request = client.wait(request.id, timeout=seconds)
            if request.is_open:
                stderr().print(f"No answer within {timeout}; cancelling {request.id}.")
                request = _cancel(client, request.id, TIMEOUT_REASON)
        except KeyboardInterrupt:
            _cancel(client, request.id, INTERRUPT_REASON)
            stderr().print(f"Interrupted: {request.id} is cancelled.")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    raise typer.Exit(_report(request, as_json))


def _seconds(timeout: str | None) -> float | None:
    if timeout is None:
        return None
    try:
        return parse_duration(timeout).total_seconds()
    except ValueError as exc:
        fail(f"--timeout: {exc}", ExitCode.USAGE)


def _cancel(client: Client, id: str, reason: str) -> Request:
    """Cancel the request; if it closed meanwhile, that outcome stands."""
    try:
        return client.cancel(id, reason=reason)
    except ConflictError:
        return client.get(id)


def _report(request: Request, as_json: bool) -> ExitCode:
    """Print the outcome and pick the exit code."""
    if as_json:
        echo_json(request)
    if request.resolution not in ANSWERED:
        how = (request.resolution or request.status).value.replace("_", " ")
        stderr().print(f"[red]No answer:[/] {request.id} was {how}.", highlight=False)
        return ExitCode.NO_ANSWER
    if not as_json:
        typer.echo(as_text(request.response))
    if request.comment:
        by = f" by {request.resolved_by}" if request.resolved_by else ""
        stderr().print(f"Comment{by}: {request.comment}", markup=False, highlight=False)
    return ExitCode.REJECTED if request.is_rejection else ExitCode.OK
