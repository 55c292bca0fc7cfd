"""Desk sign-in: passwords (argon2, through pwdlib) and server-side sessions.

A session lives in the database, so signing out, a password change or disabling the user
ends it on every replica at the next page load. The cookie holds a random secret; the
table holds only its sha256, and the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Connection

from inloop.domain.enums import Scope
from inloop.domain.errors import AuthenticationError, InvalidError
from inloop.domain.identity import Principal, User
from inloop.domain.ids import new_id
from inloop.server.services.clock import Clock
from inloop.server.store import identity as identity_sql
from inloop.server.store import sessions as sql
from inloop.server.store.database import Database, Tx

# Failed sign-ins per handle, per replica: after this many within the window, that handle
# waits for the window to pass (argon2 already makes each guess cost ~0.1 s of CPU).
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ADMIN_ROLE = "admin"
ADMIN_HANDLE = "admin"


@dataclass(frozen=True)
class DeskSession:
    id: str
    user: User
    csrf_token: str
    expires_at: datetime

    @cached_property
    def principal(self) -> Principal:
        return principal_of(self.user)


def principal_of(user: User) -> Principal:
    """A signed-in human answers requests; one with the admin role administers too."""
    scope = Scope.ADMIN if ADMIN_ROLE in user.roles else Scope.RESPONDER
    return Principal(
        actor=f"user:{user.handle}",
        scopes=frozenset({scope}),
        user_id=user.id,
        handle=user.handle,
        roles=frozenset(user.roles),
        teams=frozenset(user.teams),
    )


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str, field: str = "password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidError(
            f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
            field=field,
            code="validation_error",
        )


class SessionService:
    def __init__(self, db: Database, clock: Clock, *, lifetime: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.lifetime = lifetime
        self.hasher = PasswordHash((Argon2Hasher(),))
        self._dummy: str | None = None
        self._failures: dict[str, deque[datetime]] = {}

    async def sign_in(self, handle: str, password: str) -> tuple[str, DeskSession]:
        """Check the password; return the cookie's secret and the new session."""
        failed = AuthenticationError("wrong handle or password", field="password")
        self._check_throttle(handle)
        found = await self.db.read(sql.password_of, handle) if handle else None
        stored = found.password_hash if found is not None else None
        # Verify against a throwaway hash when there is none, so the time taken does
        # not tell which handles exist.
        ok = await asyncio.to_thread(self._verify, password, stored)
        if found is None or stored is None or not ok:
            self._note_failure(handle)
            raise failed
        self._failures.pop(handle.lower(), None)
        if found.disabled:
            raise AuthenticationError(f"the user {handle} is disabled", field="handle")
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        row = {
            "id": session_id(token),
            "user_id": found.id,
            "csrf_token": secrets.token_urlsafe(32),
            "created_at": now,
            "expires_at": now + self.lifetime,
        }

        def start(tx: Tx) -> User:
            sql.purge_expired(tx.conn, now)
            sql.insert_session(tx.conn, row)
            return identity_sql.get_user(tx.conn, found.handle)

        user = await self.db.write(start)
        return token, DeskSession(row["id"], user, row["csrf_token"], row["expires_at"])

    async def resume(self, token: str | None) -> DeskSession | None:
        """The session behind a cookie, or None when it is unknown, expired or disabled."""
        if not token or len(token) > 100:
            return None
        now = self.clock.now()
        sid = session_id(token)

        def load(conn: Connection) -> DeskSession | None:
            row = sql.session_user(conn, sid, now)
            if row is None:
                return None
            user = identity_sql.get_user(conn, row.handle)
            return DeskSession(sid, user, row.csrf_token, row.expires_at)

        session = await self.db.read(load)
        if session is not None and session.expires_at - now < self.lifetime / 2:
            # Sliding expiry, written at most a few times per session.
            expires = now + self.lifetime
            await self.db.write(lambda tx: sql.extend_session(tx.conn, sid, expires))
        return session

    async def sign_out(self, session: DeskSession) -> None:
        await self.db.write(lambda tx: sql.end_session(tx.conn, session.id))

    async def change_password(self, session: DeskSession, current: str, new: str) -> None:
        """The signed-in user changes their password; their other sessions end."""
        check_password(new, "new_password")
        found = await self.db.read(sql.password_of, session.user.handle)
        stored = found.password_hash if found is not None else None
        ok = stored is not None and await asyncio.to_thread(self._verify, current, stored)
        if not ok:
            raise InvalidError(
                "the current password is wrong", field="current_password", code="wrong_password"
            )
        hashed = await asyncio.to_thread(self.hasher.hash, new)

        def apply(tx: Tx) -> None:
            user_id = sql.set_password(tx.conn, session.user.handle, hashed)
            # set_password ended every session: give this one back.
            sql.insert_session(
                tx.conn,
                {
                    "id": session.id,
                    "user_id": user_id,
                    "csrf_token": session.csrf_token,
                    "created_at": self.clock.now(),
                    "expires_at": session.expires_at,
                },
            )

        await self.db.write(apply)

    async def set_password(self, principal: Principal, handle: str, password: str) -> None:
        """An admin sets or resets a user's password; the user's sessions end."""
        principal.require()
        check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        await self.db.write(lambda tx: sql.set_password(tx.conn, handle, hashed))

    def bootstrap_admin(self, path: Path) -> str | None:
        """With no users yet, create ``admin`` (role admin) with a generated password,
        written to ``path`` (mode 600). Returns the password, or None if users exist."""
        password = secrets.token_urlsafe(12)
        hashed = self.hasher.hash(password)
        now = self.clock.now()

        def apply(tx: Tx) -> bool:
            if sql.count_users(tx.conn):
                return False
            row = {
                "id": new_id("usr", now),
                "handle": ADMIN_HANDLE,
                "name": "Administrator",
                "email": None,
                "disabled": False,
                "created_at": now,
                "password_hash": hashed,
            }
            identity_sql.insert_user(tx.conn, row, [ADMIN_ROLE])
            return True

        if not self.db.write_sync(apply):
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(password + "\n")
        return password

    def _check_throttle(self, handle: str) -> None:
        recent = self._failures.get(handle.lower())
        if not recent:
            return
        now = self.clock.now()
        while recent and now - recent[0] >= FAILURE_WINDOW:
            recent.popleft()
        if len(recent) >= MAX_FAILURES:
            wait = FAILURE_WINDOW - (now - recent[0])
            raise AuthenticationError(
                f"too many failed sign-ins for {handle}: try again in "
                f"{max(1, round(wait.total_seconds() / 60))} min",
                field="handle",
                code="too_many_attempts",
            )

    def _note_failure(self, handle: str) -> None:
        if len(self._failures) > 10_000:  # bounded: forget the oldest handle
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(handle.lower(), deque()).append(self.clock.now())

    def _verify(self, password: str, stored: str | None) -> bool:
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            self.hasher.verify(password[:MAX_PASSWORD], self._dummy)
            return False
        return self.hasher.verify(password[:MAX_PASSWORD], stored)
