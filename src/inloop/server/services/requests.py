"""Creating, answering, cancelling and waiting on requests: the only writers of their state."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from inloop.domain.access import check_can_answer, check_can_see, is_candidate
from inloop.domain.enums import EventType, Scope
from inloop.domain.errors import ConflictError, InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import Event, NewEvent, NewRequest, Request, new_record
from inloop.domain.responses import validate_edited, validate_response
from inloop.domain.transitions import Action, transition
from inloop.server.services.approvals import record_vote
from inloop.server.services.clock import Clock
from inloop.server.services.hub import Hub
from inloop.server.services.lifecycle import Lifecycle
from inloop.server.store import requests as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.requests import RequestFilter

MAX_WAIT_SECONDS = 600.0
MAX_COMMENT = 10_000


class RequestService:
    def __init__(self, db: Database, clock: Clock, hub: Hub, lifecycle: Lifecycle) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub
        self.lifecycle = lifecycle

    async def create(
        self, principal: Principal, new: NewRequest, *, idempotency_key: str | None = None
    ) -> tuple[Request, bool]:
        """Store a new request, route it and set its timers; with a known idempotency key,
        return the first one instead. The boolean says whether this call created it.
        """
        principal.require(Scope.AGENT)
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise InvalidError(
                "Idempotency-Key must be 1 to 255 characters", field="Idempotency-Key"
            )
        now = self.clock.now()
        record = new_record(
            new,
            id=new_id("req", now),
            created_by=principal.actor,
            now=now,
            idempotency_key=idempotency_key,
        )
        fingerprint = new.fingerprint() if idempotency_key else None
        return await self.db.write(self._insert, record, fingerprint)

    def _insert(self, tx: Tx, record: Request, fingerprint: str | None) -> tuple[Request, bool]:
        if record.idempotency_key is not None:
            existing = self._replay(tx, record, fingerprint)
            if existing is not None:
                return existing, False
        if not sql.insert_request(tx.conn, record, fingerprint):
            # A concurrent retry with the same key committed first: answer as it did.
            existing = self._replay(tx, record, fingerprint)
            assert existing is not None
            return existing, False
        now = record.created_at
        tx.emit(
            NewEvent(
                request_id=record.id,
                type=EventType.CREATED,
                actor=record.created_by,
                at=now,
                data={"kind": record.kind, "priority": record.priority},
            ),
            record,
        )
        return self.lifecycle.start(tx, record, now), True

    def _replay(self, tx: Tx, record: Request, fingerprint: str | None) -> Request | None:
        assert record.idempotency_key is not None
        found = sql.find_by_idempotency_key(tx.conn, record.created_by, record.idempotency_key)
        if found is None:
            return None
        existing, existing_fingerprint = found
        if existing_fingerprint != fingerprint:
            raise ConflictError(
                f"Idempotency-Key {record.idempotency_key!r} was used for another request "
                f"({existing.id}) with a different body",
                field="Idempotency-Key",
                code="idempotency_conflict",
            )
        return existing

    async def get(self, principal: Principal, request_id: str) -> Request:
        principal.require(Scope.AGENT, Scope.RESPONDER)
        request = existing(await self.db.read(sql.get_request, request_id), request_id)
        check_can_see(principal, request)
        return request

    async def list_requests(
        self,
        principal: Principal,
        where: RequestFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Request], str | None]:
        principal.require(Scope.AGENT, Scope.RESPONDER)
        if not principal.is_admin:
            where = dataclasses.replace(where, visible_to=principal)
        return await self.db.read(sql.list_requests, where, limit=limit, cursor=cursor)

    async def respond(
        self,
        principal: Principal,
        request_id: str,
        response: Any,
        *,
        comment: str | None = None,
        edited: Any = None,
        via: dict[str, Any] | None = None,
    ) -> Request:
        """Record a human's answer. The first valid answer wins; later ones get a conflict.

        With approvals or a quorum, the answer is a vote that may or may not close it.
        ``edited`` is the changed payload that an answer of modify or edit brings; ``via``
        says where the answer came from (``{"channel": "slack", "user_id": ...}``).
        """
        principal.require(Scope.RESPONDER)
        check_text(comment, "comment")
        now = self.clock.now()
        return await self.db.write(
            self.respond_in, principal, request_id, response, now,
            comment=comment, edited=edited, via=via,
        )  # fmt: skip

    def respond_in(
        self,
        tx: Tx,
        principal: Principal,
        request_id: str,
        response: Any,
        now: datetime,
        *,
        comment: str | None = None,
        edited: Any = None,
        via: dict[str, Any] | None = None,
    ) -> Request:
        """``respond`` inside the caller's transaction (a channel's answer that also uses
        up a one-time code commits both, or neither)."""
        principal.require(Scope.RESPONDER)
        check_text(comment, "comment")
        request = self.locked(tx, request_id, principal, Action.RESPOND)
        check_can_answer(principal, request)
        value = validate_response(request, response)
        changed = validate_edited(request, value, edited)
        if request.quorum and not is_candidate(principal, request):
            raise PermissionDeniedError(
                f"a quorum is voted by its members ({', '.join(request.quorum.of)}); "
                f"{principal.actor} is not one of them",
                code="forbidden",
            )
        if request.approvals or request.quorum:
            return record_vote(self.lifecycle, tx, request, principal.actor, value, comment, now)
        return self.lifecycle.change(
            tx,
            request,
            Action.RESPOND,
            {"response": value, "comment": comment, "resolved_by": principal.actor}
            | ({} if changed is None else {"edited": changed})
            | ({} if via is None else {"responded_via": via}),
            EventType.RESPONDED,
            actor=principal.actor,
            now=now,
            reason=comment,
            data={"response": value}
            | ({} if changed is None else {"edited": changed})
            | ({} if via is None else {"via": via.get("channel")}),
        )

    async def cancel(
        self, principal: Principal, request_id: str, *, reason: str | None = None
    ) -> Request:
        """The agent that asked (or an admin) withdraws the question."""
        principal.require(Scope.AGENT)
        check_text(reason, "reason")
        now = self.clock.now()

        def withdraw(tx: Tx) -> Request:
            request = self.locked(tx, request_id, principal, Action.CANCEL)
            if not principal.is_admin and request.created_by != principal.actor:
                raise PermissionDeniedError(
                    f"only the agent that created request {request_id} or an admin may cancel it",
                    code="forbidden",
                )
            return self.lifecycle.change(
                tx,
                request,
                Action.CANCEL,
                {"resolved_by": principal.actor},
                EventType.CANCELLED,
                actor=principal.actor,
                now=now,
                reason=reason,
            )

        return await self.db.write(withdraw)

    def locked(
        self, tx: Tx, request_id: str, principal: Principal, action: Action | None
    ) -> Request:
        """Read the request for a change, locked; refuse early if unseen or closed."""
        request = existing(sql.get_request(tx.conn, request_id, lock=True), request_id)
        check_can_see(principal, request)
        if action is not None:
            transition(request.status, action)
        return request

    async def wait(self, principal: Principal, request_id: str, timeout: float) -> Request:
        """Return the request once it closes, or as it stands when ``timeout`` passes."""
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise InvalidError(
                f"timeout must be between 0 and {MAX_WAIT_SECONDS:g} seconds", field="timeout"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self.hub.waiter(request_id) as closed:
                # Registered before reading, so a close committed in between still wakes us.
                request = await self.get(principal, request_id)
                left = deadline - loop.time()
                if not request.is_open or left <= 0:
                    return request
                try:
                    woken = await asyncio.wait_for(closed, left)
                except TimeoutError:
                    return await self.get(principal, request_id)
                if woken is not None:
                    return woken
                # None: the hub lost track (a replica relay reconnected); look again.

    async def events(self, principal: Principal, request_id: str) -> list[Event]:
        await self.get(principal, request_id)
        return await self.db.read(sql.list_events, request_id=request_id, limit=100_000)


def existing(request: Request | None, request_id: str) -> Request:
    if request is None:
        raise NotFoundError(f"no request with id {request_id!r}", field="id")
    return request


def check_text(value: str | None, field: str) -> None:
    if value is not None and len(value) > MAX_COMMENT:
        raise InvalidError(f"{field} is longer than {MAX_COMMENT} characters", field=field)
