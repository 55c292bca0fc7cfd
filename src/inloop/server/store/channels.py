"""SQL for channels, users' addresses on them, and who a request's candidates are."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.channels import ChannelKind, UserChannel
from inloop.domain.errors import ConflictError, NotFoundError
from inloop.server.store.schema import (
    channels,
    team_members,
    teams,
    user_channels,
    user_roles,
    users,
)


@dataclass(frozen=True)
class ChannelRecord:
    """A channel as stored: its secrets still sealed."""

    id: str
    name: str
    kind: ChannelKind
    enabled: bool
    config: dict[str, Any]
    secrets: str | None
    secrets_set: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime


def _record(found: Row[Any]) -> ChannelRecord:
    data = dict(found._mapping)
    data["kind"] = ChannelKind(data["kind"])
    return ChannelRecord(**data)


def insert_channel(conn: Connection, values: dict[str, Any]) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(channels).values(values))
    except IntegrityError:
        raise ConflictError(
            f"a channel named {values['name']!r} exists already",
            field="name",
            code="already_exists",
        ) from None


def list_channels(conn: Connection) -> list[ChannelRecord]:
    return [_record(r) for r in conn.execute(select(channels).order_by(channels.c.name))]


def get_channel(conn: Connection, name: str) -> ChannelRecord:
    found = conn.execute(select(channels).where(channels.c.name == name)).first()
    if found is None:
        raise NotFoundError(f"no channel named {name!r}", field="channel")
    return _record(found)


def update_channel(conn: Connection, channel_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(channels).where(channels.c.id == channel_id).values(values))


def delete_channel(conn: Connection, channel_id: str) -> None:
    conn.execute(delete(user_channels).where(user_channels.c.channel_id == channel_id))
    conn.execute(delete(channels).where(channels.c.id == channel_id))


# users' addresses


def set_address(
    conn: Connection, user_id: str, channel_id: str, address: str, enabled: bool, now: datetime
) -> None:
    taken = conn.execute(
        select(users.c.handle)
        .join(user_channels, user_channels.c.user_id == users.c.id)
        .where(
            user_channels.c.channel_id == channel_id,
            user_channels.c.address == address,
            user_channels.c.user_id != user_id,
        )
    ).first()
    if taken is not None:
        raise ConflictError(
            f"{address} is already the address of {taken[0]} on this channel: an answer "
            "from it must name one person",
            field="address",
            code="already_exists",
        )
    values = {"address": address, "enabled": enabled, "updated_at": now}
    changed = conn.execute(
        update(user_channels)
        .where(user_channels.c.user_id == user_id, user_channels.c.channel_id == channel_id)
        .values(values)
    )
    if changed.rowcount == 0:
        conn.execute(insert(user_channels).values(user_id=user_id, channel_id=channel_id, **values))


def remove_address(conn: Connection, user_id: str, channel_id: str) -> bool:
    result = conn.execute(
        delete(user_channels).where(
            user_channels.c.user_id == user_id, user_channels.c.channel_id == channel_id
        )
    )
    return bool(result.rowcount)


def addresses_of(conn: Connection, user_id: str) -> list[UserChannel]:
    rows = conn.execute(
        select(
            channels.c.name,
            channels.c.kind,
            user_channels.c.address,
            user_channels.c.enabled,
            user_channels.c.updated_at,
        )
        .join(channels, channels.c.id == user_channels.c.channel_id)
        .where(user_channels.c.user_id == user_id)
        .order_by(channels.c.name)
    )
    return [
        UserChannel(channel=n, kind=ChannelKind(k), address=a, enabled=e, updated_at=u)
        for n, k, a, e, u in rows
    ]


def user_at(conn: Connection, channel_id: str, address: str) -> str | None:
    """The handle of the (enabled) user whose address this is on the channel."""
    found = conn.execute(
        select(users.c.handle)
        .join(user_channels, user_channels.c.user_id == users.c.id)
        .where(
            user_channels.c.channel_id == channel_id,
            user_channels.c.address == address,
            users.c.disabled.is_(False),
        )
    ).first()
    return None if found is None else str(found[0])


# who is told


@dataclass(frozen=True)
class Reach:
    handle: str
    name: str
    channel_id: str
    address: str


def reach(conn: Connection, refs: Iterable[str], channel_ids: Sequence[str]) -> list[Reach]:
    """Enabled users named by ``refs`` (user:, role:, team:) with their enabled addresses
    on the channels given, in one query."""
    handles: set[str] = set()
    roles: set[str] = set()
    team_names: set[str] = set()
    for ref in refs:
        kind, _, name = ref.partition(":")
        {"user": handles, "role": roles, "team": team_names}.get(kind, set()).add(name)
    if not (handles or roles or team_names) or not channel_ids:
        return []
    named = []
    if handles:
        named.append(users.c.handle.in_(sorted(handles)))
    if roles:
        named.append(
            users.c.id.in_(select(user_roles.c.user_id).where(user_roles.c.role.in_(sorted(roles))))
        )
    if team_names:
        named.append(
            users.c.id.in_(
                select(team_members.c.user_id)
                .join(teams, teams.c.id == team_members.c.team_id)
                .where(teams.c.name.in_(sorted(team_names)))
            )
        )
    rows = conn.execute(
        select(users.c.handle, users.c.name, user_channels.c.channel_id, user_channels.c.address)
        .join(user_channels, user_channels.c.user_id == users.c.id)
        .where(
            and_(
                or_(*named),
                users.c.disabled.is_(False),
                user_channels.c.enabled.is_(True),
                user_channels.c.channel_id.in_(list(channel_ids)),
            )
        )
        .order_by(users.c.handle, user_channels.c.channel_id)
        .limit(5000)
    )
    return [Reach(h, n, c, a) for h, n, c, a in rows]


def names_of(conn: Connection, handles: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(handles))
    if not wanted:
        return {}
    rows = conn.execute(select(users.c.handle, users.c.name).where(users.c.handle.in_(wanted)))
    return {h: n for h, n in rows}
