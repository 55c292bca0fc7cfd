"""CEL expressions for ``when`` conditions and templates, compiled once to closures.

A tokenizer and a Pratt parser (``cel_syntax``), and the compiler here, which turns the tree
into nested Python closures (the longer ones built by ``cel_closures``, calling the value
semantics of ``cel_values``): evaluating is calling one function on a dict of variables,
with no tree walk, no ``eval`` and no Python objects reachable but the values given. This
module is the entry point the rest of Inloop imports. The language is CEL's
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

from dataclasses import dataclass, field
from typing import Any

from inloop.workflows.cel_closures import (
    Fn,
    Vars,
    and_fn,
    equality_fn,
    macro_fn,
    or_fn,
    ordering_fn,
    path_fn,
)
from inloop.workflows.cel_syntax import CelError, CelEvalError, CelSyntaxError, Node, Parser
from inloop.workflows.cel_values import (
    FUNCTIONS,
    INT_MAX,
    INT_MIN,
    MACROS,
    STRING_METHODS,
    arith,
    checked,
    contains,
    has_field,
    matches,
    read_field,
    read_index,
    regex,
    string_method,
    truthy,
    type_name,
)

__all__ = ["CelError", "CelEvalError", "CelSyntaxError", "Expression", "compile_expression"]

MAX_LENGTH = 4000


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
            return path_fn(root, tuple(path))
        target = self.compile(target_node, bound)
        if len(path) == 1:

            def select(v: Vars) -> Any:
                value = target(v)
                return value.get(name) if value.__class__ is dict else read_field(value, name)

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
        return lambda v: read_index(target(v), key(v))

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
                return checked(-value)
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
            return and_fn(left, right)
        if op == "||":
            return or_fn(left, right)
        if op in ("==", "!="):
            return equality_fn(op, left, right, left_node, right_node)
        if op in ("<", "<=", ">", ">="):
            return ordering_fn(op, left, right, right_node)
        if op == "in":
            return lambda v: contains(right(v), left(v))
        return lambda v: arith(op, left(v), right(v))

    def _call(self, node: Node, bound: frozenset[str]) -> Fn:
        name, arg_nodes = node.args
        if name == "has":
            return self._has(node, arg_nodes, bound)
        if name not in FUNCTIONS:
            known = ", ".join(sorted([*FUNCTIONS, "has"]))
            raise self.fail(f"unknown function {name}(): CEL here has {known}", node)
        arity, fn = FUNCTIONS[name]
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
        return lambda v: has_field(target(v), name)

    def _matches(
        self, node: Node, text_node: Node, pattern_node: Node, bound: frozenset[str]
    ) -> Fn:
        pattern = pattern_node.args[0]
        if not isinstance(pattern, str):
            raise self.fail("matches() takes a string pattern", pattern_node)
        try:
            compiled = regex(pattern)
        except ImportError:
            compiled = None
        except Exception as exc:  # re2.error
            raise self.fail(f"{pattern!r} is not an RE2 pattern: {exc}", pattern_node) from None
        text = self.compile(text_node, bound)
        if compiled is None:
            return lambda v: matches(text(v), pattern)

        def match(v: Vars) -> bool:
            value = text(v)
            if not isinstance(value, str):
                raise CelEvalError(f"no such overload: {type_name(value)}.matches(string)")
            return compiled.search(value) is not None

        return match

    def _member(self, node: Node, bound: frozenset[str]) -> Fn:
        target_node, name, arg_nodes = node.args
        if name in MACROS:
            return self._macro(node, target_node, name, arg_nodes, bound)
        target = self.compile(target_node, bound)
        args = [self.compile(a, bound) for a in arg_nodes]
        if name in STRING_METHODS:
            if len(args) != STRING_METHODS[name]:
                raise self.fail(
                    f".{name}() takes {STRING_METHODS[name]} argument(s), got {len(args)}", node
                )
            method = string_method(name)
            return lambda v: method(target(v), *(a(v) for a in args))
        if name in ("size", "matches"):
            arity, fn = FUNCTIONS[name]
            if len(args) != arity - 1:
                raise self.fail(f".{name}() takes {arity - 1} argument(s), got {len(args)}", node)
            if name == "matches" and arg_nodes[0].op == "const":
                return self._matches(node, target_node, arg_nodes[0], bound)
            return lambda v: fn(target(v), *(a(v) for a in args))
        methods = ", ".join(sorted([*STRING_METHODS, "size", "matches", *MACROS]))
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
        return macro_fn(name, var, target, parts)
