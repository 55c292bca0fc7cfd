"""SQL for routing: who is in a pool, how busy they are, where round robin stopped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.enums import Presence, Status
from inloop.server.store.schema import (
    requests,
    routing_cursors,
    team_members,
    teams,
    user_roles,
    users,
)


@dataclass(frozen=True)
class Member:
    handle: str
    presence: str
    capacity: int | None
    last_active_at: datetime | None
    open_assigned: int


def _named(refs: Iterable[str]) -> Any:
    """The condition on ``users`` that the refs (user:, role:, team:) name, or None."""
    handles: list[str] = []
    roles: list[str] = []
    team_names: list[str] = []
    for ref in refs:
        kind, _, name = ref.partition(":")
        {"user": handles, "role": roles, "team": team_names}.get(kind, []).append(name)
    named = [users.c.handle.in_(handles)] if handles else []
    if roles:
        named.append(
            users.c.id.in_(select(user_roles.c.user_id).where(user_roles.c.role.in_(roles)))
        )
    if team_names:
        named.append(
            users.c.id.in_(
                select(team_members.c.user_id)
                .join(teams, teams.c.id == team_members.c.team_id)
                .where(teams.c.name.in_(team_names))
            )
        )
    return and_(or_(*named), users.c.disabled.is_(False)) if named else None


# Open requests a user holds: an index range count (ix_requests_assigned_to_status).
_held = (
    select(func.count())
    .where(requests.c.assigned_to == users.c.handle, requests.c.status == Status.ASSIGNED)
    .correlate(users)
    .scalar_subquery()
)


def pool_members(conn: Connection, refs: Iterable[str]) -> list[Member]:
    """The enabled users the refs name, by handle, each with the open requests they hold."""
    named = _named(refs)
    if named is None:
        return []
    rows = conn.execute(
        select(users.c.handle, users.c.presence, users.c.capacity, users.c.last_active_at, _held)
        .where(named)
        .order_by(users.c.handle)
    )
    return [Member(*row) for row in rows]


def pick(conn: Connection, refs: Iterable[str], strategy: str, last: str | None) -> str | None:
    """The strategy's choice, made in the database so that only one row comes back.

    The same rule as ``inloop.domain.routing.choose`` (which explains a failure): among
    members not offline and under capacity, least busy (ties by handle), or the first
    handle after ``last`` (wrapping round).
    """
    named = _named(refs)
    if named is None:
        return None
    available = and_(
        named,
        users.c.presence != Presence.OFFLINE,
        or_(users.c.capacity.is_(None), _held < users.c.capacity),
    )
    query = select(users.c.handle).where(available).limit(1)
    if strategy == "least_busy":
        chosen: str | None = conn.execute(query.order_by(_held, users.c.handle)).scalar()
        return chosen
    ordered = query.order_by(users.c.handle)
    if last is not None:
        after: str | None = conn.execute(ordered.where(users.c.handle > last)).scalar()
        if after is not None:
            return after
    first: str | None = conn.execute(ordered).scalar()
    return first


def open_assigned(conn: Connection, handles: list[str]) -> dict[str, int]:
    """How many open requests each of ``handles`` holds (``ix_requests_assigned_to_status``)."""
    if not handles:
        return {}
    rows = conn.execute(
        select(requests.c.assigned_to, func.count())
        .where(requests.c.assigned_to.in_(handles), requests.c.status == Status.ASSIGNED)
        .group_by(requests.c.assigned_to)
    )
    counts = dict.fromkeys(handles, 0)
    counts.update({handle: count for handle, count in rows})
    return counts


def lock_pool(conn: Connection, key: str) -> None:
    """Route one request of this pool at a time (PostgreSQL replicas): the capacity check
    and the round-robin cursor are then read and written without a race."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def last_chosen(conn: Connection, pool: str) -> str | None:
    """Round robin's cursor for ``pool``, locked until the transaction ends."""
    query = select(routing_cursors.c.last_handle).where(routing_cursors.c.pool == pool)
    return conn.execute(query.with_for_update()).scalar()


def set_last_chosen(conn: Connection, pool: str, handle: str) -> None:
    moved = conn.execute(
        update(routing_cursors).where(routing_cursors.c.pool == pool).values(last_handle=handle)
    )
    if moved.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(routing_cursors).values(pool=pool, last_handle=handle))
        except IntegrityError:  # another replica created it meanwhile
            conn.execute(
                update(routing_cursors)
                .where(routing_cursors.c.pool == pool)
                .values(last_handle=handle)
            )
