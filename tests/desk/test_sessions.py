"""Desk sign-in and sessions in the store: argon2 passwords, revocation at once, SQLite and
PostgreSQL alike."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from inloop.domain.enums import Scope
from inloop.domain.errors import (
    AuthenticationError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from inloop.domain.identity import SYSTEM, Principal, UserUpdate
from inloop.server.services import Services
from inloop.server.store.sessions import password_of
from tests.desk import desk_support
from tests.desk.desk_support import PASSWORD, make_user
from tests.support import FakeClock


@pytest.fixture(autouse=True)
def _fast_hashing(services: Services) -> None:
    desk_support.fast_hashing(services)


async def test_sign_in_stores_an_argon2_hash_and_a_hashed_session(
    api: httpx.AsyncClient, services: Services
) -> None:
    """The password is kept as argon2; the session table never holds the cookie's secret."""
    await make_user(api, services, "alice")
    token, session = await services.sessions.sign_in("alice", PASSWORD)
    row = await services.db.read(password_of, "alice")
    assert row is not None
    assert row.password_hash.startswith("$argon2id$")
    assert session.id != token and len(session.id) == 64
    assert session.principal.actor == "user:alice"
    assert session.principal.scopes == frozenset({Scope.RESPONDER})
    resumed = await services.sessions.resume(token)
    assert resumed is not None and resumed.user.handle == "alice"


@pytest.mark.parametrize(
    ("handle", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD), ("alice", "")],
)
async def test_wrong_credentials_are_refused_alike(
    api: httpx.AsyncClient, services: Services, handle: str, password: str
) -> None:
    """A wrong password and an unknown handle get the same answer."""
    await make_user(api, services, "alice")
    with pytest.raises(AuthenticationError, match="wrong handle or password"):
        await services.sessions.sign_in(handle, password)


async def test_a_user_without_a_password_cannot_sign_in(
    api: httpx.AsyncClient, services: Services
) -> None:
    """Users created through the API have no desk password until one is set."""
    assert (await api.post("/v1/users", json={"handle": "bob", "name": "Bob"})).status_code == 201
    with pytest.raises(AuthenticationError):
        await services.sessions.sign_in("bob", "anything at all")


async def test_signing_out_and_disabling_end_sessions_at_once(
    api: httpx.AsyncClient, services: Services
) -> None:
    """Sessions live in the database: the next page load of any replica sees them gone."""
    await make_user(api, services, "alice")
    first, session = await services.sessions.sign_in("alice", PASSWORD)
    second, _ = await services.sessions.sign_in("alice", PASSWORD)
    await services.sessions.sign_out(session)
    assert await services.sessions.resume(first) is None
    assert await services.sessions.resume(second) is not None
    await services.identity.update_user(SYSTEM, "alice", UserUpdate(disabled=True))
    assert await services.sessions.resume(second) is None
    with pytest.raises(AuthenticationError, match="disabled"):
        await services.sessions.sign_in("alice", PASSWORD)


async def test_sessions_expire(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """A session unused for its lifetime is over; one in use slides forward."""
    await make_user(api, services, "alice")
    token, _ = await services.sessions.sign_in("alice", PASSWORD)
    clock.advance(hours=7)
    assert await services.sessions.resume(token) is not None  # extends it by 12 h from now
    clock.advance(hours=11)
    assert await services.sessions.resume(token) is not None
    clock.advance(hours=13)
    assert await services.sessions.resume(token) is None


async def test_changing_the_password_ends_the_other_sessions(
    api: httpx.AsyncClient, services: Services
) -> None:
    """The current session stays; every other one ends; the old password stops working."""
    await make_user(api, services, "alice")
    mine, session = await services.sessions.sign_in("alice", PASSWORD)
    other, _ = await services.sessions.sign_in("alice", PASSWORD)
    with pytest.raises(InvalidError, match="current password is wrong") as wrong:
        await services.sessions.change_password(session, "not it", "a new password")
    assert wrong.value.field == "current_password"
    with pytest.raises(InvalidError) as short:
        await services.sessions.change_password(session, PASSWORD, "short")
    assert short.value.field == "new_password"
    await services.sessions.change_password(session, PASSWORD, "a new password")
    assert await services.sessions.resume(mine) is not None
    assert await services.sessions.resume(other) is None
    with pytest.raises(AuthenticationError):
        await services.sessions.sign_in("alice", PASSWORD)
    await services.sessions.sign_in("alice", "a new password")


async def test_only_admins_set_passwords(api: httpx.AsyncClient, services: Services) -> None:
    """A responder cannot set anyone's password; an unknown handle is a 404-style error."""
    await make_user(api, services, "alice")
    responder = Principal(actor="user:alice", scopes=frozenset({Scope.RESPONDER}), handle="alice")
    with pytest.raises(PermissionDeniedError):
        await services.sessions.set_password(responder, "alice", "a new password")
    with pytest.raises(NotFoundError):
        await services.sessions.set_password(SYSTEM, "nobody", "a new password")


def test_the_first_admin_is_made_once_with_a_private_file(
    services: Services, tmp_path: Path
) -> None:
    """With no users, bootstrap makes admin and writes the password (mode 600); never again."""
    path = tmp_path / "home" / "admin-password"
    password = services.sessions.bootstrap_admin(path)
    assert password is not None and path.read_text().strip() == password
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert services.sessions.bootstrap_admin(tmp_path / "again") is None
    assert not (tmp_path / "again").exists()


async def test_the_first_admin_signs_in_as_an_admin(services: Services, tmp_path: Path) -> None:
    """The generated password signs in to a session with the admin scope."""
    password = services.sessions.bootstrap_admin(tmp_path / "pw")
    assert password is not None
    _, session = await services.sessions.sign_in("admin", password)
    assert session.principal.is_admin


async def test_repeated_failures_lock_the_handle_for_a_while(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    """After 5 wrong passwords in 5 minutes even the right one waits; then it works."""
    await make_user(api, services, "alice")
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="wrong handle or password"):
            await services.sessions.sign_in("alice", "guess")
    with pytest.raises(AuthenticationError, match="too many failed sign-ins") as locked:
        await services.sessions.sign_in("alice", PASSWORD)
    assert locked.value.code == "too_many_attempts"
    clock.advance(minutes=5)
    _, session = await services.sessions.sign_in("alice", PASSWORD)
    assert session.user.handle == "alice"
