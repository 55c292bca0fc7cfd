"""Users, roles, teams, API keys, and turning a bearer token into a principal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime

from sqlalchemy import Connection

from inloop.domain.enums import Presence, Scope
from inloop.domain.errors import (
    AuthenticationError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from inloop.domain.identity import (
    HANDLE,
    ApiKey,
    CreatedApiKey,
    NewApiKey,
    NewTeam,
    NewUser,
    Principal,
    Team,
    User,
    UserUpdate,
)
from inloop.domain.ids import new_id
from inloop.domain.routing import effective_presence
from inloop.server.services.clock import Clock
from inloop.server.services.lifecycle import Policy
from inloop.server.store import identity as sql
from inloop.server.store import routing as routing_sql
from inloop.server.store.database import Database, Tx

ADMIN_TOKEN_ACTOR = "admin-token"  # noqa: S105  (an actor name in the audit trail)
# A verified key is trusted this long before it is checked again, so revoking a key on
# one replica reaches the others within this many seconds (at once on the same replica).
KEY_CACHE_SECONDS = 10.0
TOUCH_EVERY_SECONDS = 60.0


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class IdentityService:
    def __init__(
        self, db: Database, clock: Clock, policy: Policy, *, admin_token: str | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.admin_token = admin_token
        self._cache: dict[str, tuple[str, Principal, float]] = {}
        self._touched: dict[str, float] = {}

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationError(
                "no credentials: send Authorization: Bearer <API key>", field="Authorization"
            )
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return Principal(actor=ADMIN_TOKEN_ACTOR, scopes=frozenset({Scope.ADMIN}))
        key_id, _, secret = token.partition(".")
        digest = hash_secret(secret)
        cached = self._cache.get(key_id)
        if cached and cached[2] > time.monotonic() and hmac.compare_digest(cached[0], digest):
            principal = cached[1]
        else:
            principal = await self._verify(key_id, digest)
        await self._touch(key_id, principal.user_id)
        return principal

    async def _verify(self, key_id: str, digest: str) -> Principal:
        found = await self.db.read(sql.key_with_owner, key_id) if key_id else None
        invalid = AuthenticationError("the API key is not valid", field="Authorization")
        if found is None:
            raise invalid
        row, owner = found
        if not hmac.compare_digest(row.secret_hash, digest):
            raise invalid
        if row.revoked_at is not None:
            raise AuthenticationError("the API key was revoked", field="Authorization")
        if owner is not None and owner.disabled:
            raise AuthenticationError(
                f"the user this key acts for ({owner.handle}) is disabled", field="Authorization"
            )
        principal = Principal(
            actor=f"user:{owner.handle}" if owner else f"key:{key_id}",
            scopes=frozenset(Scope(s) for s in row.scopes),
            user_id=owner.id if owner else None,
            key_id=key_id,
            handle=owner.handle if owner else None,
            roles=frozenset(owner.roles) if owner else frozenset(),
            teams=frozenset(owner.teams) if owner else frozenset(),
        )
        self._cache[key_id] = (digest, principal, time.monotonic() + KEY_CACHE_SECONDS)
        return principal

    async def _touch(self, key_id: str, user_id: str | None) -> None:
        """Note the key's use and its user's activity (for presence), once a minute."""
        if not key_id or key_id not in self._cache:
            return
        last = self._touched.get(key_id, 0.0)
        if time.monotonic() - last >= TOUCH_EVERY_SECONDS:
            self._touched[key_id] = time.monotonic()
            now = self.clock.now()

            def touch(tx: Tx) -> None:
                sql.touch_key(tx.conn, key_id, now)
                if user_id is not None:
                    sql.touch_user(tx.conn, user_id, now)

            await self.db.write(touch)

    # users and roles

    async def create_user(self, principal: Principal, new: NewUser) -> User:
        principal.require()
        row = {
            "id": new_id("usr", self.clock.now()),
            "handle": new.handle,
            "name": new.name,
            "email": new.email,
            "disabled": False,
            "created_at": self.clock.now(),
        }

        def create(tx: Tx) -> User:
            sql.insert_user(tx.conn, row, new.roles)
            return sql.get_user(tx.conn, new.handle)

        return await self.db.write(create)

    async def list_users(self, principal: Principal) -> list[User]:
        principal.require()
        return await self.db.read(lambda conn: self._live(conn, sql.list_users(conn)))

    async def get_user(self, principal: Principal, handle: str) -> User:
        principal.require()
        return await self.db.read(lambda conn: self._live(conn, [sql.get_user(conn, handle)])[0])

    def _live(self, conn: Connection, users: list[User]) -> list[User]:
        """Presence as it reads now (idle means away) and each one's open assigned work."""
        now = self.clock.now()
        load = routing_sql.open_assigned(conn, [u.handle for u in users])
        for user in users:
            user.presence = effective_presence(
                user.presence, user.last_active_at, now, self.policy.away_after
            )
            user.open_assigned = load[user.handle]
        return users

    async def set_presence(self, principal: Principal, handle: str, presence: Presence) -> User:
        """A user sets their own presence (admins anyone's). Going offline starts the grace
        period after which their assigned work is put back."""
        if not principal.is_admin and principal.handle != handle:
            raise PermissionDeniedError(
                f"{principal.actor} may set only their own presence", code="forbidden"
            )
        now = self.clock.now()

        def apply(tx: Tx) -> User:
            sql.set_presence(tx.conn, handle, presence, now)
            if presence == Presence.OFFLINE:
                tx.add_timer(
                    "offline",
                    now + self.policy.offline_grace,
                    user_handle=handle,
                    data={"since": now.isoformat()},
                )
            return self._live(tx.conn, [sql.get_user(tx.conn, handle)])[0]

        return await self.db.write(apply)

    async def update_user(self, principal: Principal, handle: str, update: UserUpdate) -> User:
        principal.require()
        values = update.model_dump(exclude_unset=True)

        def apply(tx: Tx) -> User:
            sql.update_user(tx.conn, handle, values)
            return self._live(tx.conn, [sql.get_user(tx.conn, handle)])[0]

        user = await self.db.write(apply)
        if update.disabled:
            self._cache.clear()  # keys acting for this user stop working here at once
        return user

    async def set_role(
        self, principal: Principal, handle: str, role: str, *, granted: bool
    ) -> User:
        principal.require()
        if not HANDLE.fullmatch(role):  # the same rule as for roles given at creation
            raise InvalidError(
                f"{role!r} is not a valid role: use 1 to 100 letters, digits or _ . @ + -",
                field="role",
                code="validation_error",
            )

        def apply(tx: Tx) -> User:
            sql.set_role(tx.conn, handle, role, granted=granted)
            return sql.get_user(tx.conn, handle)

        user = await self.db.write(apply)
        self._cache.clear()
        return user

    async def list_roles(self, principal: Principal) -> list[tuple[str, list[str]]]:
        principal.require()
        return await self.db.read(sql.list_roles)

    # teams

    async def create_team(self, principal: Principal, new: NewTeam) -> Team:
        principal.require()
        row = {
            "id": new_id("team", self.clock.now()),
            "name": new.name,
            "description": new.description,
            "created_at": self.clock.now(),
        }

        def create(tx: Tx) -> Team:
            sql.insert_team(tx.conn, row)
            return sql.get_team(tx.conn, new.name)

        return await self.db.write(create)

    async def list_teams(self, principal: Principal) -> list[Team]:
        principal.require()
        return await self.db.read(sql.list_teams)

    async def get_team(self, principal: Principal, name: str) -> Team:
        principal.require()
        return await self.db.read(sql.get_team, name)

    async def delete_team(self, principal: Principal, name: str) -> None:
        principal.require()
        await self.db.write(lambda tx: sql.delete_team(tx.conn, name))
        self._cache.clear()

    async def set_member(
        self, principal: Principal, name: str, handle: str, *, member: bool
    ) -> Team:
        principal.require()

        def apply(tx: Tx) -> Team:
            sql.set_member(tx.conn, name, handle, member=member)
            return sql.get_team(tx.conn, name)

        team = await self.db.write(apply)
        self._cache.clear()  # members' keys pick up the team change at once
        return team

    # API keys

    async def create_key(self, principal: Principal, new: NewApiKey) -> CreatedApiKey:
        principal.require()
        return await self.db.write(self.create_key_tx, new, principal.actor, self.clock.now())

    def create_key_tx(
        self, tx: Tx, new: NewApiKey, created_by: str, now: datetime
    ) -> CreatedApiKey:
        key_id = new_id("ak", now)
        secret = secrets.token_urlsafe(32)
        try:
            user_id = sql.user_row(tx.conn, new.user).id if new.user else None
        except NotFoundError as exc:
            raise NotFoundError(exc.message, field="user") from None
        row = {
            "id": key_id,
            "name": new.name,
            "secret_hash": hash_secret(secret),
            "scopes": sorted(set(new.scopes)),
            "user_id": user_id,
            "created_by": created_by,
            "created_at": now,
            "last_used_at": None,
            "revoked_at": None,
        }
        sql.insert_key(tx.conn, row)
        key = sql.to_key(row, new.user)
        return CreatedApiKey(**key.model_dump(), secret=f"{key_id}.{secret}")

    async def list_keys(self, principal: Principal) -> list[ApiKey]:
        principal.require()
        return await self.db.read(sql.list_keys)

    async def revoke_key(self, principal: Principal, key_id: str) -> ApiKey:
        principal.require()

        def apply(tx: Tx) -> ApiKey:
            sql.revoke_key(tx.conn, key_id, self.clock.now())
            return next(k for k in sql.list_keys(tx.conn) if k.id == key_id)

        key = await self.db.write(apply)
        self._cache.pop(key_id, None)
        return key

    def bootstrap(self) -> CreatedApiKey | None:
        """On the first start without INLOOP_ADMIN_TOKEN, make an admin key (once, ever)."""
        if self.admin_token:
            return None
        now = self.clock.now()

        def apply(tx: Tx) -> CreatedApiKey | None:
            if sql.has_keys(tx.conn) or not sql.claim_meta(
                tx.conn, "bootstrap_key", now.isoformat()
            ):
                return None
            new = NewApiKey(name="bootstrap admin", scopes=[Scope.ADMIN])
            return self.create_key_tx(tx, new, "system", now)

        return self.db.write_sync(apply)
