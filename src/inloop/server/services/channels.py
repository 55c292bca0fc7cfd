"""Configured channels and users' addresses on them: the only writers of both.

Secrets go in sealed (``Keyring.seal``) and come out only to the code that sends or
verifies with them; the API sees which are set, never their values, and nothing here logs
them. The writer thread reads the channels often (every write that may notify someone):
it keeps them for a few seconds, and this replica forgets them at once when they change.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection

from inloop.domain.channels import (
    Channel,
    ChannelKind,
    ChannelUpdate,
    CreatedChannel,
    NewChannel,
    UserChannel,
    UserChannelUpdate,
    check_address,
    check_settings,
)
from inloop.domain.errors import InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.server.channels.signing import check_secret, new_secret
from inloop.server.secrets import Keyring
from inloop.server.services.clock import Clock
from inloop.server.store import channels as sql
from inloop.server.store import identity as identity_sql
from inloop.server.store.channels import ChannelRecord
from inloop.server.store.database import Database, Tx

CACHE_SECONDS = 5.0

#: Where each kind's platform calls back, under the server's public URL.
INBOUND = {
    ChannelKind.SLACK: {
        "interactivity": "/hooks/slack/{name}/interactions",
        "events": "/hooks/slack/{name}/events",
    },
    ChannelKind.TEAMS: {"messaging": "/hooks/teams/{name}/messages"},
    ChannelKind.SMS: {"incoming_messages": "/hooks/sms/{name}"},
    ChannelKind.WEBHOOK: {"answers": "/hooks/webhook/{name}"},
}


class ChannelService:
    def __init__(self, db: Database, clock: Clock, keyring: Keyring, *, base_url: str) -> None:
        self.db = db
        self.clock = clock
        self.keyring = keyring
        self.base_url = base_url
        self._cache: tuple[float, list[ChannelRecord]] | None = None
        self._lock = threading.Lock()

    # what the writer thread and the dispatcher read

    def snapshot(self, conn: Connection) -> list[ChannelRecord]:
        """Every channel, read at most every few seconds (and after a change here)."""
        with self._lock:
            cached = self._cache
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        records = sql.list_channels(conn)
        with self._lock:
            self._cache = (time.monotonic() + CACHE_SECONDS, records)
        return records

    def forget(self) -> None:
        with self._lock:
            self._cache = None

    @staticmethod
    def find(records: list[ChannelRecord], name: str) -> ChannelRecord | None:
        """The channel named ``name``, else the only one of that kind."""
        for record in records:
            if record.name == name:
                return record
        of_kind = [r for r in records if r.kind.value == name]
        return of_kind[0] if len(of_kind) == 1 else None

    def secrets_of(self, record: ChannelRecord) -> dict[str, str]:
        opened: dict[str, str] = self.keyring.open(record.secrets) if record.secrets else {}
        return opened

    def public(self, record: ChannelRecord) -> Channel:
        urls = {
            label: self.base_url + path.format(name=record.name)
            for label, path in INBOUND.get(record.kind, {}).items()
        }
        return Channel(
            id=record.id,
            name=record.name,
            kind=record.kind,
            enabled=record.enabled,
            config=record.config,
            secrets_set=record.secrets_set,
            inbound_urls=urls,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    # administration

    async def create(self, principal: Principal, new: NewChannel) -> CreatedChannel:
        principal.require()
        config, secrets = check_settings(new.kind, new.config, new.secrets)
        generated = None
        if new.kind == ChannelKind.WEBHOOK:
            if "signing_secret" not in secrets:
                generated = secrets["signing_secret"] = new_secret()
            _check_signing_secret(secrets["signing_secret"])
        now = self.clock.now()
        values = {
            "id": new_id("ch", now),
            "name": new.name,
            "kind": new.kind.value,
            "enabled": new.enabled,
            "config": config,
            "secrets": self.keyring.seal(secrets) if secrets else None,
            "secrets_set": sorted(secrets),
            "created_by": principal.actor,
            "created_at": now,
            "updated_at": now,
        }

        def create(tx: Tx) -> ChannelRecord:
            sql.insert_channel(tx.conn, values)
            return sql.get_channel(tx.conn, new.name)

        record = await self.db.write(create)
        self.forget()
        return CreatedChannel(**self.public(record).model_dump(), signing_secret=generated)

    async def list_channels(self, principal: Principal) -> list[Channel]:
        principal.require()
        return [self.public(r) for r in await self.db.read(sql.list_channels)]

    async def get(self, principal: Principal, name: str) -> Channel:
        principal.require()
        return self.public(await self.db.read(sql.get_channel, name))

    async def update(self, principal: Principal, name: str, update: ChannelUpdate) -> Channel:
        principal.require()
        now = self.clock.now()

        def apply(tx: Tx) -> ChannelRecord:
            record = sql.get_channel(tx.conn, name)
            config = dict(record.config)
            for key, value in (update.config or {}).items():
                if value is None:
                    config.pop(key, None)
                else:
                    config[key] = value
            secrets = self.secrets_of(record)
            for key, secret in (update.secrets or {}).items():
                if secret is None:
                    secrets.pop(key, None)
                else:
                    secrets[key] = secret
            config, secrets = check_settings(record.kind, config, secrets)
            if record.kind == ChannelKind.WEBHOOK:
                if "signing_secret" not in secrets:
                    raise InvalidError(
                        "secrets.signing_secret: a webhook channel needs one",
                        field="secrets.signing_secret",
                        code="invalid_channel",
                    )
                _check_signing_secret(secrets["signing_secret"])
            values: dict[str, Any] = {
                "config": config,
                "secrets": self.keyring.seal(secrets) if secrets else None,
                "secrets_set": sorted(secrets),
                "updated_at": now,
            }
            if update.enabled is not None:
                values["enabled"] = update.enabled
            sql.update_channel(tx.conn, record.id, values)
            return sql.get_channel(tx.conn, name)

        record = await self.db.write(apply)
        self.forget()
        return self.public(record)

    async def delete(self, principal: Principal, name: str) -> None:
        principal.require()

        def apply(tx: Tx) -> None:
            sql.delete_channel(tx.conn, sql.get_channel(tx.conn, name).id)

        await self.db.write(apply)
        self.forget()

    # users' addresses

    async def addresses(self, principal: Principal, handle: str) -> list[UserChannel]:
        _self_or_admin(principal, handle)

        def read(conn: Connection) -> list[UserChannel]:
            return sql.addresses_of(conn, identity_sql.user_row(conn, handle).id)

        return await self.db.read(read)

    async def set_address(
        self, principal: Principal, handle: str, channel: str, update: UserChannelUpdate
    ) -> UserChannel:
        """Where ``handle`` is reached on ``channel`` (an admin sets anyone's, a user their own)."""
        _self_or_admin(principal, handle)
        now = self.clock.now()

        def apply(tx: Tx) -> UserChannel:
            record = sql.get_channel(tx.conn, channel)
            address = check_address(record.kind, update.address)
            user_id = identity_sql.user_row(tx.conn, handle).id
            sql.set_address(tx.conn, user_id, record.id, address, update.enabled, now)
            return next(a for a in sql.addresses_of(tx.conn, user_id) if a.channel == channel)

        return await self.db.write(apply)

    async def remove_address(self, principal: Principal, handle: str, channel: str) -> None:
        _self_or_admin(principal, handle)

        def apply(tx: Tx) -> None:
            record = sql.get_channel(tx.conn, channel)
            user_id = identity_sql.user_row(tx.conn, handle).id
            if not sql.remove_address(tx.conn, user_id, record.id):
                raise NotFoundError(
                    f"{handle} has no address on channel {channel}", field="channel"
                )

        await self.db.write(apply)

    def callback_secret(self) -> str:
        """The secret that signs the deliveries to requests' ``callback_url``."""
        import base64

        return "whsec_" + base64.b64encode(self.keyring.derive("callbacks")).decode()


def _check_signing_secret(secret: str) -> None:
    try:
        check_secret(secret)
    except ValueError as exc:
        raise InvalidError(
            f"secrets.signing_secret: {exc}", field="secrets.signing_secret", code="invalid_channel"
        ) from None


def _self_or_admin(principal: Principal, handle: str) -> None:
    if not principal.is_admin and principal.handle != handle:
        raise PermissionDeniedError(
            f"{principal.actor} may change only their own addresses", code="forbidden"
        )
