"""``@inloop.guarded``: a tool function whose every call is decided by a policy.

The call becomes an Action (the function's name and its arguments as JSON); auto runs
it, approve blocks until an approver decides and then runs the approved (maybe edited)
arguments, decoded from the JSON they saw. Confirm and mfa need the end user's next
turn: the call raises NeedsConfirmationError, and ``inloop.resume(session_id, reply)``
runs the tool then. Escalate raises EscalatedError; a refusal, ActionRefusedError.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast, get_type_hints, overload

from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from inloop.client import AsyncClient, Client
from inloop.errors import UsageError
from inloop.policies import _flow as flow
from inloop.policies.actions import Action
from inloop.policies.guard import aguard, guard
from inloop.policies.outcomes import (
    ActionRefusedError,
    Escalated,
    EscalatedError,
    InvalidEditError,
    NeedsConfirmationError,
    Outcome,
    Pending,
    Refused,
)

P = ParamSpec("P")
R = TypeVar("R")
_BOUND = frozenset({"self", "cls"})
_ANY_TYPES = ConfigDict(arbitrary_types_allowed=True)

SessionSpec = str | Callable[..., str | None] | None
Describe = Callable[..., Mapping[str, Any]] | None


@overload
def guarded(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def guarded(
    fn: None = None,
    /,
    *,
    policy: flow.PolicySpec = None,
    client: Client | AsyncClient | None = None,
    session_id: SessionSpec = None,
    tool: str | None = None,
    describe: Describe = None,
    **request: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def guarded(
    fn: Callable[P, R] | None = None,
    /,
    *,
    policy: flow.PolicySpec = None,
    client: Client | AsyncClient | None = None,
    session_id: SessionSpec = None,
    tool: str | None = None,
    describe: Describe = None,
    **request: Any,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decide every call of the decorated function (sync or async) by ``policy``.

    ``tool`` names the action (default: the function's name); ``describe(**arguments)``
    adds what the policy should know (``text``, ``amount``, ``confidence``, ``fields``,
    ``metadata``); ``session_id`` (a string, or a function of the arguments) is the
    conversation that confirm, mfa and escalate need; ``request`` holds fields of the
    approval request (assignee, timeout, ...).
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        tool_ = _Tool(function, tool, describe, session_id)
        flow.TOOLS[tool_.name] = tool_.run
        if inspect.iscoroutinefunction(function):
            if client is not None and not isinstance(client, AsyncClient):
                raise UsageError(f"{tool_.name} is async: pass an inloop.AsyncClient")

            @functools.wraps(function)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                action, session = tool_.action(args, kwargs)
                outcome = await aguard(
                    action,
                    run=tool_.run,
                    policy=policy,
                    client=client,
                    session_id=session,
                    wait=True,
                    **request,
                )
                return _result(outcome)

            return cast(Callable[P, R], guarded_async)
        if client is not None and not isinstance(client, Client):
            raise UsageError(f"{tool_.name} is not async: pass an inloop.Client")

        @functools.wraps(function)
        def guarded_sync(*args: P.args, **kwargs: P.kwargs) -> R:
            action, session = tool_.action(args, kwargs)
            outcome = guard(
                action,
                run=tool_.run,
                policy=policy,
                client=client,
                session_id=session,
                wait=True,
                **request,
            )
            return cast(R, _result(outcome))

        return guarded_sync

    return decorate(fn) if fn is not None else decorate


def _result(outcome: Outcome) -> Any:
    if isinstance(outcome, Pending):
        raise NeedsConfirmationError(outcome)
    if isinstance(outcome, Escalated):
        raise EscalatedError(outcome)
    if isinstance(outcome, Refused):
        raise ActionRefusedError(outcome)
    return outcome.result


class _Tool:
    """One decorated function: its call as an Action, and an Action back as its call."""

    def __init__(
        self,
        function: Callable[..., Any],
        name: str | None,
        describe: Describe,
        session_id: SessionSpec,
    ) -> None:
        self.function = function
        qualname = getattr(function, "__qualname__", None) or repr(function)
        self.name = name or qualname.rsplit("<locals>.", 1)[-1]
        self.signature = inspect.signature(function)
        if any(
            p.kind is inspect.Parameter.POSITIONAL_ONLY for p in self.signature.parameters.values()
        ):
            raise UsageError(
                f"{self.name}: @guarded calls tools by keyword; no positional-only parameters"
            )
        if any(name in _BOUND for name in self.signature.parameters):
            raise UsageError(
                f"{self.name}: @guarded decorates functions, not methods (a later turn runs "
                "the tool from its approved arguments alone)"
            )
        self.describe = describe
        self.session_id = session_id

    def action(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Action, str | None]:
        try:
            call = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        call.apply_defaults()
        values = {k: v for k, v in call.arguments.items() if k not in _BOUND}
        try:
            arguments: dict[str, Any] = to_jsonable_python(values)
        except PydanticSerializationError as exc:
            raise UsageError(
                f"{self.name}: the arguments must be JSON to be approved: {exc}"
            ) from None
        extra = dict(self.describe(**values)) if self.describe else {}
        session = self.session_id(**values) if callable(self.session_id) else self.session_id
        return flow.as_action({"tool": self.name, "arguments": arguments, **extra}), session

    def run(self, action: Action) -> Any:
        """Call the function with the action's arguments, as JSON decoded and checked
        against the annotations: nothing of the original call is reused."""
        params = [p for p in self.signature.parameters if p not in _BOUND]
        unknown = sorted(set(action.arguments) - set(params))
        if unknown:
            raise InvalidEditError(self.name, f"unknown arguments {unknown}")
        try:
            bound = self.signature.bind(**action.arguments)
        except TypeError as exc:
            raise InvalidEditError(self.name, str(exc)) from None
        hints = self._hints()
        for name, value in bound.arguments.items():
            if name in hints:
                bound.arguments[name] = self._checked(name, hints[name], value)
        result = self.function(*bound.args, **bound.kwargs)
        return result

    def _checked(self, name: str, annotation: Any, value: Any) -> Any:
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(annotation, config=_ANY_TYPES)
        except PydanticUserError:
            return value
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise InvalidEditError(self.name, f"{name}: {exc.errors()[0]['msg']}") from None

    @functools.cache  # noqa: B019  (one _Tool per decorated function, kept for its life)
    def _hints(self) -> dict[str, Any]:
        try:
            hints = get_type_hints(inspect.unwrap(self.function))
        except (NameError, TypeError):
            return {}
        hints.pop("return", None)
        return hints
