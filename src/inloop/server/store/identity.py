"""SQL for users, roles, teams and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.errors import ConflictError, NotFoundError
from inloop.domain.identity import ApiKey, Team, User
from inloop.server.store.schema import api_keys, meta, team_members, teams, user_roles, users


def insert_user(conn: Connection, row: dict[str, Any], roles: list[str]) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(users).values(row))
    except IntegrityError:
        raise ConflictError(
            f"a user with handle {row['handle']!r} exists already",
            field="handle",
            code="already_exists",
        ) from None
    for role in roles:
        conn.execute(insert(user_roles).values(user_id=row["id"], role=role))


def user_row(conn: Connection, handle: str) -> Row[Any]:
    row = conn.execute(select(users).where(users.c.handle == handle)).first()
    if row is None:
        raise NotFoundError(f"no user with handle {handle!r}", field="handle")
    return row


def get_user(conn: Connection, handle: str) -> User:
    found = _users(conn, users.c.handle == handle)
    if not found:
        raise NotFoundError(f"no user with handle {handle!r}", field="handle")
    return found[0]


def list_users(conn: Connection) -> list[User]:
    return _users(conn, None)


def users_by_id(conn: Connection, ids: list[str]) -> dict[str, User]:
    return {u.id: u for u in _users(conn, users.c.id.in_(ids))}


def _users(conn: Connection, where: Any) -> list[User]:
    query = select(users).order_by(users.c.handle)
    rows = conn.execute(query if where is None else query.where(where)).all()
    ids = [r.id for r in rows]
    roles: dict[str, list[str]] = {i: [] for i in ids}
    for user_id, role in conn.execute(
        select(user_roles.c.user_id, user_roles.c.role)
        .where(user_roles.c.user_id.in_(ids))
        .order_by(user_roles.c.role)
    ):
        roles[user_id].append(role)
    member_of: dict[str, list[str]] = {i: [] for i in ids}
    for user_id, team in conn.execute(
        select(team_members.c.user_id, teams.c.name)
        .join(teams, teams.c.id == team_members.c.team_id)
        .where(team_members.c.user_id.in_(ids))
        .order_by(teams.c.name)
    ):
        member_of[user_id].append(team)
    return [User(**r._mapping, roles=roles[r.id], teams=member_of[r.id]) for r in rows]


def update_user(conn: Connection, handle: str, values: dict[str, Any]) -> None:
    user_row(conn, handle)
    if values:
        conn.execute(update(users).where(users.c.handle == handle).values(values))


def set_role(conn: Connection, handle: str, role: str, *, granted: bool) -> None:
    user_id = user_row(conn, handle).id
    conn.execute(
        delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.role == role)
    )
    if granted:
        conn.execute(insert(user_roles).values(user_id=user_id, role=role))


def list_roles(conn: Connection) -> list[tuple[str, list[str]]]:
    result: dict[str, list[str]] = {}
    for role, handle in conn.execute(
        select(user_roles.c.role, users.c.handle)
        .join(users, users.c.id == user_roles.c.user_id)
        .order_by(user_roles.c.role, users.c.handle)
    ):
        result.setdefault(role, []).append(handle)
    return list(result.items())


def insert_team(conn: Connection, row: dict[str, Any]) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(teams).values(row))
    except IntegrityError:
        raise ConflictError(
            f"a team named {row['name']!r} exists already", field="name", code="already_exists"
        ) from None


def team_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(teams).where(teams.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no team named {name!r}", field="name")
    return row


def get_team(conn: Connection, name: str) -> Team:
    row = team_row(conn, name)
    members = (
        conn.execute(
            select(users.c.handle)
            .join(team_members, team_members.c.user_id == users.c.id)
            .where(team_members.c.team_id == row.id)
            .order_by(users.c.handle)
        )
        .scalars()
        .all()
    )
    return Team(**row._mapping, members=list(members))


def list_teams(conn: Connection) -> list[Team]:
    names = conn.execute(select(teams.c.name).order_by(teams.c.name)).scalars().all()
    return [get_team(conn, name) for name in names]


def delete_team(conn: Connection, name: str) -> None:
    team_id = team_row(conn, name).id
    conn.execute(delete(team_members).where(team_members.c.team_id == team_id))
    conn.execute(delete(teams).where(teams.c.id == team_id))


def set_member(conn: Connection, name: str, handle: str, *, member: bool) -> None:
    team_id = team_row(conn, name).id
    user_id = user_row(conn, handle).id
    conn.execute(
        delete(team_members).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )
    )
    if member:
        conn.execute(insert(team_members).values(team_id=team_id, user_id=user_id))


def insert_key(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(api_keys).values(row))


def key_with_owner(conn: Connection, key_id: str) -> tuple[Row[Any], User | None] | None:
    row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        return None
    owner = users_by_id(conn, [row.user_id]).get(row.user_id) if row.user_id else None
    return row, owner


def list_keys(conn: Connection) -> list[ApiKey]:
    rows = conn.execute(
        select(api_keys, users.c.handle)
        .outerjoin(users, users.c.id == api_keys.c.user_id)
        .order_by(api_keys.c.created_at)
    ).all()
    return [to_key(r._mapping, r.handle) for r in rows]


def to_key(row: Any, handle: str | None) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=row["scopes"],
        user=handle,
        created_by=row["created_by"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def revoke_key(conn: Connection, key_id: str, now: datetime) -> None:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0 and key_with_owner(conn, key_id) is None:
        raise NotFoundError(f"no API key with id {key_id!r}", field="id")


def touch_key(conn: Connection, key_id: str, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def has_keys(conn: Connection) -> bool:
    return conn.execute(select(api_keys.c.id).limit(1)).first() is not None


def claim_meta(conn: Connection, key: str, value: str) -> bool:
    """Insert a meta fact unless it exists; True for the one caller that inserted it."""
    try:
        with conn.begin_nested():
            conn.execute(insert(meta).values(key=key, value=value))
    except IntegrityError:
        return False
    return True


def presence_of(conn: Connection, handle: str) -> tuple[str, datetime | None] | None:
    """The stored presence and when it last changed."""
    row = conn.execute(
        select(users.c.presence, users.c.presence_changed_at).where(users.c.handle == handle)
    ).first()
    return (row[0], row[1]) if row else None


def set_presence(conn: Connection, handle: str, presence: str, now: datetime) -> None:
    user_row(conn, handle)
    conn.execute(
        update(users)
        .where(users.c.handle == handle)
        .values(presence=presence, presence_changed_at=now, last_active_at=now)
    )


def touch_user(conn: Connection, user_id: str, now: datetime) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(last_active_at=now))
