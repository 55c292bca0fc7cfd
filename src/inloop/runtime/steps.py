"""``@step`` and the checks an agent class passes when it is defined.

A step is chosen by the annotated type of its event parameter (a union: several types),
and declares what it emits in its return annotation (a union; ``None`` for nothing).
From these the agent's dispatch table is built, and checked:

- two steps consuming the same event type: which one would run is ambiguous;
- an emitted event (or a HITL request's response event) that no step consumes: the run
  would stop there, silently;
- no step consuming a StartEvent (or a subclass): no run could start.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_args, get_origin, overload

from inloop.errors import UsageError
from inloop.runtime.events import Event, StartEvent, StopEvent
from inloop.runtime.hitl import HumanInTheLoopRequestEvent

F = TypeVar("F", bound=Callable[..., Any])
STEP_MARK = "__inloop_step__"
LOCALS = "__inloop_locals__"


class AgentDefinitionError(UsageError):
    """An agent class whose steps do not fit together; the message says how to fix it."""


@dataclass(frozen=True)
class StepOptions:
    name: str | None = None


@dataclass
class StepSpec:
    """One step of an agent: what it consumes, what it may emit, whether it takes ctx."""

    name: str
    fn: Callable[..., Any]
    consumes: tuple[type[Event], ...]
    emits: tuple[type[Event], ...]
    event_param: str
    ctx_param: str | None


@dataclass
class Dispatch:
    """An agent's table: event wire name -> (event type, step)."""

    steps: dict[str, StepSpec] = field(default_factory=dict)
    by_name: dict[str, tuple[type[Event], StepSpec]] = field(default_factory=dict)
    start_types: tuple[type[Event], ...] = ()


@overload
def step(fn: F, *, name: str | None = None) -> F: ...
@overload
def step(fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
def step(fn: F | None = None, *, name: str | None = None) -> Any:
    """Mark an agent method as a step: ``@step()`` or ``@step``."""

    def mark(method: F) -> F:
        if not inspect.iscoroutinefunction(method) and not callable(method):
            raise UsageError("@step() goes on a method")
        setattr(method, STEP_MARK, StepOptions(name=name))
        return method

    return mark(fn) if fn is not None else mark


def _flatten(annotation: Any) -> list[Any]:
    """The types of a union, or of a list of them (a step emitting several events)."""
    if get_origin(annotation) in (Union, types.UnionType, list):
        return [t for arg in get_args(annotation) for t in _flatten(arg)]
    return [annotation]


def _hints(agent: type[Any], fn: Callable[..., Any]) -> dict[str, Any]:
    namespace = dict(getattr(fn, "__globals__", {}))  # the module the step is written in
    namespace.update(getattr(agent, LOCALS, {}))  # an agent defined inside a function
    namespace.update({agent.__name__: agent})
    return typing.get_type_hints(fn, globalns=namespace)


def remember_locals(agent: type[Any], depth: int) -> None:
    """Keep the names of the function an agent class is defined in (``depth`` frames up),
    so that its steps' annotations can name classes defined there too: with ``from
    __future__ import annotations``, annotations are strings resolved later."""
    frame = sys._getframe(depth + 1)
    if frame.f_locals is not frame.f_globals:
        setattr(agent, LOCALS, dict(frame.f_locals))


def collect(agent: type[Any], context_type: type[Any]) -> Dispatch:
    """Build and check the dispatch table of an agent class."""
    specs: list[StepSpec] = []
    seen: set[str] = set()
    for klass in agent.__mro__:
        for attr, fn in vars(klass).items():
            options = getattr(fn, STEP_MARK, None)
            if options is None or attr in seen:
                continue
            seen.add(attr)
            specs.append(_spec(agent, attr, fn, options, context_type))
    if not specs:
        raise AgentDefinitionError(f"{agent.__name__} has no steps: mark its methods with @step()")
    table = Dispatch()
    owners: dict[type[Event], StepSpec] = {}
    for spec in specs:
        table.steps[spec.name] = spec
        for consumed in spec.consumes:
            other = owners.get(consumed)
            if other is not None:
                raise AgentDefinitionError(
                    f"{agent.__name__}: steps {other.name} and {spec.name} both consume "
                    f"{consumed.__name__}. A step is chosen by the type of its event, so each "
                    "event type has one consuming step. Give each interaction its own event "
                    f"type, e.g. `class {_suggest(consumed)}(...): ...` (a HITL subclass "
                    "such as `class SecondQuestion(HumanInTheLoopInput): pass` gets its own "
                    "request/response pair)."
                )
            owners[consumed] = spec
    for spec in specs:
        for emitted in spec.emits:
            if emitted is StopEvent or issubclass(emitted, StopEvent):
                continue
            needed = emitted
            how = f"emits {emitted.__name__}"
            if issubclass(emitted, HumanInTheLoopRequestEvent):
                needed = emitted.response_type
                how = f"asks {emitted.__name__}, answered with {needed.__name__}"
            if needed not in owners:
                raise AgentDefinitionError(
                    f"{agent.__name__}: step {spec.name} {how}, but no step consumes "
                    f"{needed.__name__}. Add a step whose event parameter is annotated "
                    f"`{needed.__name__}` (or remove it from {spec.name}'s return annotation)."
                )
    starts = tuple(t for t in owners if issubclass(t, StartEvent))
    if not starts:
        raise AgentDefinitionError(
            f"{agent.__name__}: no step consumes a StartEvent, so no run can start. Add a "
            "step whose event parameter is annotated `StartEvent` (or a subclass such as "
            "UserMessageEvent)."
        )
    table.start_types = starts
    for consumed, spec in owners.items():
        wire = consumed.wire_name()
        known = table.by_name.get(wire)
        if known is not None and known[0] is not consumed:
            raise AgentDefinitionError(
                f"{agent.__name__}: two event types are named {wire} ({_where(known[0])} and "
                f"{_where(consumed)}); events travel by name, so rename one or set its "
                "event_name"
            )
        table.by_name[wire] = (consumed, spec)
    return table


def _suggest(consumed: type[Event]) -> str:
    return "Second" + consumed.__name__.removeprefix("HumanInTheLoop")


def _where(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _spec(
    agent: type[Any], attr: str, fn: Any, options: StepOptions, context_type: type[Any]
) -> StepSpec:
    where = f"{agent.__name__}.{attr}"
    try:
        hints = _hints(agent, fn)
    except NameError as exc:
        raise _Unresolved(f"{where}: its annotations name {exc.name!r}, not defined yet") from None
    params = list(inspect.signature(fn).parameters.values())[1:]  # after self
    ctx_param = next((p.name for p in params if hints.get(p.name) is context_type), None)
    events = [p for p in params if p.name != ctx_param]
    if len(events) != 1:
        raise AgentDefinitionError(
            f"{where}: a step takes one event parameter (and optionally `ctx: Context`), "
            f"got {', '.join(p.name for p in events) or 'none'}"
        )
    event_param = events[0].name
    if event_param not in hints:
        raise AgentDefinitionError(
            f"{where}: annotate its event parameter {event_param!r} with the event type(s) "
            "it consumes: the step is chosen by that type"
        )
    consumes = []
    for consumed in _flatten(hints[event_param]):
        if not (isinstance(consumed, type) and issubclass(consumed, Event)):
            raise AgentDefinitionError(
                f"{where}: its event parameter is annotated {consumed!r}, which is not an "
                "Event subclass"
            )
        if issubclass(consumed, HumanInTheLoopRequestEvent):
            raise AgentDefinitionError(
                f"{where}: consumes {consumed.__name__}, a HITL request; a step consumes the "
                f"answer instead: {consumed.response_type.__name__} (X.response)"
            )
        if issubclass(consumed, StopEvent):
            raise AgentDefinitionError(f"{where}: a StopEvent ends the run; no step consumes it")
        consumes.append(consumed)
    if "return" not in hints:
        raise AgentDefinitionError(
            f"{where}: annotate what the step returns (an event type, a union of them, or None)"
        )
    emits = []
    for emitted in _flatten(hints["return"]):
        if emitted is None or emitted is type(None):
            continue
        if not (isinstance(emitted, type) and issubclass(emitted, Event)):
            raise AgentDefinitionError(
                f"{where}: its return annotation names {emitted!r}, which is not an Event subclass"
            )
        emits.append(emitted)
    return StepSpec(
        name=options.name or attr,
        fn=fn,
        consumes=tuple(consumes),
        emits=tuple(emits),
        event_param=event_param,
        ctx_param=ctx_param,
    )


class _Unresolved(Exception):
    """Annotations naming classes defined later: the check waits for the first use."""
