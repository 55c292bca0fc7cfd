"""``inloop users``, ``inloop teams`` and ``inloop keys``: identity administration."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, connect, done, echo_json, fail
from inloop.cli._context import stderr as err
from inloop.cli._context import stdout as out
from inloop.client._calls import UNSET, Unset
from inloop.models import ApiKey, Scope, Team, User

users = typer.Typer(help="Create and manage the people who answer requests.", no_args_is_help=True)
teams = typer.Typer(help="Group users into teams that requests can be assigned to.",
                    no_args_is_help=True)  # fmt: skip
keys = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Handle = Annotated[str, typer.Argument(help="The user's handle.")]
TeamName = Annotated[str, typer.Argument(help="The team's name.")]


def _users_table(items: list[User]) -> None:
    table = Table("Handle", "Name", "Email", "Roles", "Teams", "Disabled", "Presence", "Load")
    for u in items:
        table.add_row(
            escape(u.handle), escape(u.name), escape(u.email or ""), escape(", ".join(u.roles)),
            escape(", ".join(u.teams)), "yes" if u.disabled else "",
            escape(getattr(u, "presence", None) or ""), _capacity(u),
        )  # fmt: skip
    out().print(table)


def _capacity(user: User) -> str:
    """Open assigned requests over the capacity, e.g. ``2/5`` or ``2/unlimited``.

    Read by name: older servers send neither field, and then the cell stays empty.
    """
    if "capacity" not in user.model_fields_set:
        return ""
    capacity = getattr(user, "capacity", None)
    cap = "unlimited" if capacity is None else str(capacity)
    open_assigned = getattr(user, "open_assigned", None)
    return cap if open_assigned is None else f"{open_assigned}/{cap}"


@users.command("create")
def create_user(
    ctx: typer.Context,
    handle: Handle,
    name: Annotated[str, typer.Argument(help="The user's full name.")],
    email: Annotated[str | None, typer.Option()] = None,
    role: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
) -> None:
    """Create a user."""
    with connect(ctx) as client:
        user = client.create_user(handle, name, email=email, roles=role)
    done(f"Created user {user.handle}")


@users.command("ls")
def list_users(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List users."""
    with connect(ctx) as client:
        items = client.list_users()
    if as_json:
        echo_json(items)
    else:
        _users_table(items)


@users.command("show")
def show_user(ctx: typer.Context, handle: Handle, as_json: JsonFlag = False) -> None:
    """Show one user."""
    with connect(ctx) as client:
        user = client.get_user(handle)
    if as_json:
        echo_json(user)
    else:
        _users_table([user])


@users.command("update")
def update_user(
    ctx: typer.Context,
    handle: Handle,
    name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    capacity: Annotated[
        int | None, typer.Option(min=1, help="Most open requests assigned to them at once.")
    ] = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Remove the capacity.")] = False,
) -> None:
    """Change a user's name, email or capacity."""
    if unlimited and capacity is not None:
        fail("--capacity and --unlimited exclude each other", ExitCode.USAGE)
    cap: int | Unset | None = None if unlimited else UNSET if capacity is None else capacity
    with connect(ctx) as client:
        user = client.update_user(handle, name=name, email=email, capacity=cap)
    done(f"Updated user {user.handle}")


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


def presence(
    ctx: typer.Context,
    state: Annotated[Presence, typer.Argument(help="online, away or offline.")],
    user: Annotated[
        str | None, typer.Option(help="Set this user's instead of yours (admin).")
    ] = None,
) -> None:
    """Say whether you are online, away or offline; offline users get no new requests."""
    with connect(ctx) as client:
        changed = client.set_presence(state.value, user=user)
    done(f"{changed.handle} is {getattr(changed, 'presence', None) or state.value}")


@users.command("disable")
def disable_user(ctx: typer.Context, handle: Handle) -> None:
    """Lock a user out; their keys stop working."""
    with connect(ctx) as client:
        client.update_user(handle, disabled=True)
    done(f"Disabled user {handle}")


@users.command("enable")
def enable_user(ctx: typer.Context, handle: Handle) -> None:
    """Let a disabled user back in."""
    with connect(ctx) as client:
        client.update_user(handle, disabled=False)
    done(f"Enabled user {handle}")


@users.command("grant")
def grant(ctx: typer.Context, handle: Handle, role: str) -> None:
    """Give a user a role."""
    with connect(ctx) as client:
        user = client.grant_role(handle, role)
    done(f"{user.handle} now has roles: {', '.join(user.roles)}")


@users.command("revoke")
def revoke(ctx: typer.Context, handle: Handle, role: str) -> None:
    """Take a role from a user."""
    with connect(ctx) as client:
        user = client.revoke_role(handle, role)
    done(f"{user.handle} now has roles: {', '.join(user.roles) or 'none'}")


def _teams_table(items: list[Team]) -> None:
    table = Table("Name", "Description", "Members")
    for t in items:
        table.add_row(escape(t.name), escape(t.description or ""), escape(", ".join(t.members)))
    out().print(table)


@teams.command("create")
def create_team(
    ctx: typer.Context, name: TeamName, description: Annotated[str | None, typer.Option()] = None
) -> None:
    """Create a team."""
    with connect(ctx) as client:
        team = client.create_team(name, description=description)
    done(f"Created team {team.name}")


@teams.command("ls")
def list_teams(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List teams."""
    with connect(ctx) as client:
        items = client.list_teams()
    if as_json:
        echo_json(items)
    else:
        _teams_table(items)


@teams.command("show")
def show_team(ctx: typer.Context, name: TeamName, as_json: JsonFlag = False) -> None:
    """Show one team and its members."""
    with connect(ctx) as client:
        team = client.get_team(name)
    if as_json:
        echo_json(team)
    else:
        _teams_table([team])


@teams.command("delete")
def delete_team(ctx: typer.Context, name: TeamName) -> None:
    """Delete a team."""
    with connect(ctx) as client:
        client.delete_team(name)
    done(f"Deleted team {name}")


@teams.command("add")
def add_member(ctx: typer.Context, team: TeamName, handle: Handle) -> None:
    """Add a user to a team."""
    with connect(ctx) as client:
        client.add_member(team, handle)
    done(f"Added {handle} to {team}")


@teams.command("remove")
def remove_member(ctx: typer.Context, team: TeamName, handle: Handle) -> None:
    """Remove a user from a team."""
    with connect(ctx) as client:
        client.remove_member(team, handle)
    done(f"Removed {handle} from {team}")


@keys.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    scope: Annotated[
        list[Scope], typer.Option(help="agent, responder, admin or metrics; repeatable.")
    ],
    user: Annotated[str | None, typer.Option(help="Handle of the user it acts as.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key and print its secret, once."""
    with connect(ctx) as client:
        key = client.create_key(name, scope, user=user)
    err().print(
        f"[yellow]Created key {key.id}. Store its secret now: it is not shown again.",
        highlight=False,
    )
    if as_json:
        echo_json(key)
    else:
        typer.echo(key.secret)


@keys.command("ls")
def list_keys(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List API keys (never their secrets)."""
    with connect(ctx) as client:
        items = client.list_keys()
    if as_json:
        echo_json(items)
        return
    table = Table("ID", "Name", "Scopes", "User", "Created", "Last used", "Revoked")
    for k in items:
        table.add_row(
            k.id, escape(k.name), ", ".join(k.scopes), escape(k.user or ""), _day(k.created_at),
            _day(k.last_used_at), _day(k.revoked_at),
        )  # fmt: skip
    out().print(table)


def _day(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else ""


@keys.command("revoke")
def revoke_key(
    ctx: typer.Context, id: Annotated[str, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke an API key; it stops working at once."""
    with connect(ctx) as client:
        key: ApiKey = client.revoke_key(id)
    done(f"Revoked key {key.id} ({key.name})")
