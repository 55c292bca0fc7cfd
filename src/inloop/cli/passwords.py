"""``inloop users password HANDLE``: set or reset a user's desk password (admin)."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from inloop.cli._context import connect, done
from inloop.cli._context import stdout as out
from inloop.client._calls import Call, json_body, one, segment
from inloop.models import User


def password(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The user's handle.")],
    generate: Annotated[
        bool, typer.Option("--generate", help="Make up a strong password and print it.")
    ] = False,
) -> None:
    """Set a user's desk password (asked twice, or --generate); their sessions end."""
    if generate:
        value = secrets.token_urlsafe(12)
    else:
        value = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    call = Call(
        "POST",
        f"/v1/users/{segment(handle)}/password",
        one(User),
        body=json_body({"password": value}),
    )
    with connect(ctx) as client:
        client._send(call)
    done(f"Password of {handle} set; their desk sessions were signed out.")
    if generate:
        out().print(value, markup=False, highlight=False)
