"""``inloop requests``: list, inspect, answer and cancel requests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich import box
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import (
    ExitCode,
    as_text,
    connect,
    done,
    echo_json,
    fail,
    jsonable,
    parse_json,
)
from inloop.cli._context import stderr as err
from inloop.cli._context import stdout as out
from inloop.models import Event, Kind, Priority, Request, Status

app = typer.Typer(
    help="List, inspect, claim, hand on, answer and cancel requests.", no_args_is_help=True
)

_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RequestId = Annotated[str, typer.Argument(help="The request id.")]
Reason = Annotated[str | None, typer.Option(help="Recorded in the audit log.")]


@app.command("ls")
def list_requests(
    ctx: typer.Context,
    status: Annotated[list[Status] | None, typer.Option(help="Repeatable.")] = None,
    kind: Annotated[list[Kind] | None, typer.Option(help="Repeatable.")] = None,
    priority: Annotated[list[Priority] | None, typer.Option(help="Repeatable.")] = None,
    assignee: Annotated[str | None, typer.Option(help="A candidate ref, e.g. role:ops")] = None,
    assigned_to: Annotated[str | None, typer.Option(help="The assignee's handle.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Text in the title or prompt.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=500, help="At most 500.")] = None,
    cursor: Annotated[str | None, typer.Option(help="Where the last page ended.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List requests, urgent first, then oldest first."""
    with connect(ctx) as client:
        page = client.list(
            status=status, kind=kind, priority=priority, assignee=assignee,
            assigned_to=assigned_to, q=q, limit=limit, cursor=cursor,
        )  # fmt: skip
    if as_json:
        echo_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for header in ("ID", "Kind", "Status", "Priority"):
        table.add_column(header, no_wrap=True, min_width=len(header))
    table.add_column("Title", ratio=3, min_width=12, overflow="fold")
    table.add_column("Assignee", ratio=1, overflow="fold")
    table.add_column("Assigned to", no_wrap=True)
    for r in page.items:
        assignee = escape(as_text(r.assignee)) if r.assignee else ""
        assigned_to = escape(getattr(r, "assigned_to", None) or "")
        table.add_row(r.id, r.kind, r.status, r.priority, escape(r.title), assignee, assigned_to)
    out().print(table)
    if page.next_cursor:
        err().print(f"More requests: --cursor {page.next_cursor}", highlight=False)


@app.command("show")
def show(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="The request id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a request in full, with its audit events."""
    with connect(ctx) as client:
        request = client.get(id)
        events = client.events(id)
    if as_json:
        echo_json({"request": request, "events": events})
        return
    _print_request(request)
    votes = getattr(request, "votes", None)
    if votes:
        _print_votes(votes)
    _print_events(events)


def _print_request(r: Request) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows: list[tuple[str, Any]] = [
        ("id", r.id), ("kind", r.kind), ("status", r.status), ("resolution", r.resolution),
        ("priority", r.priority), ("title", r.title), ("prompt", r.prompt),
        ("description", r.description),
        ("options", ", ".join(o.value for o in r.options) if r.options else None),
        ("assignee", r.assignee), *_routing_rows(r), ("context", r.context),
        ("payload", r.payload), ("edited", r.edited), ("created", r.created_at),
        ("created by", r.created_by), ("due", r.due_at), ("response", r.response),
        ("comment", r.comment), ("resolved by", r.resolved_by), ("resolved", r.resolved_at),
    ]  # fmt: skip
    for name, value in rows:
        if value is not None:
            structured = isinstance(value, dict | list | BaseModel)
            shown = json.dumps(jsonable(value), indent=2) if structured else str(value)
            grid.add_row(name, escape(shown))
    out().print(grid)


def _routing_rows(r: Request) -> list[tuple[str, Any]]:
    """Who may answer and who holds it; read by name, as older servers send none of it."""
    candidates = getattr(r, "candidates", None)
    approvals = getattr(r, "approvals", None)
    return [
        ("candidates", _refs(candidates) if candidates else None),
        ("assigned to", getattr(r, "assigned_to", None)),
        ("assigned", getattr(r, "assigned_at", None)),
        # 0 is where every request starts: only a level reached by escalating is news.
        ("level", getattr(r, "level", None) or None),
        ("stage", getattr(r, "stage", None) if approvals else None),
        ("reminders", getattr(r, "reminders", None) or None),
        ("approvals", approvals),
        ("quorum", getattr(r, "quorum", None)),
        ("assignment", getattr(r, "assignment", None)),
    ]


def _print_votes(votes: list[Any]) -> None:
    table = Table(
        "Stage", "Actor", "Response", "Comment", "At", title="Votes", title_justify="left"
    )
    for vote in votes:
        stage, level, actor, response, comment, at = (
            _part(vote, name) for name in ("stage", "level", "actor", "response", "comment", "at")
        )
        table.add_row(
            str(stage if stage is not None else level), escape(actor or ""),
            escape(as_text(response)), escape(comment or ""), escape(_moment(at)),
        )  # fmt: skip
    out().print(table)


def _part(item: Any, name: str) -> Any:
    """A field of a vote, whether the SDK read it as a model or kept it as JSON."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _moment(value: datetime | str | None) -> str:
    """A time as people read it; a vote's time may still be the server's ISO text."""
    if isinstance(value, str):
        try:
            return _moment(datetime.fromisoformat(value))
        except ValueError:
            return value
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


def _print_events(events: list[Event]) -> None:
    table = Table("#", "Type", "Actor", "Reason", "At", title="Events", title_justify="left")
    for e in events:
        table.add_row(str(e.id), e.type, escape(e.actor), escape(e.reason or ""), _moment(e.at))
    out().print(table)


@app.command("respond")
def respond(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="The request id.")],
    value: Annotated[str, typer.Argument(help="The answer: an option, yes/no, text, or JSON.")],
    comment: Annotated[str | None, typer.Option(help="A note for the agent.")] = None,
    json_value: Annotated[bool, typer.Option("--json-value", help="VALUE is JSON.")] = False,
    edited: Annotated[
        str | None,
        typer.Option(help="With the answer modify or edit: the changed payload, a JSON object."),
    ] = None,
) -> None:
    """Answer a request."""
    changed = parse_json(edited, "--edited") if edited is not None else None
    with connect(ctx) as client:
        response = parse_json(value, "VALUE") if json_value else _coerce(client.get(id), value)
        request = client.respond(id, response, comment=comment, edited=changed)
    done(f"Answered {request.id}: {as_text(request.response)}")


def _coerce(request: Request, value: str) -> Any:
    """Read VALUE as the request's kind expects: a bool for confirmation, JSON for form."""
    if request.kind == Kind.CONFIRMATION:
        if value.lower() in _YES | _NO:
            return value.lower() in _YES
        fail(f"{request.id} is a confirmation: answer yes or no, not {value!r}", ExitCode.USAGE)
    if request.kind == Kind.FORM:
        return parse_json(value, "VALUE")
    return value


@app.command("cancel")
def cancel(ctx: typer.Context, id: RequestId, reason: Reason = None) -> None:
    """Cancel an open request."""
    with connect(ctx) as client:
        request = client.cancel(id, reason=reason)
    done(f"Cancelled {request.id}")


@app.command("claim")
def claim(ctx: typer.Context, id: RequestId) -> None:
    """Take a request: it is assigned to you until you answer or release it."""
    with connect(ctx) as client:
        request = client.claim(id)
    done(f"Claimed {request.id}{_holder(request)}")


@app.command("release")
def release(ctx: typer.Context, id: RequestId, reason: Reason = None) -> None:
    """Give a request you hold back to its candidates."""
    with connect(ctx) as client:
        request = client.release(id, reason=reason)
    done(f"Released {request.id}{_holder(request)}")


@app.command("reassign")
def reassign(
    ctx: typer.Context,
    id: RequestId,
    to: Annotated[str, typer.Argument(help="user:<handle>, role:<name> or team:<name>.")],
    reason: Reason = None,
) -> None:
    """Hand a request to a user, or make a role or team its candidates."""
    with connect(ctx) as client:
        request = client.reassign(id, to, reason=reason)
    done(f"Reassigned {request.id}{_holder(request)}")


@app.command("escalate")
def escalate(ctx: typer.Context, id: RequestId, reason: Reason = None) -> None:
    """Run a request's escalation now, as if its timeout had passed."""
    with connect(ctx) as client:
        request = client.escalate(id, reason=reason)
    done(f"Escalated {request.id}{_holder(request)}")


def _holder(request: Request) -> str:
    """Where a request stands now: who holds it, or who may claim it."""
    if request.resolution is not None:
        return f": {request.resolution}"
    if assigned_to := getattr(request, "assigned_to", None):
        return f": assigned to {assigned_to}"
    if candidates := getattr(request, "candidates", None):
        return f": pending for {_refs(candidates)}"
    return ""


def _refs(refs: list[str]) -> str:
    return ", ".join("any responder" if ref == "*" else ref for ref in refs)
