"""CEL expressions for ``when`` conditions and templates, compiled once to closures.

A tokenizer, a Pratt parser and a compiler that turns the tree into nested Python closures:
evaluating is calling one function on a dict of variables, with no tree walk, no ``eval``
and no Python objects reachable but the values given. The language is CEL's
(https://cel.dev) with the conveniences DESIGN.md asks for, so that seed 001's conditions
work as written:

- reading what is not there gives ``null``: a missing variable or key, a field of
  ``null`` (or of a non-map), an index past the end of a list;
- ``&&``, ``||``, ``!`` and ``?:`` accept any value and judge it by truthiness (``null``,
  ``false``, ``0``, ``""``, ``[]`` and ``{}`` are false); ``&&`` and ``||`` still give a
  bool, short-circuit, and absorb an error on one side when the other decides, as CEL does;
- ``<``, ``<=``, ``>``, ``>=`` with ``null`` on either side are false (CEL: an error).

Everything else follows CEL: ``==`` between different types is false except across int
and double; ints are 64-bit (overflow is an error), ``/`` on ints truncates, ``%`` takes
the dividend's sign; int and double do not mix in arithmetic; ``+`` joins strings and
lists. Supported: literals (int, hex, double, string with escapes, raw and triple-quoted,
bool, null, lists, maps), ``.`` and ``[]``, ``in``, ``size``, ``has``, ``int``,
``double``, ``string``, ``bool``, ``dyn``, ``matches`` (RE2), ``contains``,
``startsWith``, ``endsWith``, ``lowerAscii``, ``upperAscii``, ``trim``, and the macros
``all``, ``exists``, ``exists_one``, ``map`` and ``filter``. Not supported: unsigned
ints, bytes, timestamps and durations, protobuf messages, ``type()``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inloop.workflows.cel_syntax import (
    CelError,
    CelEvalError,
    CelSyntaxError,
    Node,
    Parser,
    is_number,
)

__all__ = ["CelError", "CelEvalError", "CelSyntaxError", "Expression", "compile_expression"]

Vars = Mapping[str, Any]
Fn = Callable[[Vars], Any]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_LENGTH = 4000


# -- values ---------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """How ``&&``, ``||``, ``!`` and ``?:`` read a value: null, false, 0, "", [] and {} are
    false; everything else is true."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: numbers compare by value across int and double;
    other values of different types are never equal."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return False


def _order(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    numbers = is_number(a) and is_number(b)
    if not numbers and not (
        (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, bool) and isinstance(b, bool))
    ):
        raise CelEvalError(f"no such overload: {type_name(a)} {op} {type_name(b)}")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _checked(value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise CelEvalError("integer overflow: CEL ints are 64-bit")
    return value


def _arith(op: str, a: Any, b: Any) -> Any:
    both_int = isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool | float)
    both_int = both_int and not isinstance(b, bool)
    if both_int:
        if op == "+":
            return _checked(a + b)
        if op == "-":
            return _checked(a - b)
        if op == "*":
            return _checked(a * b)
        if b == 0:
            raise CelEvalError("division by zero" if op == "/" else "modulus by zero")
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        if op == "/":
            return _checked(quotient)
        return a - b * quotient
    if isinstance(a, float) and isinstance(b, float):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return math.copysign(math.inf, a) * math.copysign(1, b) if a else math.nan
            return a / b
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "+" and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return [*a, *b]
    hint = ""
    if {type_name(a), type_name(b)} == {"int", "double"}:
        hint = ": CEL does not mix int and double in arithmetic; convert one with double()"
    raise CelEvalError(f"no such overload: {type_name(a)} {op} {type_name(b)}{hint}")


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, dict):
        return any(equal(key, item) for key in container)
    if isinstance(container, list | tuple):
        return any(equal(element, item) for element in container)
    if container is None:
        return False
    raise CelEvalError(f"no such overload: {type_name(item)} in {type_name(container)}")


def _field(value: Any, name: Any) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return None


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list | tuple):
        if not isinstance(key, int) or isinstance(key, bool):
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            else:
                raise CelEvalError(f"a list is indexed by an int, not {type_name(key)}")
        return value[key] if 0 <= key < len(value) else None
    if isinstance(value, dict):
        if key in value:
            return value[key]
        if is_number(key):  # 1 and 1.0 name the same key
            return next((v for k, v in value.items() if equal(k, key)), None)
        return None
    if isinstance(value, str) or value is None:
        return None
    raise CelEvalError(f"no such overload: {type_name(value)}[{type_name(key)}]")


def _size(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise CelEvalError(f"no such overload: size({type_name(value)})")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise CelEvalError("no such overload: int(bool)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not INT_MIN <= value < 2**63:
            raise CelEvalError("int() of a double out of range")
        return int(value)
    if isinstance(value, str):
        try:
            return _checked(int(value, 10))
        except ValueError:
            raise CelEvalError(f"int() cannot read {value!r}") from None
    raise CelEvalError(f"no such overload: int({type_name(value)})")


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise CelEvalError("no such overload: double(bool)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise CelEvalError(f"double() cannot read {value!r}") from None
    raise CelEvalError(f"no such overload: double({type_name(value)})")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() or abs(value) >= 1e16 else f"{value:.1f}"
    raise CelEvalError(f"no such overload: string({type_name(value)})")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in ("true", "True", "TRUE", "t", "1"):
            return True
        if value in ("false", "False", "FALSE", "f", "0"):
            return False
        raise CelEvalError(f"bool() cannot read {value!r}")
    raise CelEvalError(f"no such overload: bool({type_name(value)})")


def _regex(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _matches(text: Any, pattern: Any) -> bool:
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise CelEvalError(f"no such overload: {type_name(text)}.matches({type_name(pattern)})")
    try:
        return _regex(pattern).search(text) is not None
    except Exception as exc:  # re2.error: the pattern is RE2's to judge
        raise CelEvalError(f"matches(): {pattern!r} is not an RE2 pattern: {exc}") from None


def _string_method(name: str) -> Callable[..., Any]:
    def method(target: Any, *args: Any) -> Any:
        if not isinstance(target, str) or not all(isinstance(a, str) for a in args):
            kinds = ", ".join(type_name(a) for a in args)
            raise CelEvalError(f"no such overload: {type_name(target)}.{name}({kinds})")
        if name == "contains":
            return args[0] in target
        if name == "startsWith":
            return target.startswith(args[0])
        if name == "endsWith":
            return target.endswith(args[0])
        if name == "lowerAscii":
            return "".join(c.lower() if c.isascii() else c for c in target)
        if name == "upperAscii":
            return "".join(c.upper() if c.isascii() else c for c in target)
        return target.strip()

    return method


_STRING_METHODS = {"contains": 1, "startsWith": 1, "endsWith": 1,
                   "lowerAscii": 0, "upperAscii": 0, "trim": 0}  # fmt: skip
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "size": (1, _size), "int": (1, _to_int), "double": (1, _to_double),
    "string": (1, _to_string), "bool": (1, _to_bool), "dyn": (1, lambda v: v),
    "matches": (2, _matches),
}  # fmt: skip
_MACROS = ("all", "exists", "exists_one", "map", "filter")


# -- compiling ------------------------------------------------------------------------


@dataclass
class Expression:
    """A compiled expression: ``evaluate(vars)`` gives its value, ``holds(vars)`` its
    truthiness; ``roots`` are the variables it reads."""

    text: str
    evaluate: Fn
    roots: frozenset[str] = field(default_factory=frozenset)

    def holds(self, variables: Vars) -> bool:
        return truthy(self.evaluate(variables))


def compile_expression(text: str) -> Expression:
    """Parse and compile ``text``; raises CelSyntaxError (with the column) if it does not
    parse, or uses a function or macro that does not exist."""
    if len(text) > MAX_LENGTH:
        raise CelSyntaxError(f"longer than {MAX_LENGTH} characters", text[:40] + "…", 0)
    if not text.strip():
        raise CelSyntaxError("the expression is empty", text, 0)
    tree = Parser(text).parse()
    roots: set[str] = set()
    fn = _Compiler(text, roots).compile(tree, frozenset())
    return Expression(text, fn, frozenset(roots))


class _Compiler:
    def __init__(self, text: str, roots: set[str]) -> None:
        self.text = text
        self.roots = roots

    def fail(self, message: str, node: Node) -> CelSyntaxError:
        return CelSyntaxError(message, self.text, node.offset)

    def compile(self, node: Node, bound: frozenset[str]) -> Fn:
        method = getattr(self, "_" + node.op)
        fn: Fn = method(node, bound)
        return fn

    def _const(self, node: Node, bound: frozenset[str]) -> Fn:
        value = node.args[0]
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not (INT_MIN <= value <= INT_MAX)
        ):
            raise self.fail("this int does not fit in 64 bits", node)
        return lambda _v: value

    def _ident(self, node: Node, bound: frozenset[str]) -> Fn:
        name = node.args[0]
        if name not in bound:
            self.roots.add(name)
        return lambda v: v.get(name)

    def _select(self, node: Node, bound: frozenset[str]) -> Fn:
        target_node, name = node.args
        path = [name]
        while target_node.op == "select":  # a.b.c: one closure walking the path
            path.insert(0, target_node.args[1])
            target_node = target_node.args[0]
        if target_node.op == "ident":  # a.b.c from a variable: one closure, no calls inside
            root = target_node.args[0]
            if root not in bound:
                self.roots.add(root)
            return _path(root, tuple(path))
        target = self.compile(target_node, bound)
        if len(path) == 1:

            def select(v: Vars) -> Any:
                value = target(v)
                return value.get(name) if value.__class__ is dict else _field(value, name)

            return select
        steps = tuple(path)

        def walk(v: Vars) -> Any:
            value = target(v)
            for step in steps:
                value = value.get(step) if value.__class__ is dict else None
                if value is None:
                    return None
            return value

        return walk

    def _index(self, node: Node, bound: frozenset[str]) -> Fn:
        target = self.compile(node.args[0], bound)
        key = self.compile(node.args[1], bound)
        return lambda v: _index(target(v), key(v))

    def _list(self, node: Node, bound: frozenset[str]) -> Fn:
        items = [self.compile(item, bound) for item in node.args]
        return lambda v: [item(v) for item in items]

    def _map(self, node: Node, bound: frozenset[str]) -> Fn:
        entries = [(self.compile(k, bound), self.compile(e, bound)) for k, e in node.args]

        def build(v: Vars) -> dict[Any, Any]:
            result: dict[Any, Any] = {}
            for key_fn, value_fn in entries:
                key = key_fn(v)
                if not isinstance(key, str | int) or key in result:
                    what = "repeats a key" if key in result else f"has a {type_name(key)} key"
                    raise CelEvalError(f"a map literal {what}")
                result[key] = value_fn(v)
            return result

        return build

    def _unary(self, node: Node, bound: frozenset[str]) -> Fn:
        op, operand_node = node.args
        operand = self.compile(operand_node, bound)
        if op == "!":
            return lambda v: not truthy(operand(v))

        def negate(v: Vars) -> Any:
            value = operand(v)
            if isinstance(value, int) and not isinstance(value, bool):
                return _checked(-value)
            if isinstance(value, float):
                return -value
            raise CelEvalError(f"no such overload: -{type_name(value)}")

        return negate

    def _cond(self, node: Node, bound: frozenset[str]) -> Fn:
        test, yes, no = (self.compile(part, bound) for part in node.args)
        return lambda v: yes(v) if truthy(test(v)) else no(v)

    def _binary(self, node: Node, bound: frozenset[str]) -> Fn:
        op, left_node, right_node = node.args
        left = self.compile(left_node, bound)
        right = self.compile(right_node, bound)
        if op == "&&":
            return _and(left, right)
        if op == "||":
            return _or(left, right)
        if op in ("==", "!="):
            return _equality(op, left, right, left_node, right_node)
        if op in ("<", "<=", ">", ">="):
            return _ordering(op, left, right, right_node)
        if op == "in":
            return lambda v: _contains(right(v), left(v))
        return lambda v: _arith(op, left(v), right(v))

    def _call(self, node: Node, bound: frozenset[str]) -> Fn:
        name, arg_nodes = node.args
        if name == "has":
            return self._has(node, arg_nodes, bound)
        if name not in _FUNCTIONS:
            known = ", ".join(sorted([*_FUNCTIONS, "has"]))
            raise self.fail(f"unknown function {name}(): CEL here has {known}", node)
        arity, fn = _FUNCTIONS[name]
        if len(arg_nodes) != arity:
            raise self.fail(f"{name}() takes {arity} argument(s), got {len(arg_nodes)}", node)
        if name == "matches" and arg_nodes[1].op == "const":
            return self._matches(node, arg_nodes[0], arg_nodes[1], bound)
        args = [self.compile(a, bound) for a in arg_nodes]
        if arity == 1:
            only = args[0]
            return lambda v: fn(only(v))
        return lambda v: fn(*(a(v) for a in args))

    def _has(self, node: Node, arg_nodes: tuple[Node, ...], bound: frozenset[str]) -> Fn:
        if len(arg_nodes) != 1 or arg_nodes[0].op != "select":
            raise self.fail("has() takes a field selection, such as has(customer.email)", node)
        target = self.compile(arg_nodes[0].args[0], bound)
        name = arg_nodes[0].args[1]
        return lambda v: _has(target(v), name)

    def _matches(
        self, node: Node, text_node: Node, pattern_node: Node, bound: frozenset[str]
    ) -> Fn:
        pattern = pattern_node.args[0]
        if not isinstance(pattern, str):
            raise self.fail("matches() takes a string pattern", pattern_node)
        try:
            compiled = _regex(pattern)
        except ImportError:
            compiled = None
        except Exception as exc:  # re2.error
            raise self.fail(f"{pattern!r} is not an RE2 pattern: {exc}", pattern_node) from None
        text = self.compile(text_node, bound)
        if compiled is None:
            return lambda v: _matches(text(v), pattern)

        def match(v: Vars) -> bool:
            value = text(v)
            if not isinstance(value, str):
                raise CelEvalError(f"no such overload: {type_name(value)}.matches(string)")
            return compiled.search(value) is not None

        return match

    def _member(self, node: Node, bound: frozenset[str]) -> Fn:
        target_node, name, arg_nodes = node.args
        if name in _MACROS:
            return self._macro(node, target_node, name, arg_nodes, bound)
        target = self.compile(target_node, bound)
        args = [self.compile(a, bound) for a in arg_nodes]
        if name in _STRING_METHODS:
            if len(args) != _STRING_METHODS[name]:
                raise self.fail(
                    f".{name}() takes {_STRING_METHODS[name]} argument(s), got {len(args)}", node
                )
            method = _string_method(name)
            return lambda v: method(target(v), *(a(v) for a in args))
        if name in ("size", "matches"):
            arity, fn = _FUNCTIONS[name]
            if len(args) != arity - 1:
                raise self.fail(f".{name}() takes {arity - 1} argument(s), got {len(args)}", node)
            if name == "matches" and arg_nodes[0].op == "const":
                return self._matches(node, target_node, arg_nodes[0], bound)
            return lambda v: fn(target(v), *(a(v) for a in args))
        methods = ", ".join(sorted([*_STRING_METHODS, "size", "matches", *_MACROS]))
        raise self.fail(f"unknown method .{name}(): CEL here has {methods}", node)

    def _macro(
        self,
        node: Node,
        target_node: Node,
        name: str,
        arg_nodes: tuple[Node, ...],
        bound: frozenset[str],
    ) -> Fn:
        arity = (2, 3) if name == "map" else (2,)
        if len(arg_nodes) not in arity or arg_nodes[0].op != "ident":
            shape = "x, predicate" if name != "map" else "x, expression (or x, filter, expression)"
            raise self.fail(f".{name}() takes {shape}, with x a variable name", node)
        var = arg_nodes[0].args[0]
        target = self.compile(target_node, bound)
        inner = bound | {var}
        parts = [self.compile(a, inner) for a in arg_nodes[1:]]
        return _macro_fn(name, var, target, parts)


def _path(root: str, steps: tuple[str, ...]) -> Fn:
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


def _has(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return name in value
    if value is None:
        return False
    raise CelEvalError(f"has() needs a map, got {type_name(value)}")


def _and(left: Fn, right: Fn) -> Fn:
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


def _or(left: Fn, right: Fn) -> Fn:
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


def _equality(op: str, left: Fn, right: Fn, left_node: Node, right_node: Node) -> Fn:
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


def _ordering(op: str, left: Fn, right: Fn, right_node: Node) -> Fn:
    constant: Any = right_node.args[0] if right_node.op == "const" else None
    if is_number(constant):  # the common `confidence >= 0.8`: numbers compared directly
        compare = _COMPARE[op]

        def against_number(v: Vars) -> bool:
            found = left(v)
            if found.__class__ in _NUMBER_TYPES:
                return bool(compare(found, constant))
            return _order(op, found, constant)

        return against_number
    return lambda v: _order(op, left(v), right(v))


def _items(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        return iter(value)
    if isinstance(value, dict):
        return iter(list(value))
    if value is None:
        return iter(())
    raise CelEvalError(f"a macro needs a list or a map, got {type_name(value)}")


def _macro_fn(name: str, var: str, target: Fn, parts: list[Fn]) -> Fn:
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
