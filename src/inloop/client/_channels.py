"""Channel and delivery administration, sync and async (admin, except a user's own
addresses). Each method is one call; the clients mix these in and supply ``_send``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx

from inloop.client import _calls as calls
from inloop.client._calls import Call, json_body, nothing, one, query, read, segment
from inloop.domain.channels import Channel, CreatedChannel, UserChannel
from inloop.domain.deliveries import Delivery, DeliveryDetail
from inloop.models import Page

T = TypeVar("T")


def _items(model: type[Any]) -> Any:
    return calls.items(model)


def _deliveries(response: httpx.Response) -> Page[Delivery]:
    body = response.json()
    return Page([read(Delivery, item) for item in body["items"]], body.get("next_cursor"))


def create_channel(
    name: str, kind: str, config: Mapping[str, Any] | None, secrets: Mapping[str, str] | None,
    enabled: bool,
) -> Call[CreatedChannel]:  # fmt: skip
    body = json_body({"name": name, "kind": kind, "config": config or {},
                      "secrets": secrets or {}, "enabled": enabled})  # fmt: skip
    return Call("POST", "/v1/channels", one(CreatedChannel), body=body)


def channel(method: str, name: str, body: Any = None) -> Call[Channel]:
    return Call(method, f"/v1/channels/{segment(name)}", one(Channel), body=body)


def delete_channel(name: str) -> Call[None]:
    return Call("DELETE", f"/v1/channels/{segment(name)}", nothing)


def list_channels() -> Call[list[Channel]]:
    return Call("GET", "/v1/channels", _items(Channel))


def user_channels(handle: str) -> Call[list[UserChannel]]:
    return Call("GET", f"/v1/users/{segment(handle)}/channels", _items(UserChannel))


def user_channel(handle: str, name: str, address: str, enabled: bool) -> Call[UserChannel]:
    path = f"/v1/users/{segment(handle)}/channels/{segment(name)}"
    return Call("PUT", path, one(UserChannel), body={"address": address, "enabled": enabled})


def remove_user_channel(handle: str, name: str) -> Call[None]:
    return Call("DELETE", f"/v1/users/{segment(handle)}/channels/{segment(name)}", nothing)


def list_deliveries(filters: Mapping[str, Any]) -> Call[Page[Delivery]]:
    return Call("GET", "/v1/deliveries", _deliveries, params=query(filters))


def delivery(id: int) -> Call[DeliveryDetail]:
    return Call("GET", f"/v1/deliveries/{int(id)}", one(DeliveryDetail))


def replay(id: int) -> Call[Delivery]:
    return Call("POST", f"/v1/deliveries/{int(id)}/replay", one(Delivery))


def replay_dead(channel: str | None, limit: int) -> Call[list[int]]:
    body = json_body({"channel": channel, "limit": limit})
    return Call(
        "POST", "/v1/deliveries/replay-dead", lambda r: list(r.json()["replayed"]), body=body
    )


def send(fields: Mapping[str, Any]) -> Call[Delivery]:
    return Call("POST", "/v1/deliveries", one(Delivery), body=json_body(fields))


class SyncChannels:
    """Channels and deliveries for ``Client``."""

    def _send(self, call: Call[T]) -> T:
        raise NotImplementedError

    def create_channel(
        self,
        name: str,
        kind: str,
        *,
        config: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        enabled: bool = True,
    ) -> CreatedChannel:
        """Configure a channel; its secrets are stored encrypted and never returned."""
        return self._send(create_channel(name, kind, config, secrets, enabled))

    def list_channels(self) -> list[Channel]:
        return self._send(list_channels())

    def get_channel(self, name: str) -> Channel:
        return self._send(channel("GET", name))

    def update_channel(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        config: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str | None] | None = None,
    ) -> Channel:
        """Merge ``config`` (a None value removes a key) and set ``secrets`` (None unsets)."""
        body = {"enabled": enabled, "config": config, "secrets": secrets}
        return self._send(channel("PATCH", name, {k: v for k, v in body.items() if v is not None}))

    def delete_channel(self, name: str) -> None:
        self._send(delete_channel(name))

    def user_channels(self, handle: str) -> list[UserChannel]:
        return self._send(user_channels(handle))

    def set_user_channel(
        self, handle: str, channel: str, address: str, *, enabled: bool = True
    ) -> UserChannel:
        """Where ``handle`` is reached on ``channel`` (and whether they want to be)."""
        return self._send(user_channel(handle, channel, address, enabled))

    def remove_user_channel(self, handle: str, channel: str) -> None:
        self._send(remove_user_channel(handle, channel))

    def list_deliveries(
        self,
        *,
        status: str | Sequence[str] | None = None,
        channel: str | None = None,
        request_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Delivery]:
        filters = {"status": status, "channel": channel, "request_id": request_id,
                   "limit": limit, "cursor": cursor}  # fmt: skip
        return self._send(list_deliveries(filters))

    def get_delivery(self, id: int) -> DeliveryDetail:
        """A delivery and its log (one entry per attempt)."""
        return self._send(delivery(id))

    def replay_delivery(self, id: int) -> Delivery:
        return self._send(replay(id))

    def replay_dead(self, *, channel: str | None = None, limit: int = 1000) -> list[int]:
        return self._send(replay_dead(channel, limit))

    def send_delivery(self, key: str, channel: str, **fields: Any) -> Delivery:
        """Deliver ``message`` (``{"text": ...}``) or ``event`` through ``channel``, to ``to``."""
        return self._send(send({"key": key, "channel": channel, **fields}))


class AsyncChannels:
    """Channels and deliveries for ``AsyncClient``."""

    async def _send(self, call: Call[T]) -> T:
        raise NotImplementedError

    async def list_channels(self) -> list[Channel]:
        return await self._send(list_channels())

    async def get_channel(self, name: str) -> Channel:
        return await self._send(channel("GET", name))

    async def set_user_channel(
        self, handle: str, channel: str, address: str, *, enabled: bool = True
    ) -> UserChannel:
        return await self._send(user_channel(handle, channel, address, enabled))

    async def get_delivery(self, id: int) -> DeliveryDetail:
        return await self._send(delivery(id))

    async def replay_delivery(self, id: int) -> Delivery:
        return await self._send(replay(id))

    async def send_delivery(self, key: str, channel: str, **fields: Any) -> Delivery:
        return await self._send(send({"key": key, "channel": channel, **fields}))
