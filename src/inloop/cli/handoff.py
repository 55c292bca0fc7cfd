"""``inloop handoff``: show and configure the project-wide handoff settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from inloop.cli._context import ExitCode, connect, done, echo_json, fail, stdout
from inloop.client._calls import Call
from inloop.domain.errors import InvalidError
from inloop.domain.handoff_settings import parse_cli_value

app = typer.Typer(
    help="Live handoff: the hitl provider and the project's settings.", no_args_is_help=True
)


def _settings_call(body: dict[str, Any] | None = None) -> Call[dict[str, Any]]:
    if body is None:
        return Call("GET", "/v1/handoff/settings", lambda r: dict(r.json()))
    return Call("PUT", "/v1/handoff/settings", lambda r: dict(r.json()), body=body)


def _show(settings: dict[str, Any]) -> None:
    table = Table("setting", "value")
    for key, value in settings.items():
        table.add_row(
            key, "NULL (silenced)" if value is None and key.startswith("on_") else repr(value)
        )
    stdout().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every setting in force (secrets show only whether they are set)."""
    with connect(ctx) as client:
        settings = client._send(_settings_call())
    if json_output:
        echo_json(settings)
    else:
        _show(settings)


@app.command("configure")
def configure(
    ctx: typer.Context,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Point the hitl interface at a provider: hitl=desk|webhook|zendesk."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="key=value (NULL silences a message); repeat for more."),
    ] = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", help="Back to the default.")] = None,
) -> None:
    """Set project-wide settings: ``--map hitl=desk``, ``--set user_hitl_close_command=/stop``."""
    values: dict[str, Any] = {}
    for item in map_ or []:
        interface, sep, provider = item.partition("=")
        if not sep or interface != "hitl" or not provider:
            fail(f"--map takes hitl=<provider>, got {item!r}", ExitCode.USAGE)
        values["provider"] = provider
    for item in set_ or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            fail(f"--set takes key=value, got {item!r}", ExitCode.USAGE)
        try:
            values[key.strip()] = parse_cli_value(key.strip(), text)
        except InvalidError as exc:
            fail(exc.message, ExitCode.USAGE)
    if not values and not unset:
        fail(
            "say what to change: --map hitl=<provider>, --set key=value or --unset key",
            ExitCode.USAGE,
        )
    with connect(ctx) as client:
        settings = client._send(_settings_call({"set": values, "unset": list(unset or [])}))
    done(f"handoff settings changed: {', '.join([*values, *(unset or [])])}")
    _show({k: settings[k] for k in [*values, *(unset or [])] if k in settings})


__all__ = ["app"]
