"""The closures ``cel``'s compiler builds for the cases that need more than one line.

Reading a path from a variable (``a.b.c`` as one closure), ``&&`` and ``||`` (truthiness,
short-circuit, an error absorbed when the other side decides), ``==``/``!=`` and ordering
specialised for a constant operand, and the macros (``all``, ``exists``, ``exists_one``,
``map``, ``filter``). These are the evaluation hot path: each returns one closure that calls
the value functions of ``cel_values`` directly, with nothing looked up at evaluation time
but its captured variables and this module's globals.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from inloop.workflows.cel_syntax import CelEvalError, Node, is_number
from inloop.workflows.cel_values import equal, order, truthy, type_name

Vars = Mapping[str, Any]
Fn = Callable[[Vars], Any]


def path_fn(root: str, steps: tuple[str, ...]) -> Fn:
    if len(steps) == 1:
        step = steps[0]

        def one(v: Vars) -> Any:
            value = v.get(root)
            return value.get(step) if value.__class__ is dict else None

        return one
    if len(steps) == 2:
        first, second = steps

        def two(v: Vars) -> Any:
            value = v.get(root)
            if value.__class__ is not dict:
                return None
            value = value.get(first)
            return value.get(second) if value.__class__ is dict else None

        return two

    def walk(v: Vars) -> Any:
        value = v.get(root)
        for step in steps:
            if value.__class__ is not dict:
                return None
            value = value.get(step)
        return value

    return walk


def and_fn(left: Fn, right: Fn) -> Fn:
    def conjunction(v: Vars) -> bool:
        try:
            first = left(v)
        except CelEvalError:
            if not truthy(right(v)):
                return False  # false && error is false, whichever side errs
            raise
        if first is not True and not truthy(first):
            return False
        second = right(v)
        return second is True or truthy(second)

    return conjunction


def or_fn(left: Fn, right: Fn) -> Fn:
    def disjunction(v: Vars) -> bool:
        try:
            first = left(v)
        except CelEvalError:
            if truthy(right(v)):
                return True
            raise
        if first is True or (first is not False and truthy(first)):
            return True
        second = right(v)
        return second is True or truthy(second)

    return disjunction


def equality_fn(op: str, left: Fn, right: Fn, left_node: Node, right_node: Node) -> Fn:
    negate = op == "!="
    for constant_node, other in ((right_node, left), (left_node, right)):
        if constant_node.op != "const":
            continue
        constant = constant_node.args[0]
        if constant is None or isinstance(constant, bool):  # the common `x == null`, `== true`
            if negate:
                return lambda v: other(v) is not constant
            return lambda v: other(v) is constant
        if isinstance(constant, str):
            if negate:
                return lambda v: not (isinstance(found := other(v), str) and found == constant)
            return lambda v: isinstance(found := other(v), str) and found == constant
    if negate:
        return lambda v: not equal(left(v), right(v))
    return lambda v: equal(left(v), right(v))


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NUMBER_TYPES = (int, float)


def ordering_fn(op: str, left: Fn, right: Fn, right_node: Node) -> Fn:
    constant: Any = right_node.args[0] if right_node.op == "const" else None
    if is_number(constant):  # the common `confidence >= 0.8`: numbers compared directly
        compare = _COMPARE[op]

        def against_number(v: Vars) -> bool:
            found = left(v)
            if found.__class__ in _NUMBER_TYPES:
                return bool(compare(found, constant))
            return order(op, found, constant)

        return against_number
    return lambda v: order(op, left(v), right(v))


def _items(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        return iter(value)
    if isinstance(value, dict):
        return iter(list(value))
    if value is None:
        return iter(())
    raise CelEvalError(f"a macro needs a list or a map, got {type_name(value)}")


def macro_fn(name: str, var: str, target: Fn, parts: list[Fn]) -> Fn:
    def scoped(v: Vars, item: Any) -> dict[str, Any]:
        inner = dict(v)
        inner[var] = item
        return inner

    predicate = parts[0]

    def run(v: Vars) -> Any:
        items = _items(target(v))
        if name == "map":
            transform = parts[-1]
            keep = parts[0] if len(parts) == 2 else None
            return [
                transform(scoped(v, i)) for i in items if keep is None or truthy(keep(scoped(v, i)))
            ]
        if name == "filter":
            return [i for i in items if truthy(predicate(scoped(v, i)))]
        failure: CelEvalError | None = None
        count = 0
        for item in items:
            try:
                result = truthy(predicate(scoped(v, item)))
            except CelEvalError as exc:
                failure = exc
                continue
            if name == "all" and not result:
                return False
            if name == "exists" and result:
                return True
            count += result
        if failure is not None:
            raise failure
        if name == "all":
            return True
        if name == "exists":
            return False
        return count == 1

    return run
