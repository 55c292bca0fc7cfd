"""``/v1/channels`` (admin) and ``/v1/users/{handle}/channels`` (admin, or the user)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from inloop.domain.channels import (
    Channel,
    ChannelUpdate,
    CreatedChannel,
    NewChannel,
    UserChannel,
    UserChannelUpdate,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, items, json

router = APIRouter(prefix="/v1", tags=["channels"])


class CallbackSecret(BaseModel):
    signing_secret: str


@router.post("/channels", status_code=201, response_model=CreatedChannel)
async def create_channel(
    new: NewChannel, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Configure a channel. Secrets are write-only: the answer says which are set. A
    webhook's signing secret, when Inloop generates it, is shown here once."""
    return json(await services.channels.create(principal, new), 201)


@router.get("/channels", response_model=dict[str, list[Channel]])
async def list_channels(services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.channels.list_channels(principal))


@router.get("/channels/callback-secret", response_model=CallbackSecret)
async def callback_secret(services: ServicesDep, principal: PrincipalDep) -> Response:
    """The Standard Webhooks secret that signs deliveries to requests' ``callback_url``."""
    principal.require()
    return json(CallbackSecret(signing_secret=services.channels.callback_secret()))


@router.get("/channels/{name}", response_model=Channel)
async def get_channel(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.channels.get(principal, name))


@router.patch("/channels/{name}", response_model=Channel)
async def update_channel(
    name: str, update: ChannelUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.channels.update(principal, name, update))


@router.delete("/channels/{name}", status_code=204)
async def delete_channel(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    await services.channels.delete(principal, name)
    return Response(status_code=204)


@router.get("/users/{handle}/channels", response_model=dict[str, list[UserChannel]])
async def user_channels(handle: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.channels.addresses(principal, handle))


@router.put("/users/{handle}/channels/{channel}", response_model=UserChannel)
async def set_user_channel(
    handle: str,
    channel: str,
    update: UserChannelUpdate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> Response:
    """Where the user is reached on the channel, and whether they want to be told there."""
    return json(await services.channels.set_address(principal, handle, channel, update))


@router.delete("/users/{handle}/channels/{channel}", status_code=204)
async def remove_user_channel(
    handle: str, channel: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    await services.channels.remove_address(principal, handle, channel)
    return Response(status_code=204)
