"""Confirmations: the end user's yes or no to a pending action, or a one-time code sent by
email and SMS (multi-factor), with every step in the session's history.

How the code is kept secret:

- it comes from ``secrets`` (6 digits) and is stored only as HMAC-SHA256 of
  ``<confirmation id>:<code>`` under a key derived from the server key
  (``Keyring.derive("confirmation-codes")``), compared with ``hmac.compare_digest``;
- it travels through the outbox as a *sensitive* delivery: the message is sealed with the
  server key (Fernet) in ``deliveries.sealed``, its ``payload`` column stays null, the API
  and the desk never show it, and the sealed copy is erased once the delivery is done
  with (sent or dead). No log line carries a message's text. So the code exists in plain
  text only in memory, while it is made and while the dispatcher hands it to the channel.

A wrong code, an expiry found on a call, a lockout: each is committed before the error
goes back, so a caller cannot undo an attempt by making the call fail.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from inloop.domain.agent_sessions import (
    AgentSession,
    SessionEvent,
    SessionEventType,
    check_session_id,
)
from inloop.domain.confirmations import (
    MAX_ATTEMPTS,
    MAX_RESENDS,
    RESEND_EVERY,
    Confirmation,
    ConfirmationKind,
    ConfirmationStatus,
    ConfirmationStep,
    NewConfirmation,
    canonical_json,
    digest,
    mask_email,
    mask_phone,
)
from inloop.domain.deliveries import Message, NewDelivery
from inloop.domain.enums import Scope
from inloop.domain.errors import (
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.server.secrets import Keyring
from inloop.server.services.agent_sessions import AgentSessionService
from inloop.server.services.clock import Clock
from inloop.server.services.deliveries import DeliveryService
from inloop.server.store import agent_sessions as session_sql
from inloop.server.store import confirmations as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.timers import Timer

EXPIRY_TIMER = "confirmation_expiry"
CODE_DIGITS = 6
PURPOSE = "confirmation-codes"


def random_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


@dataclass
class _Outcome:
    """What a call did (committed), and the error to raise after the commit, if any."""

    row: dict[str, Any]
    error: DomainError | None = None


class ConfirmationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        sessions: AgentSessionService,
        deliveries: DeliveryService,
        keyring: Keyring,
    ) -> None:
        self.db = db
        self.clock = clock
        self.sessions = sessions
        self.deliveries = deliveries
        self.keyring = keyring
        #: Where a new code comes from: 6 digits from ``secrets``.
        self.new_code: Callable[[], str] = random_code

    # the code

    def _mac(self, confirmation_id: str, code: str, key: bytes) -> str:
        message = f"{confirmation_id}:{code.strip()}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def code_matches(self, row: dict[str, Any], code: str) -> bool:
        stored = row["code_hmac"]
        if not stored:
            return False
        matched = False
        for key in self.keyring.signing_keys(PURPOSE):  # the first key, then older ones
            matched |= hmac.compare_digest(self._mac(row["id"], code, key), stored)
        return matched

    # calls

    async def request(self, principal: Principal, new: NewConfirmation) -> Confirmation:
        """Keep the action, and for ``mfa`` send a fresh code to each destination."""
        principal.require(Scope.AGENT)
        check_session_id(new.session_id)
        return await self.db.write(self.request_tx, principal, new)

    def request_tx(self, tx: Tx, principal: Principal, new: NewConfirmation) -> Confirmation:
        now = self.clock.now()
        session = self.sessions.open(tx, principal, new.session_id)
        action_json = canonical_json(new.action)
        row: dict[str, Any] = {
            "id": new_id("cnf", now),
            "session_id": session.id,
            "kind": new.kind.value,
            "status": ConfirmationStatus.PENDING.value,
            "action_json": action_json,
            "action_digest": digest(action_json),
            "reason": new.reason,
            "code_hmac": None,
            "to_email": new.to_email,
            "to_phone": new.to_phone,
            "attempts": 0,
            "max_attempts": MAX_ATTEMPTS,
            "resends": 0,
            "sent_at": None,
            "expires_at": now + new.ttl_delta,
            "created_by": principal.actor,
            "created_at": now,
            "decided_at": None,
            "decided_by": None,
        }
        sql.insert_row(tx.conn, row)
        self._step(tx, session, row, ConfirmationStep.CREATED, principal.actor, new.reason)
        if new.kind == ConfirmationKind.MFA:
            row = self._send_code(tx, session, row, principal.actor, ConfirmationStep.SENT)
        tx.add_timer(EXPIRY_TIMER, row["expires_at"], data=_timer_data(row))
        self.sessions.change_state(
            tx,
            _fresh(tx, session),
            {
                "requires_confirmation": True,
                "pending_action": new.action,
                "pending_confirmation_id": row["id"],
                "confirmation_kind": new.kind.value,
            },
            principal.actor,
            new.reason
            or (
                "Multi-factor confirmation required"
                if new.kind == ConfirmationKind.MFA
                else "Requesting user confirmation"
            ),
        )
        return self.public(row)

    async def get(self, principal: Principal, confirmation_id: str) -> Confirmation:
        principal.require(Scope.AGENT)

        def read(conn: Connection) -> Confirmation:
            return self.public(self._mine(conn, principal, confirmation_id))

        return await self.db.read(read)

    async def events(self, principal: Principal, confirmation_id: str) -> list[SessionEvent]:
        """Its audit trail: the steps in the session's history that name it, in order."""
        principal.require(Scope.AGENT)

        def read(conn: Connection) -> list[SessionEvent]:
            row = self._mine(conn, principal, confirmation_id)
            steps = session_sql.events(
                conn, row["session_id"], types=[SessionEventType.CONFIRMATION], limit=100_000
            )
            return [e for e in steps if e.data.get("confirmation_id") == confirmation_id]

        return await self.db.read(read)

    async def list_confirmations(
        self,
        principal: Principal,
        *,
        session_id: str | None = None,
        status: ConfirmationStatus | None = None,
        limit: int = 50,
    ) -> list[Confirmation]:
        principal.require(Scope.AGENT)
        if not 1 <= limit <= 500:
            raise InvalidError("limit must be between 1 and 500", field="limit")
        rows = await self.db.read(
            sql.list_rows,
            session_id=session_id,
            created_by=None if principal.is_admin else principal.actor,
            status=status.value if status else None,
            limit=limit,
        )
        return [self.public(r) for r in rows]

    async def answer(self, principal: Principal, confirmation_id: str, yes: bool) -> Confirmation:
        """The end user's yes or no to a ``yes_no`` confirmation, as the agent relays it."""
        principal.require(Scope.AGENT)

        def apply(tx: Tx) -> _Outcome:
            row, session = self._open(tx, principal, confirmation_id)
            if row["kind"] != ConfirmationKind.YES_NO:
                raise ConflictError(
                    f"confirmation {confirmation_id} needs its code: call verify",
                    field="confirmation_id",
                    code="confirmation_needs_code",
                )
            expired = self._closed_or_expired(tx, session, row)
            if expired is not None:
                return expired
            step = ConfirmationStep.CONFIRMED if yes else ConfirmationStep.DECLINED
            return _Outcome(self._decide(tx, session, row, step, principal.actor))

        return self._result(await self.db.write(apply))

    async def verify(self, principal: Principal, confirmation_id: str, code: str) -> Confirmation:
        """Check an ``mfa`` confirmation's code: confirmed, or one attempt fewer (locked at
        none); expired once its time is up."""
        principal.require(Scope.AGENT)

        def apply(tx: Tx) -> _Outcome:
            row, session = self._open(tx, principal, confirmation_id)
            if row["kind"] != ConfirmationKind.MFA:
                raise ConflictError(
                    f"confirmation {confirmation_id} is a yes/no question: call answer",
                    field="confirmation_id",
                    code="confirmation_needs_answer",
                )
            closed = self._closed_or_expired(tx, session, row)
            if closed is not None:
                return closed
            if self.code_matches(row, code):
                return _Outcome(
                    self._decide(tx, session, row, ConfirmationStep.CONFIRMED, principal.actor)
                )
            attempts = row["attempts"] + 1
            left = row["max_attempts"] - attempts
            values: dict[str, Any] = {"attempts": attempts}
            if left <= 0:
                values |= {"status": ConfirmationStatus.LOCKED.value, "code_hmac": None}
            row = sql.save(tx.conn, row["id"], values)
            self._step(
                tx, session, row, ConfirmationStep.ATTEMPT_FAILED, principal.actor,
                "Incorrect confirmation code", attempt=attempts, attempts_left=max(left, 0),
            )  # fmt: skip
            if left > 0:
                return _Outcome(
                    row,
                    InvalidError(
                        f"wrong code: {left} attempt{'s' if left > 1 else ''} left",
                        field="code",
                        code="wrong_code",
                    ),
                )
            self._step(
                tx, session, row, ConfirmationStep.LOCKED, principal.actor,
                "Too many failed attempts. Action cancelled for security.",
            )  # fmt: skip
            self._clear_state(tx, session, row, principal.actor, "Confirmation locked")
            return _Outcome(
                row,
                ConflictError(
                    f"wrong code, and that was the last of {row['max_attempts']} attempts: "
                    "the confirmation is locked; request a new one",
                    field="code",
                    code="confirmation_locked",
                ),
            )

        return self._result(await self.db.write(apply))

    async def resend(self, principal: Principal, confirmation_id: str) -> Confirmation:
        """A new code (the old one stops working) to the same destinations, at most
        ``MAX_RESENDS`` times and once every ``RESEND_EVERY``; the expiry restarts."""
        principal.require(Scope.AGENT)

        def apply(tx: Tx) -> _Outcome:
            row, session = self._open(tx, principal, confirmation_id)
            if row["kind"] != ConfirmationKind.MFA:
                raise ConflictError(
                    f"confirmation {confirmation_id} sends no code", code="confirmation_no_code"
                )
            closed = self._closed_or_expired(tx, session, row)
            if closed is not None:
                return closed
            if row["resends"] >= MAX_RESENDS:
                raise ConflictError(
                    f"the code was sent again {MAX_RESENDS} times already: request a new "
                    "confirmation",
                    code="resend_limit",
                )
            now = self.clock.now()
            wait = row["sent_at"] + RESEND_EVERY - now
            if wait.total_seconds() > 0:
                seconds = int(-(-wait.total_seconds() // 1))
                raise RateLimitedError(
                    f"a code was sent less than {int(RESEND_EVERY.total_seconds())} s ago: "
                    f"try again in {seconds} s",
                    retry_after=seconds,
                    code="resend_too_soon",
                )
            ttl = row["expires_at"] - row["sent_at"]
            row = sql.save(tx.conn, row["id"], {"resends": row["resends"] + 1})
            row = self._send_code(
                tx, session, row, principal.actor, ConfirmationStep.RESENT, expires=now + ttl
            )
            tx.add_timer(EXPIRY_TIMER, row["expires_at"], data=_timer_data(row))
            return _Outcome(row)

        return self._result(await self.db.write(apply))

    def expiry_timer(self, tx: Tx, timer: Timer, now: datetime) -> None:
        """The scheduler's: a confirmation still pending at its expiry expires."""
        confirmation_id = str(timer.data.get("confirmation_id"))
        row = sql.get(tx.conn, confirmation_id)
        if row is None or row["status"] != ConfirmationStatus.PENDING or row["expires_at"] > now:
            return  # decided, or resent (a later timer is set)
        # The session's lock first, then the row's: the order every call takes them in.
        session = session_sql.get_or_create(tx.conn, row["session_id"], row["created_by"], now)
        row = sql.get(tx.conn, confirmation_id, lock=True)
        if row is None or row["status"] != ConfirmationStatus.PENDING or row["expires_at"] > now:
            return
        self._expire(tx, session, row, "system")

    # the steps

    def _open(
        self, tx: Tx, principal: Principal, confirmation_id: str
    ) -> tuple[dict[str, Any], AgentSession]:
        """The row, locked after its session (the order every writer takes them in)."""
        row = self._mine(tx.conn, principal, confirmation_id)
        session = self.sessions.open(tx, principal, row["session_id"])
        locked = sql.get(tx.conn, confirmation_id, lock=True)
        assert locked is not None
        return locked, session

    def _mine(self, conn: Connection, principal: Principal, confirmation_id: str) -> dict[str, Any]:
        row = sql.get(conn, confirmation_id)
        if row is None:
            raise NotFoundError(
                f"no confirmation {confirmation_id!r}",
                field="confirmation_id",
                code="confirmation_not_found",
            )
        if not principal.is_admin and row["created_by"] != principal.actor:
            raise PermissionDeniedError(
                f"confirmation {confirmation_id!r} belongs to another agent",
                field="confirmation_id",
            )
        return row

    def _closed_or_expired(
        self, tx: Tx, session: AgentSession, row: dict[str, Any]
    ) -> _Outcome | None:
        status = ConfirmationStatus(row["status"])
        if status == ConfirmationStatus.PENDING and self.clock.now() >= row["expires_at"]:
            row = self._expire(tx, session, row, "system")
            status = ConfirmationStatus.EXPIRED
        if status == ConfirmationStatus.PENDING:
            return None
        why = {
            ConfirmationStatus.CONFIRMED: "was confirmed already",
            ConfirmationStatus.DECLINED: "was declined",
            ConfirmationStatus.EXPIRED: "has expired: request a new one",
            ConfirmationStatus.LOCKED: "is locked after too many wrong codes: request a new one",
        }[status]
        return _Outcome(
            row,
            ConflictError(
                f"confirmation {row['id']} {why}",
                field="confirmation_id",
                code=f"confirmation_{status.value}",
            ),
        )

    def _expire(
        self, tx: Tx, session: AgentSession, row: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        row = sql.save(
            tx.conn, row["id"], {"status": ConfirmationStatus.EXPIRED.value, "code_hmac": None}
        )
        self._step(tx, session, row, ConfirmationStep.EXPIRED, actor, "Confirmation expired")
        self._clear_state(tx, session, row, actor, "Confirmation expired")
        return row

    def _decide(
        self, tx: Tx, session: AgentSession, row: dict[str, Any], step: ConfirmationStep, actor: str
    ) -> dict[str, Any]:
        status = (
            ConfirmationStatus.CONFIRMED
            if step == ConfirmationStep.CONFIRMED
            else ConfirmationStatus.DECLINED
        )
        now = self.clock.now()
        row = sql.save(
            tx.conn,
            row["id"],
            {"status": status.value, "code_hmac": None, "decided_at": now, "decided_by": actor},
        )
        why = "User confirmed" if status == ConfirmationStatus.CONFIRMED else "User declined"
        if row["kind"] == ConfirmationKind.MFA and status == ConfirmationStatus.CONFIRMED:
            why = "Multi-factor confirmation successful"
        self._step(tx, session, row, step, actor, why)
        self._clear_state(tx, session, row, actor, why)
        return row

    def _clear_state(
        self, tx: Tx, session: AgentSession, row: dict[str, Any], actor: str, why: str
    ) -> None:
        current = _fresh(tx, session)
        if current.state.get("pending_confirmation_id") != row["id"]:
            return  # a newer confirmation owns the session's pending keys
        changes: dict[str, Any] = {
            "requires_confirmation": False,
            "pending_confirmation_id": None,
            "last_confirmation": {"id": row["id"], "status": row["status"]},
        }
        if row["status"] != ConfirmationStatus.CONFIRMED:
            changes["pending_action"] = None
        self.sessions.change_state(tx, current, changes, actor, why)

    def _send_code(
        self,
        tx: Tx,
        session: AgentSession,
        row: dict[str, Any],
        actor: str,
        step: ConfirmationStep,
        *,
        expires: datetime | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now()
        code = self.new_code()
        expires_at = expires or row["expires_at"]
        minutes = max(1, round((expires_at - now).total_seconds() / 60))
        text = (
            f"Your confirmation code is {code}. It expires in {minutes} minute"
            f"{'s' if minutes > 1 else ''}.\n"
            + (f"It confirms: {row['reason']}\n" if row["reason"] else "")
            + "If you did not ask for this, ignore this message."
        )
        sent_to = []
        send_no = row["resends"]
        for channel, address, field in (
            ("email", row["to_email"], "to_email"),
            ("sms", row["to_phone"], "to_phone"),
        ):
            if not address:
                continue
            new = NewDelivery(
                key=f"confirmation:{row['id']}:{send_no}:{channel}",
                channel=channel,
                to=address,
                topic="confirmation_code",
                message=Message(subject="Your confirmation code", text=text),
                sensitive=True,
            )
            try:
                self.deliveries.enqueue(tx, new)
            except NotFoundError:
                raise InvalidError(
                    f"no {channel} channel is configured to send the code to {field}",
                    field=field,
                    code="channel_unavailable",
                ) from None
            sent_to.append(channel)
        key = self.keyring.signing_keys(PURPOSE)[0]
        row = sql.save(
            tx.conn,
            row["id"],
            {
                "code_hmac": self._mac(row["id"], code, key),
                "sent_at": now,
                "expires_at": expires_at,
            },
        )
        self._step(tx, session, row, step, actor, None, channels=sent_to)
        return row

    def _step(
        self,
        tx: Tx,
        session: AgentSession,
        row: dict[str, Any],
        step: ConfirmationStep,
        actor: str,
        reasoning: str | None,
        **extra: Any,
    ) -> None:
        data = {
            "step": step.value,
            "confirmation_id": row["id"],
            "kind": row["kind"],
            "status": row["status"],
            "action_digest": row["action_digest"],
            **extra,
        }
        self.sessions.record(tx, session, SessionEventType.CONFIRMATION, actor, data, reasoning)

    # what leaves the service

    def public(self, row: dict[str, Any]) -> Confirmation:
        sent_to = []
        if row["to_email"]:
            sent_to.append(f"email:{mask_email(row['to_email'])}")
        if row["to_phone"]:
            sent_to.append(f"sms:{mask_phone(row['to_phone'])}")
        is_mfa = row["kind"] == ConfirmationKind.MFA
        status = ConfirmationStatus(row["status"])
        if status == ConfirmationStatus.PENDING and self.clock.now() >= row["expires_at"]:
            status = ConfirmationStatus.EXPIRED  # its timer has not fired yet
        pending = status == ConfirmationStatus.PENDING
        resends_left = MAX_RESENDS - row["resends"] if is_mfa and pending else 0
        next_resend = row["sent_at"] + RESEND_EVERY if resends_left and row["sent_at"] else None
        return Confirmation(
            id=row["id"],
            session_id=row["session_id"],
            kind=row["kind"],
            status=status,
            action=orjson.loads(row["action_json"]),
            action_json=row["action_json"],
            action_digest=row["action_digest"],
            reason=row["reason"],
            sent_to=sent_to,
            attempts_left=max(0, row["max_attempts"] - row["attempts"]) if pending else 0,
            resends_left=resends_left,
            next_resend_at=next_resend,
            expires_at=row["expires_at"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            decided_at=row["decided_at"],
            decided_by=row["decided_by"],
        )

    def _result(self, outcome: _Outcome) -> Confirmation:
        if outcome.error is not None:
            raise outcome.error
        return self.public(outcome.row)


def _fresh(tx: Tx, session: AgentSession) -> AgentSession:
    found = session_sql.get(tx.conn, session.id)
    assert found is not None
    return found


def _timer_data(row: dict[str, Any]) -> dict[str, Any]:
    return {"confirmation_id": row["id"], "expires_at": row["expires_at"].isoformat()}
