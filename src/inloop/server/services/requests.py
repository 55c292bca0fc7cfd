"""Creating, answering, cancelling and waiting on requests: the only writers of their state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from inloop.domain.enums import EventType, Scope
from inloop.domain.errors import ConflictError, InvalidError, NotFoundError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import Event, NewEvent, NewRequest, Request, new_record
from inloop.domain.responses import validate_response
from inloop.domain.transitions import TRANSITIONS, Action, transition
from inloop.server.services.clock import Clock
from inloop.server.services.hub import Hub
from inloop.server.store import requests as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.requests import RequestFilter

MAX_WAIT_SECONDS = 600.0
MAX_COMMENT = 10_000


class RequestService:
    def __init__(self, db: Database, clock: Clock, hub: Hub) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub

    async def create(
        self, principal: Principal, new: NewRequest, *, idempotency_key: str | None = None
    ) -> tuple[Request, bool]:
        """Store a new request; with a known idempotency key, return the first one instead.

        The boolean says whether this call created it.
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
        tx.emit(
            self._event(
                record.id,
                EventType.CREATED,
                record.created_by,
                data={"kind": record.kind, "priority": record.priority},
            ),
            record,
        )
        return record, True

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
        return _existing(await self.db.read(sql.get_request, request_id), request_id)

    async def list_requests(
        self,
        principal: Principal,
        where: RequestFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Request], str | None]:
        principal.require(Scope.AGENT, Scope.RESPONDER)
        return await self.db.read(sql.list_requests, where, limit=limit, cursor=cursor)

    async def respond(
        self, principal: Principal, request_id: str, response: Any, *, comment: str | None = None
    ) -> Request:
        """Record a human's answer. The first valid answer wins; later ones get a conflict."""
        principal.require(Scope.RESPONDER)
        _check_text(comment, "comment")

        def answer(current: Request) -> dict[str, Any]:
            return {"response": validate_response(current, response), "comment": comment}

        return await self._close(
            principal, request_id, Action.RESPOND, EventType.RESPONDED, answer, reason=comment
        )

    async def cancel(
        self, principal: Principal, request_id: str, *, reason: str | None = None
    ) -> Request:
        principal.require(Scope.AGENT)
        _check_text(reason, "reason")
        return await self._close(
            principal, request_id, Action.CANCEL, EventType.CANCELLED, lambda _: {}, reason=reason
        )

    async def _close(
        self,
        principal: Principal,
        request_id: str,
        action: Action,
        event_type: EventType,
        values: Callable[[Request], dict[str, Any]],
        *,
        reason: str | None,
    ) -> Request:
        """Close an open request in one transaction: check, then a conditional update.

        ``values`` computes the columns to set from the request as it stands, raising if
        the change does not fit it (an answer of the wrong type, say).
        """
        now = self.clock.now()
        rule = TRANSITIONS[action]

        def apply(tx: Tx) -> Request:
            current = _existing(sql.get_request(tx.conn, request_id), request_id)
            transition(current.status, action)
            changes = values(current)
            updated = sql.update_if_status(
                tx.conn,
                request_id,
                rule.allowed_from,
                {
                    **changes,
                    "status": rule.to,
                    "resolution": rule.resolution,
                    "resolved_at": now,
                    "resolved_by": principal.actor,
                    "updated_at": now,
                },
            )
            if updated is None:  # another replica closed it since we read it
                transition(
                    _existing(sql.get_request(tx.conn, request_id), request_id).status, action
                )
                raise AssertionError("conditional update matched no row of an open request")
            data = {"response": changes["response"]} if "response" in changes else {}
            tx.emit(
                self._event(request_id, event_type, principal.actor, reason, data, now), updated
            )
            return updated

        return await self.db.write(apply)

    async def wait(self, principal: Principal, request_id: str, timeout: float) -> Request:
        """Return the request once it closes, or as it stands when ``timeout`` passes."""
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise InvalidError(
                f"timeout must be between 0 and {MAX_WAIT_SECONDS:g} seconds", field="timeout"
            )
        with self.hub.waiter(request_id) as closed:
            # Registered before reading, so a close committed in between still wakes us.
            request = await self.get(principal, request_id)
            if not request.is_open or timeout == 0:
                return request
            try:
                return await asyncio.wait_for(closed, timeout)
            except TimeoutError:
                return await self.get(principal, request_id)

    async def events(self, principal: Principal, request_id: str) -> list[Event]:
        await self.get(principal, request_id)
        return await self.db.read(sql.list_events, request_id=request_id, limit=100_000)

    def _event(
        self,
        request_id: str,
        type: EventType,
        actor: str,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> NewEvent:
        return NewEvent(
            request_id=request_id,
            type=type,
            actor=actor,
            reason=reason,
            at=at or self.clock.now(),
            data=data or {},
        )


def _existing(request: Request | None, request_id: str) -> Request:
    if request is None:
        raise NotFoundError(f"no request with id {request_id!r}", field="id")
    return request


def _check_text(value: str | None, field: str) -> None:
    if value is not None and len(value) > MAX_COMMENT:
        raise InvalidError(f"{field} is longer than {MAX_COMMENT} characters", field=field)
