"""``@require_approval``: a human approves, edits or denies each call of a tool function.

The approver sees the function's name and its exact arguments, both as the request's
``payload`` (``{"function": ..., "arguments": {...}}``, which the desk can edit) and as a
readable prompt. Approve runs the function with its arguments; modify runs it with the
edited ones, checked against the signature first; anything else raises ApprovalDenied.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast, get_type_hints, overload

from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from inloop.client import AsyncClient, Client
from inloop.client._base import CreateOptions
from inloop.domain.requests import EDIT_WORDS
from inloop.errors import InloopError, UsageError
from inloop.imperative._asking import (
    ausing,
    await_closed,
    idempotency_key,
    using,
    wait_closed,
)
from inloop.models import ANSWERED, Kind, Request, Resolution

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_OPTIONS = ("approve", "reject", "modify")
#: Parameters that are the object a method is bound to, not an argument to approve.
_BOUND = frozenset({"self", "cls"})
_SHOWN = 2_000  # characters of one argument in the prompt; the payload has it whole

KeySpec = str | Callable[..., str] | None


class ApprovalDenied(InloopError):
    """The call was not approved: rejected, auto-rejected, timed out or cancelled.

    ``reason`` is the approver's comment (or how the request closed); ``request`` is the
    closed request, with who decided and when.
    """

    def __init__(self, function: str, request: Request) -> None:
        self.function = function
        self.request = request
        if request.resolution == Resolution.RESPONDED:
            self.reason = request.comment or f"answered {request.response!r}"
        else:  # closed by policy or by someone: say how (auto_rejected, timed_out, ...)
            how = request.resolution.value if request.resolution else request.status.value
            self.reason = request.comment or how
        who = request.resolved_by or "nobody"
        super().__init__(f"{function} was not approved by {who}: {self.reason}")


class EditError(InloopError):
    """The approver's edited arguments do not fit the function; it was not called."""

    def __init__(self, function: str, request: Request, problem: str) -> None:
        self.function = function
        self.request = request
        self.problem = problem
        super().__init__(f"the edited call of {function} ({request.id}) cannot run: {problem}")


@overload
def require_approval(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def require_approval(
    fn: None = None,
    /,
    *,
    key: KeySpec = None,
    client: Client | AsyncClient | None = None,
    **fields: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def require_approval(
    fn: Callable[P, R] | None = None,
    /,
    *,
    key: KeySpec = None,
    client: Client | AsyncClient | None = None,
    **fields: Any,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Ask a human before each call of the decorated function (sync or async).

    ``fields`` are any fields of a request (assignee, timeout, escalation, priority,
    context, display, title, prompt, options, ...). ``key`` makes a call durable: a string
    is combined with the function's name and a digest of its arguments, a callable gets
    the call's arguments and returns the whole key; calling again with the same key
    (after a crash, in another process) finds the same request and its answer. Without a
    key every call asks afresh. Denial raises ApprovalDenied; a bad edit, EditError.
    """
    unknown = set(fields) - set(CreateOptions.__annotations__) - {"prompt"}
    if unknown:
        raise UsageError(f"require_approval got unknown request fields: {sorted(unknown)}")
    if "payload" in fields or "idempotency_key" in fields:
        raise UsageError("require_approval sets payload itself; pass key= for idempotency")
    if str(fields.get("kind", Kind.APPROVAL)) not in (Kind.APPROVAL, Kind.CONFIRMATION):
        # Any answer to a choice or an input would read as a yes.
        raise UsageError("require_approval asks an approval (or a confirmation), not a choice")

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        gate = _Gate(function, key, fields)
        if inspect.iscoroutinefunction(function):
            if client is not None and not isinstance(client, AsyncClient):
                raise UsageError(f"{gate.name} is async: pass an inloop.AsyncClient")

            @functools.wraps(function)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                call = gate.bind(args, kwargs)
                async with ausing(client) as c:
                    request = await c.create(gate.prompt(call), **gate.create_fields(call))
                    request = await await_closed(c, request)
                positional, named = gate.decide(call, request)
                return await cast(Callable[..., Awaitable[Any]], function)(*positional, **named)

            return cast(Callable[P, R], guarded_async)
        if client is not None and not isinstance(client, Client):
            raise UsageError(f"{gate.name} is not async: pass an inloop.Client")

        @functools.wraps(function)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            call = gate.bind(args, kwargs)
            with using(client) as c:
                request = c.create(gate.prompt(call), **gate.create_fields(call))
                request = wait_closed(c, request)
            positional, named = gate.decide(call, request)
            return function(*positional, **named)

        return guarded

    return decorate(fn) if fn is not None else decorate


class _Gate:
    """Everything about one decorated function that does not need I/O."""

    def __init__(self, function: Callable[..., Any], key: KeySpec, fields: dict[str, Any]) -> None:
        self.function = function
        # Class.method stays readable; a function defined inside another loses the prefix.
        qualname = getattr(function, "__qualname__", None) or repr(function)
        self.name = qualname.rsplit("<locals>.", 1)[-1]
        self.signature = inspect.signature(function)
        self.key = key
        self.fields = dict(fields)
        self.fields.setdefault("kind", Kind.APPROVAL)
        if self.fields["kind"] == Kind.APPROVAL:  # a confirmation is a yes or a no
            self.fields.setdefault("options", list(DEFAULT_OPTIONS))
        self.fields.setdefault("title", f"Approve {self.name}?"[:120])
        doc = inspect.getdoc(function)
        if doc and "description" not in self.fields:
            self.fields["description"] = doc.splitlines()[0]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        try:
            call = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        call.apply_defaults()
        return call

    def arguments(self, call: inspect.BoundArguments) -> dict[str, Any]:
        """The call's arguments as JSON (values JSON cannot hold are shown by repr)."""
        shown = {k: v for k, v in call.arguments.items() if k not in _BOUND}
        jsonable: dict[str, Any] = to_jsonable_python(shown, fallback=repr)
        return jsonable

    def prompt(self, call: inspect.BoundArguments) -> str:
        if "prompt" in self.fields:
            return str(self.fields["prompt"])
        lines = [f"The agent wants to call {self.name} with:"]
        for name, value in self.arguments(call).items():
            text = json.dumps(value, ensure_ascii=False, default=str)
            if len(text) > _SHOWN:
                text = text[:_SHOWN] + f"... ({len(text)} characters)"
            lines.append(f"  {name} = {text}")
        if len(lines) == 1:
            lines.append("  (no arguments)")
        if self.fields["kind"] == Kind.CONFIRMATION:
            lines.append("Yes runs it as shown; no does not run it.")
        else:
            lines.append("Approve to run it as shown, modify to change the arguments, or reject.")
        return "\n".join(lines)

    def create_fields(self, call: inspect.BoundArguments) -> dict[str, Any]:
        arguments = self.arguments(call)
        fields = {k: v for k, v in self.fields.items() if k != "prompt"}
        fields["payload"] = {"function": self.name, "arguments": arguments}
        fields["idempotency_key"] = idempotency_key(self._key(call, arguments), CreateOptions())
        return fields

    def _key(self, call: inspect.BoundArguments, arguments: dict[str, Any]) -> str | None:
        if self.key is None:
            return None
        if callable(self.key):
            key = self.key(**{k: v for k, v in call.arguments.items() if k not in _BOUND})
            if not isinstance(key, str):
                raise UsageError(f"the key function of {self.name} must return a string")
            return key
        digest = hashlib.sha256(
            json.dumps(arguments, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:32]
        return f"{self.key}:{self.name}:{digest}"

    def decide(
        self, call: inspect.BoundArguments, request: Request
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments to call with, or ApprovalDenied / EditError."""
        if request.resolution in ANSWERED and not request.is_rejection:
            return call.args, call.kwargs
        edits = isinstance(request.response, str) and request.response.lower() in EDIT_WORDS
        if request.resolution == Resolution.RESPONDED and edits:
            return self._edited(call, request)
        raise ApprovalDenied(self.name, request)

    def _edited(
        self, call: inspect.BoundArguments, request: Request
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if request.edited is None:  # a modify vote of a multi-level approval: no edit
            raise ApprovalDenied(self.name, request)
        edited = request.edited
        if edited.get("function", self.name) != self.name:
            raise EditError(
                self.name, request, f"the edit names another function, {edited['function']!r}"
            )
        new = edited.get("arguments")
        if not isinstance(new, Mapping):
            raise EditError(self.name, request, "the edit has no 'arguments' object")
        original = self.arguments(call)
        params = [p for p in self.signature.parameters if p not in _BOUND]
        unknown = sorted(set(new) - set(params))
        if unknown:
            raise EditError(self.name, request, f"unknown arguments {unknown}")
        # An argument left as shown keeps its original Python value (no JSON round trip);
        # a changed one is checked, and coerced, against its annotation.
        unchanged = {n for n in new if n in call.arguments and new[n] == original.get(n)}
        values = {n: call.arguments[n] if n in unchanged else new[n] for n in params if n in new}
        values.update({n: v for n, v in call.arguments.items() if n in _BOUND})
        positional, named = _split(self.signature, values)
        try:
            bound = self.signature.bind(*positional, **named)
        except TypeError as exc:
            raise EditError(self.name, request, str(exc)) from None
        for name in bound.arguments:
            if name not in _BOUND and name not in unchanged:
                bound.arguments[name] = self._checked(request, name, bound.arguments[name])
        return bound.args, bound.kwargs

    def _checked(self, request: Request, name: str, value: Any) -> Any:
        param = self.signature.parameters[name]
        if param.annotation is inspect.Parameter.empty:
            return value
        annotation = self._hints().get(name, Any)
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            annotation = tuple[annotation, ...]  # type: ignore[valid-type]
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            annotation = dict[str, annotation]  # type: ignore[valid-type]
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(annotation, config=_ANY_TYPES)
        except PydanticUserError:  # a type pydantic cannot check passes as it is
            return value
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise EditError(self.name, request, f"{name}: {_first_error(exc)}") from None

    @functools.cache  # noqa: B019  (one _Gate per decorated function, kept for its life)
    def _hints(self) -> dict[str, Any]:
        try:
            return get_type_hints(inspect.unwrap(self.function))
        except (NameError, TypeError):
            return {}


_ANY_TYPES = ConfigDict(arbitrary_types_allowed=True)


def _split(
    signature: inspect.Signature, values: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments that put ``values`` in their parameters."""
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if name not in values:
            continue
        value = values[name]
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value if isinstance(value, list | tuple) else [value])
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            if not isinstance(value, Mapping):
                named[name] = value  # bind() then names the problem
            else:
                named.update(value)
        else:
            named[name] = value
    return positional, named


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{error['msg']} (at {where})" if where else str(error["msg"])
