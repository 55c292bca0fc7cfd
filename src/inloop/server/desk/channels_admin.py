"""Admin pages for channels and the outbox, and every user's own notification settings.

Channels: list, add (settings as JSON, secrets in password fields), change settings, set
or unset a secret (never shown: only "set"), switch on or off, remove. Deliveries: the
log by status, one delivery's attempts, replays. ``/desk/notifications``: where the
signed-in user is reached, channel by channel, and whether they want to be told there.
Everything goes through ``ChannelService`` and ``DeliveryService``, as the API does.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from inloop.domain.channels import (
    CONFIGS,
    ChannelKind,
    ChannelUpdate,
    NewChannel,
    UserChannelUpdate,
)
from inloop.domain.deliveries import DeliveryStatus
from inloop.domain.errors import DomainError, InvalidError
from inloop.server.api.deps import ServicesDep
from inloop.server.desk.admin import _done, _page, _problem
from inloop.server.desk.auth import DeskAdmin, DeskRoute, DeskUser, render, verify_csrf
from inloop.server.store.deliveries import DeliveryFilter

router = APIRouter(route_class=DeskRoute)
csrf = [Depends(verify_csrf)]
Text = Annotated[str, Form(max_length=20_000)]
Secret = Annotated[str, Form(max_length=4000)]
HUMAN = [ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.EMAIL, ChannelKind.SMS]


def _settings(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidError(f"settings are not valid JSON: {exc}", field="config") from None
    if not isinstance(value, dict):
        raise InvalidError('settings are a JSON object: {"url": "..."}', field="config")
    return value


def _kinds() -> list[dict[str, Any]]:
    return [
        {
            "kind": kind.value,
            "settings": list(config.model_fields),
            "secrets": list(secrets.model_fields),
        }
        for kind, (config, secrets) in CONFIGS.items()
    ]


async def _channels_page(
    request: Request, session: DeskAdmin, services: ServicesDep, **extra: Any
) -> Response:
    channels = await services.channels.list_channels(session.principal)
    status = extra.pop("status_code", 200)
    context = {"channels": channels, "kinds": _kinds(), "form": {}, **extra}
    return _page(request, "admin/channels.html", context, status_code=status)


@router.get("/admin/channels")
async def channels_page(request: Request, session: DeskAdmin, services: ServicesDep) -> Response:
    return await _channels_page(request, session, services)


@router.post("/admin/channels", dependencies=csrf)
async def add_channel(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    name: Text = "",
    kind: Text = "",
    config: Text = "",
    secret_name: Annotated[list[str] | None, Form()] = None,
    secret_value: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = {"name": name, "kind": kind, "config": config}
    try:
        secrets = {
            n.strip(): v
            for n, v in zip(secret_name or [], secret_value or [], strict=False)
            if n.strip() and v
        }
        new = NewChannel.model_validate(
            {"name": name.strip(), "kind": kind, "config": _settings(config), "secrets": secrets}
        )
        created = await services.channels.create(session.principal, new)
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        return await _channels_page(
            request, session, services, form=form,
            error={"message": message, "field": field}, status_code=status,
        )  # fmt: skip
    extra = {"secret": created.signing_secret, "key_id": "its signing secret"}
    return _done(
        f"/desk/admin/channels/{created.name}",
        f"Channel {created.name} added."
        + (
            " Copy its signing secret now: it is not shown again." if created.signing_secret else ""
        ),
        request,
        **({k: v for k, v in extra.items() if v} if created.signing_secret else {}),
    )


async def _channel_page(
    request: Request, name: str, session: DeskAdmin, services: ServicesDep, **extra: Any
) -> Response:
    channel = await services.channels.get(session.principal, name)
    status = extra.pop("status_code", 200)
    known = CONFIGS[channel.kind][1].model_fields
    context = {
        "channel": channel,
        "config_json": orjson.dumps(channel.config, option=orjson.OPT_INDENT_2).decode(),
        "secret_names": list(known),
        **extra,
    }
    return _page(request, "admin/channel.html", context, status_code=status)


@router.get("/admin/channels/{name}")
async def channel_page(
    request: Request, name: str, session: DeskAdmin, services: ServicesDep
) -> Response:
    return await _channel_page(request, name, session, services)


@router.post("/admin/channels/{name}", dependencies=csrf)
async def update_channel(
    request: Request,
    name: str,
    session: DeskAdmin,
    services: ServicesDep,
    config: Text = "",
    secret_name: Text = "",
    secret_value: Secret = "",
    unset_secret: Text = "",
    enabled: Text = "",
) -> Response:
    try:
        values: dict[str, Any] = {}
        if config.strip():
            current = (await services.channels.get(session.principal, name)).config
            wanted = _settings(config)
            values["config"] = {**{k: None for k in current if k not in wanted}, **wanted}
        if secret_name.strip() and secret_value:
            values["secrets"] = {secret_name.strip(): secret_value}
        if unset_secret.strip():
            values["secrets"] = {unset_secret.strip(): None}
        if enabled in ("true", "false"):
            values["enabled"] = enabled == "true"
        await services.channels.update(
            session.principal, name, ChannelUpdate.model_validate(values)
        )
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        return await _channel_page(
            request, name, session, services,
            error={"message": message, "field": field}, status_code=status,
        )  # fmt: skip
    return _done(f"/desk/admin/channels/{name}", f"{name} saved.", request)


@router.post("/admin/channels/{name}/delete", dependencies=csrf)
async def delete_channel(
    request: Request, name: str, session: DeskAdmin, services: ServicesDep
) -> Response:
    await services.channels.delete(session.principal, name)
    return _done("/desk/admin/channels", f"Channel {name} removed.", request)


# deliveries


@router.get("/admin/deliveries")
async def deliveries_page(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    status: str = "",
    channel: str = "",
    cursor: str | None = None,
) -> Response:
    wanted = [DeliveryStatus(status)] if status in DeliveryStatus.__members__.values() else []
    where = DeliveryFilter(status=wanted, channel=channel or None)
    items, next_cursor = await services.deliveries.list_deliveries(
        session.principal, where, limit=100, cursor=cursor
    )
    context = {
        "deliveries": items,
        "next_cursor": next_cursor,
        "status": status,
        "channel": channel,
        "statuses": [s.value for s in DeliveryStatus],
    }
    return _page(request, "admin/deliveries.html", context)


@router.get("/admin/deliveries/{delivery_id}")
async def delivery_page(
    request: Request, delivery_id: int, session: DeskAdmin, services: ServicesDep
) -> Response:
    found = await services.deliveries.get(session.principal, delivery_id)
    return _page(request, "admin/delivery.html", {"delivery": found})


@router.post("/admin/deliveries/{delivery_id}/replay", dependencies=csrf)
async def replay(
    request: Request, delivery_id: int, session: DeskAdmin, services: ServicesDep
) -> Response:
    await services.deliveries.replay(session.principal, delivery_id)
    return _done(
        f"/desk/admin/deliveries/{delivery_id}", f"Delivery {delivery_id} replayed.", request
    )


@router.post("/admin/deliveries/replay-dead", dependencies=csrf)
async def replay_dead(
    request: Request, session: DeskAdmin, services: ServicesDep, channel: Text = ""
) -> Response:
    ids = await services.deliveries.replay_dead(session.principal, channel=channel or None)
    return _done(
        "/desk/admin/deliveries?status=pending", f"{len(ids)} dead letters replayed.", request
    )


# the signed-in user's own settings


async def _notifications_page(
    request: Request, session: DeskUser, services: ServicesDep, **extra: Any
) -> Response:
    handle = session.user.handle
    mine = {a.channel: a for a in await services.channels.addresses(session.principal, handle)}
    records = await services.db.read(services.channels.snapshot)
    channels = [r for r in records if r.kind in HUMAN and r.enabled]
    status = extra.pop("status_code", 200)
    context = {"channels": channels, "mine": mine, "error": None, **extra}
    return render(request, "notifications.html", context, status_code=status)


@router.get("/notifications")
async def notifications(request: Request, session: DeskUser, services: ServicesDep) -> Response:
    return await _notifications_page(request, session, services, notice=None)


@router.post("/notifications", dependencies=csrf)
async def set_notifications(
    request: Request,
    session: DeskUser,
    services: ServicesDep,
    channel: Text = "",
    address: Text = "",
    enabled: Text = "",
) -> Response:
    handle = session.user.handle
    try:
        if address.strip():
            update = UserChannelUpdate(address=address.strip(), enabled=enabled == "true")
            await services.channels.set_address(session.principal, handle, channel, update)
        else:
            await services.channels.remove_address(session.principal, handle, channel)
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        return await _notifications_page(
            request, session, services, notice=None,
            error={"message": message, "field": field, "channel": channel}, status_code=status,
        )  # fmt: skip
    return await _notifications_page(request, session, services, notice=f"{channel} saved.")
