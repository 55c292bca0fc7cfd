"""``inloop channels`` and ``inloop deliveries``: where humans are reached, and the outbox.

Secrets are given as ``--secret name`` (asked for, hidden), ``--secret name=@file``,
``--secret name=env:VAR`` or ``--secret name=value``; they are never printed back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, connect, done, echo_json, fail, parse_json
from inloop.cli._context import stdout as out
from inloop.domain.channels import Channel
from inloop.domain.deliveries import Delivery, DeliveryDetail

channels = typer.Typer(
    help="Configure Slack, Teams, email, SMS and webhook channels.", no_args_is_help=True
)
deliveries = typer.Typer(
    help="The outbox: what was sent where, dead letters, replays.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Name = Annotated[str, typer.Argument(help="The channel's name.")]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="A setting, key=value (a JSON value, or text). Repeatable."),
]
Secrets = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help="A secret: name (asked for), name=@file, name=env:VAR or name=value. Repeatable.",
    ),
]


def _settings(pairs: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--set {pair!r}: write key=value", ExitCode.USAGE)
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw  # plain text: a URL, a host, a name
    return values


def _secrets(pairs: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not key:
            fail(f"--secret {pair!r}: write a name, or name=value", ExitCode.USAGE)
        if not sep:
            raw = typer.prompt(f"{key}", hide_input=True)
        elif raw.startswith("@"):
            try:
                raw = Path(raw[1:]).read_text().strip()
            except OSError as exc:
                fail(f"--secret {key}: cannot read {raw[1:]}: {exc.strerror}", ExitCode.USAGE)
        elif raw.startswith("env:"):
            found = os.environ.get(raw[4:])
            if not found:
                fail(f"--secret {key}: the environment has no {raw[4:]}", ExitCode.USAGE)
            raw = found
        values[key] = raw
    return values


def _table(items: list[Channel]) -> None:
    table = Table("Name", "Kind", "Enabled", "Settings", "Secrets set", "Callback URLs")
    for c in items:
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in c.config.items())
        urls = "\n".join(f"{k}: {v}" for k, v in c.inbound_urls.items())
        table.add_row(
            escape(c.name), c.kind.value, "yes" if c.enabled else "no", escape(settings),
            escape(", ".join(c.secrets_set)), escape(urls),
        )  # fmt: skip
    out().print(table)


@channels.command("ls")
def list_channels(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the channels."""
    with connect(ctx) as client:
        items = client.list_channels()
    echo_json(items) if as_json else _table(items)


@channels.command("show")
def show_channel(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Show one channel (its secrets only as set or not)."""
    with connect(ctx) as client:
        found = client.get_channel(name)
    echo_json(found) if as_json else _table([found])


@channels.command("add")
def add_channel(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="slack, teams, email, sms or webhook.")],
    name: Name,
    sets: Sets = None,
    secrets: Secrets = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
) -> None:
    """Add a channel, e.g. ``inloop channels add webhook ops --set url=https://...``."""
    config, secret_values = _settings(sets), _secrets(secrets)
    with connect(ctx) as client:
        created = client.create_channel(
            name, kind, config=config, secrets=secret_values, enabled=not disabled
        )
    done(f"Added {created.kind.value} channel {created.name}")
    if created.signing_secret:
        out().print(
            "Its signing secret (shown only now; receivers verify with it):\n"
            f"  [bold yellow]{escape(created.signing_secret)}[/]"
        )
    for label, url in created.inbound_urls.items():
        out().print(f"  {label}: {escape(url)}")


@channels.command("set")
def set_channel(
    ctx: typer.Context,
    name: Name,
    sets: Sets = None,
    secrets: Secrets = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Remove a setting or secret.")
    ] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
) -> None:
    """Change settings or secrets of a channel, or switch it on or off."""
    config: dict[str, Any] = _settings(sets)
    secret_values: dict[str, str | None] = dict(_secrets(secrets))
    with connect(ctx) as client:
        if unset:
            current = client.get_channel(name)
            for key in unset:
                if key in current.secrets_set:
                    secret_values[key] = None
                else:
                    config[key] = None
        client.update_channel(
            name, enabled=enable, config=config or None, secrets=secret_values or None
        )
    done(f"Updated channel {name}")


@channels.command("rm")
def remove_channel(ctx: typer.Context, name: Name) -> None:
    """Remove a channel (users' addresses on it go with it; its deliveries stay logged)."""
    with connect(ctx) as client:
        client.delete_channel(name)
    done(f"Removed channel {name}")


@channels.command("link")
def link(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The user's handle.")],
    name: Name,
    address: Annotated[
        str, typer.Argument(help="Slack user id, Teams user id, email or E.164 phone.")
    ],
    off: Annotated[bool, typer.Option("--off", help="Known there, but not notified.")] = False,
) -> None:
    """Say where a user is reached on a channel (and who answers from that address)."""
    with connect(ctx) as client:
        linked = client.set_user_channel(handle, name, address, enabled=not off)
    state = "notified" if linked.enabled else "not notified"
    done(f"{handle} is {linked.address} on {name} ({state})")


@channels.command("unlink")
def unlink(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The user's handle.")],
    name: Name,
) -> None:
    with connect(ctx) as client:
        client.remove_user_channel(handle, name)
    done(f"{handle} has no address on {name} any more")


@channels.command("addresses")
def addresses(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The user's handle.")],
    as_json: JsonFlag = False,
) -> None:
    """Where a user is reached."""
    with connect(ctx) as client:
        items = client.user_channels(handle)
    if as_json:
        echo_json(items)
        return
    table = Table("Channel", "Kind", "Address", "Notified")
    for a in items:
        table.add_row(
            escape(a.channel), a.kind.value, escape(a.address), "yes" if a.enabled else "no"
        )
    out().print(table)


# deliveries


def _deliveries_table(items: list[Delivery]) -> None:
    table = Table("Id", "Status", "Channel", "To", "Topic", "Attempts", "Due", "Last error")
    for d in items:
        due = d.due_at.isoformat(timespec="seconds") if d.due_at and d.status.is_open else ""
        table.add_row(
            str(d.id), d.status.value, escape(d.channel), escape(d.address or ""),
            escape(d.topic), str(d.attempts), due, escape((d.last_error or "")[:80]),
        )  # fmt: skip
    out().print(table)


@deliveries.command("ls")
def list_deliveries(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(help="pending, sending, delivered, dead, skipped. Repeatable."),
    ] = None,
    channel: Annotated[str | None, typer.Option()] = None,
    request: Annotated[str | None, typer.Option(help="Of this request.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, newest first."""
    with connect(ctx) as client:
        page = client.list_deliveries(
            status=status, channel=channel, request_id=request, limit=limit
        )
    echo_json(list(page.items)) if as_json else _deliveries_table(list(page.items))


@deliveries.command("show")
def show_delivery(
    ctx: typer.Context,
    id: Annotated[int, typer.Argument(help="The delivery's id.")],
    as_json: JsonFlag = False,
) -> None:
    """A delivery and its log: one line per attempt."""
    with connect(ctx) as client:
        found: DeliveryDetail = client.get_delivery(id)
    if as_json:
        echo_json(found)
        return
    _deliveries_table([found])
    table = Table("Attempt", "Replay", "At", "Took", "Outcome", "Status", "Error")
    for a in found.attempts_log:
        table.add_row(
            str(a.attempt), str(a.replay), a.at.isoformat(timespec="seconds"),
            f"{a.duration_ms} ms", a.outcome, str(a.status_code or ""),
            escape((a.error or "")[:100]),
        )  # fmt: skip
    out().print(table)


@deliveries.command("replay")
def replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead letter.")] = False,
    channel: Annotated[str | None, typer.Option(help="With --dead: of this channel.")] = None,
) -> None:
    """Send deliveries again (delivered, dead or skipped), retries from the start."""
    if bool(ids) == dead:
        fail("give delivery ids, or --dead", ExitCode.USAGE)
    with connect(ctx) as client:
        if dead:
            replayed = client.replay_dead(channel=channel)
        else:
            replayed = [client.replay_delivery(i).id for i in ids or []]
    done(f"Replaying {len(replayed)} deliveries" + (f": {replayed}" if replayed else ""))


@deliveries.command("send")
def send(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="The channel's name (or kind).")],
    key: Annotated[str, typer.Option(help="Names the intent: sending it twice sends once.")],
    to: Annotated[str | None, typer.Option(help="The address (not for webhooks).")] = None,
    text: Annotated[str | None, typer.Option(help="A message for a human.")] = None,
    subject: Annotated[str | None, typer.Option()] = None,
    event: Annotated[str | None, typer.Option(help="A webhook's JSON event.")] = None,
) -> None:
    """Deliver a message or an event now, through the outbox."""
    fields: dict[str, Any] = {"to": to}
    if text is not None:
        fields["message"] = {"text": text, **({"subject": subject} if subject else {})}
    if event is not None:
        fields["event"] = parse_json(event, "--event")
    with connect(ctx) as client:
        made = client.send_delivery(key, channel, **{k: v for k, v in fields.items() if v})
    done(f"Delivery {made.id} is {made.status.value}")
