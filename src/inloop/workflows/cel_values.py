"""CEL's values and what the language does with them, for the compiler in ``cel``.

Truthiness, type names, equality, ordering, 64-bit int arithmetic, ``in``, reading a field
or an index (what is not there reads ``null``), ``has``, the conversions, ``matches``
(RE2), the string methods and the tables of functions, methods and macros the compiler
checks calls against. Kept apart from the compiler so the semantics read in one place;
the compiled closures call these functions directly (imported by name: no added lookup).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from inloop.workflows.cel_syntax import CelEvalError, is_number

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


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


def order(op: str, a: Any, b: Any) -> bool:
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


def checked(value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise CelEvalError("integer overflow: CEL ints are 64-bit")
    return value


def arith(op: str, a: Any, b: Any) -> Any:
    both_int = isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool | float)
    both_int = both_int and not isinstance(b, bool)
    if both_int:
        if op == "+":
            return checked(a + b)
        if op == "-":
            return checked(a - b)
        if op == "*":
            return checked(a * b)
        if b == 0:
            raise CelEvalError("division by zero" if op == "/" else "modulus by zero")
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        if op == "/":
            return checked(quotient)
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


def contains(container: Any, item: Any) -> bool:
    if isinstance(container, dict):
        return any(equal(key, item) for key in container)
    if isinstance(container, list | tuple):
        return any(equal(element, item) for element in container)
    if container is None:
        return False
    raise CelEvalError(f"no such overload: {type_name(item)} in {type_name(container)}")


def read_field(value: Any, name: Any) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return None


def read_index(value: Any, key: Any) -> Any:
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
            return checked(int(value, 10))
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


def regex(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def matches(text: Any, pattern: Any) -> bool:
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise CelEvalError(f"no such overload: {type_name(text)}.matches({type_name(pattern)})")
    try:
        return regex(pattern).search(text) is not None
    except Exception as exc:  # re2.error: the pattern is RE2's to judge
        raise CelEvalError(f"matches(): {pattern!r} is not an RE2 pattern: {exc}") from None


def string_method(name: str) -> Callable[..., Any]:
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


STRING_METHODS = {"contains": 1, "startsWith": 1, "endsWith": 1,
                   "lowerAscii": 0, "upperAscii": 0, "trim": 0}  # fmt: skip
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "size": (1, _size), "int": (1, _to_int), "double": (1, _to_double),
    "string": (1, _to_string), "bool": (1, _to_bool), "dyn": (1, lambda v: v),
    "matches": (2, matches),
}  # fmt: skip
MACROS = ("all", "exists", "exists_one", "map", "filter")


def has_field(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return name in value
    if value is None:
        return False
    raise CelEvalError(f"has() needs a map, got {type_name(value)}")
