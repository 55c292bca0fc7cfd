"""``client.confirmations``: the end user's yes or no to a pending action, or a one-time
code sent by email and SMS (seed 004's multi-factor confirmation), sync and async.

The action is kept on the server as canonical JSON; ``confirmation.action`` (and
``action_json``, with its ``action_digest``) is what to run once it is confirmed.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal

from inloop.client._calls import Call, items, json_body, one, query, segment
from inloop.domain.agent_sessions import SessionEvent
from inloop.domain.confirmations import Confirmation, ConfirmationKind, ConfirmationStatus

Kind = ConfirmationKind | Literal["yes_no", "mfa"]


def _ttl(ttl: str | timedelta) -> str:
    return f"{int(ttl.total_seconds())}s" if isinstance(ttl, timedelta) else ttl


def request_call(fields: dict[str, Any]) -> Call[Confirmation]:
    return Call("POST", "/v1/confirmations", one(Confirmation), body=json_body(fields))


def _path(confirmation_id: str, tail: str = "") -> str:
    return f"/v1/confirmations/{segment(confirmation_id)}{tail}"


def get_call(confirmation_id: str) -> Call[Confirmation]:
    return Call("GET", _path(confirmation_id), one(Confirmation))


def answer_call(confirmation_id: str, yes: bool) -> Call[Confirmation]:
    return Call("POST", _path(confirmation_id, "/answer"), one(Confirmation), body={"yes": yes})


def verify_call(confirmation_id: str, code: str) -> Call[Confirmation]:
    return Call("POST", _path(confirmation_id, "/verify"), one(Confirmation), body={"code": code})


def resend_call(confirmation_id: str) -> Call[Confirmation]:
    return Call("POST", _path(confirmation_id, "/resend"), one(Confirmation))


def events_call(confirmation_id: str) -> Call[list[SessionEvent]]:
    return Call("GET", _path(confirmation_id, "/events"), items(SessionEvent))


def list_call(
    session_id: str | None, status: ConfirmationStatus | str | None, limit: int
) -> Call[list[Confirmation]]:
    params = query({"session_id": session_id, "status": status, "limit": limit})
    return Call("GET", "/v1/confirmations", items(Confirmation), params=params)


def _fields(
    session_id: str,
    action: Any,
    kind: Kind,
    to_email: str | None,
    to_phone: str | None,
    reason: str | None,
    ttl: str | timedelta,
) -> dict[str, Any]:
    return {
        "session_id": session_id, "action": action, "kind": kind, "to_email": to_email,
        "to_phone": to_phone, "reason": reason, "ttl": _ttl(ttl),
    }  # fmt: skip


class Confirmations:
    """``client.confirmations`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def request(
        self,
        session_id: str,
        action: Any,
        kind: Kind = "yes_no",
        to_email: str | None = None,
        to_phone: str | None = None,
        reason: str | None = None,
        ttl: str | timedelta = "5m",
    ) -> Confirmation:
        """Hold ``action`` until the end user confirms it. ``kind="mfa"`` sends a 6-digit
        code to ``to_email`` and/or ``to_phone``; check it with ``verify``. ``yes_no``:
        relay the user's answer with ``answer``."""
        fields = _fields(session_id, action, kind, to_email, to_phone, reason, ttl)
        result: Confirmation = self._send(request_call(fields))
        return result

    def get(self, confirmation_id: str) -> Confirmation:
        result: Confirmation = self._send(get_call(confirmation_id))
        return result

    def answer(self, confirmation_id: str, yes: bool) -> Confirmation:
        """The user's yes (confirmed) or no (declined). ConflictError once it is closed."""
        result: Confirmation = self._send(answer_call(confirmation_id, yes))
        return result

    def verify(self, confirmation_id: str, code: str) -> Confirmation:
        """Confirmed if the code is right. A wrong one raises InvalidError (``wrong_code``);
        the third locks it (ConflictError ``confirmation_locked``), as does expiry."""
        result: Confirmation = self._send(verify_call(confirmation_id, code))
        return result

    def resend(self, confirmation_id: str) -> Confirmation:
        """A new code; RateLimitError (``retry_after``) within 30 s of the last one."""
        result: Confirmation = self._send(resend_call(confirmation_id))
        return result

    def events(self, confirmation_id: str) -> builtins.list[SessionEvent]:
        """Its audit trail (``data.step``: created, sent, attempt_failed, ...), in order."""
        result: builtins.list[SessionEvent] = self._send(events_call(confirmation_id))
        return result

    def list(
        self,
        *,
        session_id: str | None = None,
        status: ConfirmationStatus | str | None = None,
        limit: int = 50,
    ) -> builtins.list[Confirmation]:
        result: builtins.list[Confirmation] = self._send(list_call(session_id, status, limit))
        return result


class AsyncConfirmations:
    """``client.confirmations`` of an ``AsyncClient``; see ``Confirmations``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def request(
        self,
        session_id: str,
        action: Any,
        kind: Kind = "yes_no",
        to_email: str | None = None,
        to_phone: str | None = None,
        reason: str | None = None,
        ttl: str | timedelta = "5m",
    ) -> Confirmation:
        fields = _fields(session_id, action, kind, to_email, to_phone, reason, ttl)
        result: Confirmation = await self._send(request_call(fields))
        return result

    async def get(self, confirmation_id: str) -> Confirmation:
        result: Confirmation = await self._send(get_call(confirmation_id))
        return result

    async def answer(self, confirmation_id: str, yes: bool) -> Confirmation:
        result: Confirmation = await self._send(answer_call(confirmation_id, yes))
        return result

    async def verify(self, confirmation_id: str, code: str) -> Confirmation:
        result: Confirmation = await self._send(verify_call(confirmation_id, code))
        return result

    async def resend(self, confirmation_id: str) -> Confirmation:
        result: Confirmation = await self._send(resend_call(confirmation_id))
        return result

    async def events(self, confirmation_id: str) -> builtins.list[SessionEvent]:
        result: builtins.list[SessionEvent] = await self._send(events_call(confirmation_id))
        return result

    async def list(
        self,
        *,
        session_id: str | None = None,
        status: ConfirmationStatus | str | None = None,
        limit: int = 50,
    ) -> builtins.list[Confirmation]:
        result: builtins.list[Confirmation] = await self._send(list_call(session_id, status, limit))
        return result
