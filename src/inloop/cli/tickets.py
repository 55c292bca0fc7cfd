"""``inloop sessions`` and ``inloop tickets``: an agent session's state and history, the
handoff tickets, and the ticket priority rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, as_text, connect, done, echo_json, fail, parse_json
from inloop.cli._context import stdout as console
from inloop.domain.tickets import Ticket, TicketRules

sessions = typer.Typer(help="Agent sessions: state, turns and history.", no_args_is_help=True)
tickets = typer.Typer(help="Handoff tickets and their priority rules.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@sessions.command("show")
def show_session(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="The session's id.")],
    last: Annotated[int, typer.Option(help="How many history entries to show.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """The session's state, then its latest history: state changes, turns, escalations,
    confirmation steps."""
    with connect(ctx) as client:
        session = client.sessions.get(session_id)
        history = client.sessions.history(session_id)[-last:] if session.exists else []
    if json_output:
        echo_json({"session": session.model_dump(mode="json"), "history": history})
        return
    if not session.exists:
        console().print(f"no session {escape(session_id)} yet (it starts with its first write)")
        return
    flag = " [red]escalated[/]" if session.escalated else ""
    console().print(f"[bold]{escape(session.id)}[/] version {session.version}{flag}")
    state = Table("key", "value", title="state")
    for key, value in session.state.items():
        state.add_row(escape(key), escape(as_text(value)))
    console().print(state)
    log = Table("#", "at", "type", "actor", "reasoning", "what", title="history")
    for entry in history:
        what = entry.data.get("step") or ", ".join(entry.data.get("changes", {})) or ""
        if entry.type == "turn":
            what = as_text(entry.data.get("input"))[:60]
        log.add_row(
            str(entry.id), entry.created_at.strftime("%Y-%m-%d %H:%M:%S"), entry.type.value,
            escape(entry.actor), escape(entry.reasoning or ""), escape(str(what)),
        )  # fmt: skip
    console().print(log)


def _ticket_table(found: list[Ticket]) -> Table:
    table = Table("ticket", "priority", "status", "session", "reason", "created")
    for ticket in found:
        table.add_row(
            ticket.label, ticket.priority.value, ticket.status.value, escape(ticket.session_id),
            escape(ticket.reason[:80]), ticket.created_at.strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip
    return table


@tickets.command("ls")
def list_tickets(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option(help="open|assigned|resolved|closed")] = None,
    priority: Annotated[list[str] | None, typer.Option(help="urgent, high, normal, low")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_output: JsonOption = False,
) -> None:
    """Tickets, newest first."""
    with connect(ctx) as client:
        found = client.tickets.list(
            session_id=session, status=status, priority=priority, limit=limit
        )
    if json_output:
        echo_json(found)
    else:
        console().print(_ticket_table(found))


@tickets.command("show")
def show_ticket(
    ctx: typer.Context,
    ticket_id: Annotated[str, typer.Argument(help="tkt_..., 12 or #12.")],
    json_output: JsonOption = False,
) -> None:
    """One ticket with the history and state it captured."""
    with connect(ctx) as client:
        ticket = client.tickets.get(ticket_id)
    if json_output:
        echo_json(ticket)
        return
    console().print(_ticket_table([ticket]))
    rule = ticket.rule or "the default"
    console().print(f"priority by {escape(rule)}; desk request {ticket.request_id}")
    history = Table("at", "from", "text", title="history")
    for line in ticket.history:
        history.add_row(line.at.strftime("%H:%M:%S"), line.role, escape(line.text))
    console().print(history)
    console().print(f"state: {escape(as_text(ticket.state))}")


@tickets.command("rules")
def rules(
    ctx: typer.Context,
    set_file: Annotated[
        Path | None,
        typer.Option("--set", help="Replace the rules with this JSON file (admin).", exists=True),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to seed 004's defaults.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the priority rules (first match wins), replace them, or reset them."""
    if set_file is not None and reset:
        fail("give --set FILE or --reset, not both", ExitCode.USAGE)
    with connect(ctx) as client:
        if set_file is not None:
            body = parse_json(set_file.read_text(), "--set")
            if not isinstance(body, dict):
                fail('--set takes a JSON object: {"rules": [...], ...}', ExitCode.USAGE)
            current = client.tickets.set_rules(body)
            done(f"ticket rules replaced: {len(current.rules)} rules")
        elif reset:
            current = client.tickets.reset_rules()
            done("ticket rules reset to the defaults")
        else:
            current = client.tickets.rules()
    if json_output:
        echo_json(current)
    else:
        console().print(_rules_table(current))


def _rules_table(current: TicketRules) -> Table:
    table = Table("#", "rule", "keywords", "in", "priority")
    for i, rule in enumerate(current.rules, 1):
        table.add_row(
            str(i), escape(rule.name), escape(", ".join(rule.keywords)), ", ".join(rule.fields),
            rule.priority.value,
        )  # fmt: skip
    table.add_row("", "(none matched)", "", "", current.default_priority.value)
    return table


__all__ = ["sessions", "tickets"]
