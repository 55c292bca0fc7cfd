"""``client.sessions``: seed 004's ``sb.sessions`` (state with reasoning, turns, history),
sync and async.

``get`` of an id that was never written returns an empty session (``exists=False``,
``state == {}``) instead of raising, as the seed's ``sb.sessions.get(id).state`` expects of
a brand-new conversation; the server creates the session on its first write.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from inloop.client._calls import Call, items, json_body, one, segment
from inloop.domain.agent_sessions import AgentSession, SessionContext, SessionEvent, Turn
from inloop.errors import NotFoundError, UsageError

T = TypeVar("T")

NOT_FOUND = "session_not_found"


def _path(session_id: str, tail: str = "") -> str:
    return f"/v1/sessions/{segment(session_id)}{tail}"


def get_call(session_id: str) -> Call[AgentSession]:
    return Call("GET", _path(session_id), one(AgentSession))


def update_state_call(
    session_id: str,
    state: Mapping[str, Any],
    reasoning: str | None,
    metadata: Mapping[str, Any] | None,
) -> Call[AgentSession]:
    if not isinstance(state, Mapping):
        raise UsageError(f"state must be a mapping of keys to set, got {type(state).__name__}")
    body = json_body({"state": dict(state), "reasoning": reasoning, "metadata": metadata})
    return Call("PATCH", _path(session_id, "/state"), one(AgentSession), body=body)


def add_turn_call(session_id: str, fields: Mapping[str, Any]) -> Call[Turn]:
    return Call("POST", _path(session_id, "/turns"), one(Turn), body=json_body(fields))


def turns_call(session_id: str, after: int, limit: int, last: bool) -> Call[list[Turn]]:
    params = {"after": after, "limit": limit, "last": "true" if last else "false"}
    return Call("GET", _path(session_id, "/turns"), items(Turn), params=params)


def history_call(session_id: str, after: int, limit: int) -> Call[list[SessionEvent]]:
    params = {"after": after, "limit": limit}
    return Call("GET", _path(session_id, "/history"), items(SessionEvent), params=params)


def context_call(session_id: str, turn_limit: int) -> Call[SessionContext]:
    params = {"turn_limit": turn_limit}
    return Call("GET", _path(session_id, "/context"), one(SessionContext), params=params)


def list_call(escalated: bool | None, limit: int) -> Call[list[AgentSession]]:
    params: dict[str, Any] = {"limit": limit}
    if escalated is not None:
        params["escalated"] = "true" if escalated else "false"
    return Call("GET", "/v1/sessions", items(AgentSession), params=params)


def empty(session_id: str) -> AgentSession:
    """The session an id stands for before its first write."""
    return AgentSession(id=session_id, exists=False)


def empty_context(session_id: str) -> SessionContext:
    return SessionContext(session_id=session_id, state={}, metadata={}, escalated=False)


class Sessions:
    """``client.sessions`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def get(self, session_id: str) -> AgentSession:
        """The session; an empty one (``exists=False``) if it was never written."""
        try:
            found: AgentSession = self._send(get_call(session_id))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return empty(session_id)
        return found

    def update_state(
        self,
        session_id: str,
        state: Mapping[str, Any],
        reasoning: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> AgentSession:
        """Set these keys (the others stay), recording each change with ``reasoning``."""
        result: AgentSession = self._send(update_state_call(session_id, state, reasoning, metadata))
        return result

    def add_turn(
        self,
        session_id: str,
        input: Any = None,
        output: Any = None,
        reasoning: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Turn:
        """Log one exchange of the session."""
        fields = {"input": input, "output": output, "reasoning": reasoning, "metadata": metadata}
        result: Turn = self._send(add_turn_call(session_id, fields))
        return result

    def turns(
        self, session_id: str, *, after: int = 0, limit: int = 1000, last: bool = False
    ) -> builtins.list[Turn]:
        """The turns, oldest first (``last=True``: the latest ``limit``); [] if none."""
        try:
            result: builtins.list[Turn] = self._send(turns_call(session_id, after, limit, last))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return []
        return result

    def history(
        self, session_id: str, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[SessionEvent]:
        """State changes, turns, escalations and confirmation steps, in order."""
        try:
            result: builtins.list[SessionEvent] = self._send(history_call(session_id, after, limit))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return []
        return result

    def get_context(self, session_id: str, turn_limit: int = 50) -> SessionContext:
        """State, metadata and the latest ``turn_limit`` turns (seed 004's get_context)."""
        try:
            result: SessionContext = self._send(context_call(session_id, turn_limit))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return empty_context(session_id)
        return result

    def list(
        self, *, escalated: bool | None = None, limit: int = 50
    ) -> builtins.list[AgentSession]:
        """Your sessions, most recently changed first."""
        result: builtins.list[AgentSession] = self._send(list_call(escalated, limit))
        return result


class AsyncSessions:
    """``client.sessions`` of an ``AsyncClient``; see ``Sessions``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def get(self, session_id: str) -> AgentSession:
        try:
            found: AgentSession = await self._send(get_call(session_id))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return empty(session_id)
        return found

    async def update_state(
        self,
        session_id: str,
        state: Mapping[str, Any],
        reasoning: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> AgentSession:
        result: AgentSession = await self._send(
            update_state_call(session_id, state, reasoning, metadata)
        )
        return result

    async def add_turn(
        self,
        session_id: str,
        input: Any = None,
        output: Any = None,
        reasoning: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Turn:
        fields = {"input": input, "output": output, "reasoning": reasoning, "metadata": metadata}
        result: Turn = await self._send(add_turn_call(session_id, fields))
        return result

    async def turns(
        self, session_id: str, *, after: int = 0, limit: int = 1000, last: bool = False
    ) -> builtins.list[Turn]:
        try:
            result: builtins.list[Turn] = await self._send(
                turns_call(session_id, after, limit, last)
            )
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return []
        return result

    async def history(
        self, session_id: str, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[SessionEvent]:
        try:
            result: builtins.list[SessionEvent] = await self._send(
                history_call(session_id, after, limit)
            )
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return []
        return result

    async def get_context(self, session_id: str, turn_limit: int = 50) -> SessionContext:
        try:
            result: SessionContext = await self._send(context_call(session_id, turn_limit))
        except NotFoundError as exc:
            if exc.code != NOT_FOUND:
                raise
            return empty_context(session_id)
        return result

    async def list(
        self, *, escalated: bool | None = None, limit: int = 50
    ) -> builtins.list[AgentSession]:
        result: builtins.list[AgentSession] = await self._send(list_call(escalated, limit))
        return result
