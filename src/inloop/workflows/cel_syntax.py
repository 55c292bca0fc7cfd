"""CEL's syntax: tokens and a Pratt parser producing a small tree (see ``cel``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64


class CelError(Exception):
    """The root of this module's errors."""


class CelSyntaxError(CelError):
    """The text does not parse; ``column`` (1-based) says where."""

    def __init__(self, message: str, text: str, offset: int) -> None:
        self.reason = message
        self.column = offset + 1
        pointer = " " * offset + "^"
        super().__init__(f"{message} at column {self.column}:\n  {text}\n  {pointer}")


class CelEvalError(CelError):
    """Evaluation failed: a type mismatch, an overflow, a division by zero ..."""


# -- tokens ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<float>(?:\d+\.\d+|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<hex>0[xX][0-9a-fA-F]+)
  | (?P<int>\d+)
  | (?P<string>(?:[rR])?(?:'''|\"\"\"|'|\"))
  | (?P<bytes>[bB](?:[rR])?['"])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}=])
    """,
    re.VERBOSE,
)
_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}  # fmt: skip
_WORDS = {"true": True, "false": False, "null": None}
_HINTS = {
    "=": "CEL compares with ==, not =",
    "and": "CEL's logical and is &&",
    "or": "CEL's logical or is ||",
    "not": "CEL's logical not is !",
    "None": "CEL's null is null",
    "True": "CEL's true is lowercase",
    "False": "CEL's false is lowercase",
}


@dataclass(frozen=True)
class Token:
    kind: str  # "int" "float" "string" "name" "op" "end"
    value: Any
    offset: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise CelSyntaxError(f"unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup or ""
        start = pos
        pos = match.end()
        if kind == "space":
            continue
        if kind == "bytes":
            raise CelSyntaxError("bytes literals are not supported", text, start)
        if kind == "string":
            value, pos = _string(text, start, match.group())
            tokens.append(Token("string", value, start))
        elif kind == "float":
            tokens.append(Token("float", float(match.group()), start))
        elif kind in ("int", "hex"):
            if pos < len(text) and text[pos] in "uU":
                raise CelSyntaxError("unsigned integers (1u) are not supported", text, start)
            tokens.append(Token("int", int(match.group(), 0), start))
        else:
            tokens.append(Token(kind, match.group(), start))
    tokens.append(Token("end", None, len(text)))
    return tokens


def _string(text: str, start: int, opening: str) -> tuple[str, int]:
    raw = opening[0] in "rR"
    quote = opening.lstrip("rR")
    pos = start + len(opening)
    out: list[str] = []
    while True:
        if pos >= len(text):
            raise CelSyntaxError("this string is not closed", text, start)
        if text.startswith(quote, pos):
            return "".join(out), pos + len(quote)
        char = text[pos]
        if char == "\n" and len(quote) == 1:
            raise CelSyntaxError("a line break inside a quoted string", text, pos)
        if char != "\\" or raw:
            out.append(char)
            pos += 1
            continue
        code = text[pos + 1 : pos + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            pos += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = text[pos + 2 : pos + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise CelSyntaxError(f"\\{code} needs {width} hex digits", text, pos)
            point = int(digits, 16)
            if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                raise CelSyntaxError("not a valid code point", text, pos)
            out.append(chr(point))
            pos += 2 + width
        elif code and code in "0123":
            digits = text[pos + 1 : pos + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise CelSyntaxError("an octal escape has 3 digits", text, pos)
            out.append(chr(int(digits, 8)))
            pos += 4
        else:
            raise CelSyntaxError(f"unknown escape \\{code}", text, pos)


# -- syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    op: str  # const ident select index call member list map unary binary cond
    args: tuple[Any, ...] = ()
    offset: int = 0


_BINARY = {
    "||": 1, "&&": 2,
    "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5,
}  # fmt: skip


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> CelSyntaxError:
        token = token or self.peek()
        return CelSyntaxError(message, self.text, token.offset)

    def expect(self, value: str) -> Token:
        token = self.peek()
        if token.kind != "op" or token.value != value:
            raise self.fail(f"expected {value!r}, found {_describe(token)}")
        return self.take()

    def parse(self) -> Node:
        node = self.expression()
        token = self.peek()
        if token.kind != "end":
            hint = _HINTS.get(str(token.value))
            raise self.fail(
                f"unexpected {_describe(token)}" + (f" ({hint})" if hint else ""), token
            )
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("the expression is nested too deeply")
        try:
            condition = self.binary(1)
            token = self.peek()
            if token.kind == "op" and token.value == "?":
                self.take()
                yes = self.binary(1)
                self.expect(":")
                no = self.expression()
                return Node("cond", (condition, yes, no), token.offset)
            return condition
        finally:
            self.depth -= 1

    def binary(self, floor: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            op = token.value if token.kind in ("op", "name") else None
            power = _BINARY.get(op) if isinstance(op, str) else None
            if power is None or power < floor:
                if token.kind == "op" and token.value == "=":
                    raise self.fail("unexpected '=' (CEL compares with ==, not =)")
                if token.kind == "name" and token.value in ("and", "or"):
                    raise self.fail(f"unexpected {token.value!r} ({_HINTS[token.value]})")
                return left
            self.take()
            right = self.binary(power + 1)
            left = Node("binary", (op, left, right), token.offset)

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.value in ("!", "-"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("the expression is nested too deeply")
            operand = self.unary()
            self.depth -= 1
            if token.value == "-" and operand.op == "const" and is_number(operand.args[0]):
                return Node("const", (-operand.args[0],), token.offset)
            return Node("unary", (token.value, operand), token.offset)
        if token.kind == "name" and token.value == "not":
            raise self.fail(f"unexpected 'not' ({_HINTS['not']})")
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.kind != "op" or token.value not in (".", "["):
                return node
            self.take()
            if token.value == "[":
                index = self.expression()
                self.expect("]")
                node = Node("index", (node, index), token.offset)
                continue
            name = self.take()
            if name.kind != "name":
                raise self.fail(f"expected a field name after '.', found {_describe(name)}", name)
            following = self.peek()
            if following.kind == "op" and following.value == "(":
                self.take()
                node = Node("member", (node, name.value, tuple(self.arguments(")"))), name.offset)
            else:
                node = Node("select", (node, name.value), name.offset)

    def arguments(self, closing: str) -> list[Node]:
        found: list[Node] = []
        while not (self.peek().kind == "op" and self.peek().value == closing):
            found.append(self.expression())
            if self.peek().kind == "op" and self.peek().value == ",":
                self.take()
                continue
            break
        self.expect(closing)
        return found

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("int", "float", "string"):
            return Node("const", (token.value,), token.offset)
        if token.kind == "name":
            if token.value in _WORDS:
                return Node("const", (_WORDS[token.value],), token.offset)
            if token.value in ("and", "or", "not"):
                raise self.fail(f"unexpected {token.value!r} ({_HINTS[token.value]})", token)
            following = self.peek()
            if following.kind == "op" and following.value == "(":
                self.take()
                return Node("call", (token.value, tuple(self.arguments(")"))), token.offset)
            return Node("ident", (token.value,), token.offset)
        if token.kind == "op":
            if token.value == "(":
                inner = self.expression()
                self.expect(")")
                return inner
            if token.value == "[":
                return Node("list", tuple(self.arguments("]")), token.offset)
            if token.value == "{":
                return self.map_literal(token)
        raise self.fail(f"unexpected {_describe(token)}", token)

    def map_literal(self, opening: Token) -> Node:
        entries: list[tuple[Node, Node]] = []
        while not (self.peek().kind == "op" and self.peek().value == "}"):
            key = self.expression()
            self.expect(":")
            entries.append((key, self.expression()))
            if self.peek().kind == "op" and self.peek().value == ",":
                self.take()
                continue
            break
        self.expect("}")
        return Node("map", tuple(entries), opening.offset)


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "string":
        return "a string"
    return repr(str(token.value))


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
