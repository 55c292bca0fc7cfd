"""Claim, release, reassign and escalate-now: humans moving work between themselves."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from inloop.domain.access import is_candidate
from inloop.domain.enums import EventType, Scope
from inloop.domain.errors import ConflictError, InvalidError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.requests import Request
from inloop.domain.specs import AssigneeRef
from inloop.domain.transitions import Action
from inloop.server.services.clock import Clock
from inloop.server.services.lifecycle import Lifecycle
from inloop.server.services.requests import RequestService, check_text
from inloop.server.store.database import Database, Tx

_REF = TypeAdapter(AssigneeRef)


class AssignmentService:
    def __init__(
        self, db: Database, clock: Clock, lifecycle: Lifecycle, requests: RequestService
    ) -> None:
        self.db = db
        self.clock = clock
        self.lifecycle = lifecycle
        self.requests = requests

    async def claim(self, principal: Principal, request_id: str) -> Request:
        """Take the request: it is assigned to the caller, who must be a candidate."""
        principal.require(Scope.RESPONDER)
        handle = _handle(principal, "claim")
        now = self.clock.now()

        def take(tx: Tx) -> Request:
            request = self.requests.locked(tx, request_id, principal, Action.ASSIGN)
            _claimable(request)
            if request.assigned_to == handle:
                return request  # claiming twice is harmless
            if request.assigned_to is not None:
                raise ConflictError(
                    f"request {request_id} is already assigned to {request.assigned_to}",
                    code="assigned_to_another",
                )
            if not (principal.is_admin or is_candidate(principal, request)):
                raise PermissionDeniedError(
                    f"{principal.actor} is not among the candidates of request {request_id}",
                    code="forbidden",
                )
            return self.lifecycle.assign(
                tx, request, handle, now, EventType.CLAIMED, actor=principal.actor
            )

        return await self.db.write(take)

    async def release(
        self, principal: Principal, request_id: str, *, reason: str | None = None
    ) -> Request:
        """Give the request back to its candidates."""
        principal.require(Scope.RESPONDER)
        check_text(reason, "reason")
        now = self.clock.now()

        def give_back(tx: Tx) -> Request:
            request = self.requests.locked(tx, request_id, principal, Action.RELEASE)
            self._holder_or_admin(principal, request, "release")
            return self.lifecycle.change(
                tx,
                request,
                Action.RELEASE,
                {"assigned_to": None, "assigned_at": None},
                EventType.RELEASED,
                actor=principal.actor,
                now=now,
                reason=reason,
            )

        return await self.db.write(give_back)

    async def reassign(
        self, principal: Principal, request_id: str, to: str, *, reason: str | None = None
    ) -> Request:
        """To a user: assigned to them. To a role or team: they become the candidates."""
        principal.require(Scope.RESPONDER)
        check_text(reason, "reason")
        try:
            _REF.validate_python(to)
        except ValidationError as exc:
            raise InvalidError(
                str(exc.errors()[0]["msg"]).removeprefix("Value error, "),
                field="to",
                code="validation_error",
            ) from None
        now = self.clock.now()

        def hand_over(tx: Tx) -> Request:
            request = self.requests.locked(tx, request_id, principal, Action.ASSIGN)
            self._holder_or_admin(principal, request, "reassign")
            why = f"reassigned to {to}" + (f": {reason}" if reason else "")
            if to.startswith("user:"):
                _claimable(request)
                candidates = sorted({*request.candidates, to})
                return self.lifecycle.assign(
                    tx,
                    request,
                    to.removeprefix("user:"),
                    now,
                    EventType.REASSIGNED,
                    actor=principal.actor,
                    reason=why,
                    candidates=candidates,
                )
            return self.lifecycle.change(
                tx,
                request,
                Action.ESCALATE,
                {"candidates": [to], "assigned_to": None, "assigned_at": None},
                EventType.REASSIGNED,
                actor=principal.actor,
                now=now,
                reason=why,
                data={"to": to},
            )

        return await self.db.write(hand_over)

    async def escalate(
        self, principal: Principal, request_id: str, *, reason: str | None = None
    ) -> Request:
        """Run the escalation policy now, as if the timeout had passed."""
        principal.require(Scope.RESPONDER)
        check_text(reason, "reason")
        now = self.clock.now()

        def escalate(tx: Tx) -> Request:
            request = self.requests.locked(tx, request_id, principal, Action.ESCALATE)
            self._holder_or_admin(principal, request, "escalate")
            why = f"escalated now by {principal.actor}" + (f": {reason}" if reason else "")
            return self.lifecycle.step(
                tx,
                request,
                self.lifecycle.escalation_step(request),
                now,
                why=why,
                actor=principal.actor,
            )

        return await self.db.write(escalate)

    @staticmethod
    def _holder_or_admin(principal: Principal, request: Request, verb: str) -> None:
        if principal.is_admin or (principal.handle and request.assigned_to == principal.handle):
            return
        raise PermissionDeniedError(
            f"only the assignee ({request.assigned_to or 'nobody'}) or an admin may {verb} "
            f"request {request.id}",
            code="forbidden",
        )


def _claimable(request: Request) -> None:
    if request.quorum:
        raise ConflictError(
            f"request {request.id} is decided by a quorum of votes: nobody holds it",
            code="not_claimable",
        )


def _handle(principal: Principal, verb: str) -> str:
    if principal.handle is None:
        raise InvalidError(
            f"to {verb} a request, use a key that acts for a user (it is assigned to them)",
            field="Authorization",
            code="no_user",
        )
    return principal.handle
