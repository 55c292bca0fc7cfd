"""The ``inloop`` command: ask humans from a shell, administer a server, run one.

Client commands talk to a server over HTTP through the SDK; ``serve`` and ``db`` come from
``inloop.cli.server`` and need the server extra.
"""

from __future__ import annotations

from typing import Annotated

import typer

from inloop._version import __version__
from inloop.cli import channels, handoff, identity, passwords, requests, runs, workflows
from inloop.cli import tickets as tickets_cli
from inloop.cli._context import Settings
from inloop.cli.ask import ask
from inloop.cli.monitoring import alerts as alerts_cli
from inloop.cli.monitoring import stats as stats_command
from inloop.cli.policy import app as policy_app
from inloop.cli.server import register
from inloop.client._base import DEFAULT_URL

app = typer.Typer(
    name="inloop",
    help="Inloop: pause an AI agent, ask a human, resume.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"inloop {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    server: Annotated[
        str, typer.Option("--server", envvar="INLOOP_URL", help="The Inloop server's URL.")
    ] = DEFAULT_URL,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="INLOOP_TOKEN", help="An API key.", show_default=False),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Settings(server=server, token=token)


app.command(
    help="Ask humans a question, wait for the answer and print it. Exit codes: 0 answered, "
    "1 rejected, 2 usage error, 3 no answer (timed out, cancelled, transferred), "
    "4 server unreachable or refused the credentials, 130 interrupted (cancelled)."
)(ask)
app.add_typer(requests.app, name="requests")
app.add_typer(runs.app, name="runs")
app.add_typer(workflows.app, name="workflow")
app.command("worker")(runs.worker)
app.command()(identity.presence)
identity.users.command("password")(passwords.password)
app.add_typer(identity.users, name="users")
app.add_typer(identity.teams, name="teams")
app.add_typer(identity.keys, name="keys")
app.add_typer(channels.channels, name="channels")
app.add_typer(channels.deliveries, name="deliveries")
app.add_typer(handoff.app, name="handoff")
app.add_typer(tickets_cli.sessions, name="sessions")
app.add_typer(tickets_cli.tickets, name="tickets")
app.add_typer(policy_app, name="policy")
app.command("stats")(stats_command)
app.add_typer(alerts_cli, name="alerts")
register(app)


def main() -> None:
    """The console script's entry point."""
    app()
