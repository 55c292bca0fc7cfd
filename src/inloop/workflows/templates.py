"""``{{var}}`` and ``{{a.b}}`` templates, compiled once, rendered without ``eval``.

What stands between the braces is a CEL expression (``cel``): usually a variable or a path
(``{{customer.name}}``), but ``{{amount * 2}}`` or ``{{size(items)}}`` work too, with the
same rules (a missing field reads null). Its roots are known when the template is
compiled, so a workflow refuses an unknown variable when it is loaded, not when a human
is waiting for the prompt.

A string that is one template and nothing else gives the value itself, typed
(``"{{risk_factors}}"`` gives the list); inside other text, strings go in as they are and
other values as JSON (``null``, ``true``, ``15000``, ``["a", "b"]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inloop.workflows.cel import CelSyntaxError, Expression, compile_expression

OPEN, CLOSE = "{{", "}}"


class TemplateError(Exception):
    """A template that does not compile: ``reason`` says why, ``column`` where (1-based)."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} (column {column})")
        self.reason = reason
        self.column = column


@dataclass(frozen=True)
class Template:
    """A compiled template string."""

    text: str
    parts: tuple[str | Expression, ...]

    @property
    def roots(self) -> frozenset[str]:
        found: set[str] = set()
        for part in self.parts:
            if isinstance(part, Expression):
                found |= part.roots
        return frozenset(found)

    @property
    def is_plain(self) -> bool:
        return all(isinstance(part, str) for part in self.parts)

    def render(self, variables: Mapping[str, Any]) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], Expression):
            return self.parts[0].evaluate(variables)
        return "".join(
            part if isinstance(part, str) else as_text(part.evaluate(variables))
            for part in self.parts
        )


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def compile_template(text: str) -> Template:
    """Compile ``text``; raises TemplateError naming the column of the problem."""
    parts: list[str | Expression] = []
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return Template(text, tuple(parts))
        if start > pos:
            parts.append(text[pos:start])
        end = _closing(text, start + len(OPEN))
        if end < 0:
            raise TemplateError("'{{' is not closed by '}}'", start + 1)
        inner = text[start + len(OPEN) : end]
        if not inner.strip():
            raise TemplateError("'{{}}' is empty: put a variable between the braces", start + 1)
        try:
            parts.append(compile_expression(inner.strip()))
        except CelSyntaxError as exc:
            lead = len(inner) - len(inner.lstrip())
            raise TemplateError(
                f"{{{{{inner.strip()}}}}} does not parse: {exc.reason}",
                start + len(OPEN) + lead + exc.column,
            ) from None
        pos = end + len(CLOSE)


def _closing(text: str, pos: int) -> int:
    """Where the ``}}`` closing the template opened before ``pos`` is: outside string
    literals, and after any ``}`` of a map literal inside."""
    quote: str | None = None
    depth = 0
    while pos < len(text):
        char = text[pos]
        if quote is not None:
            if char == "\\":
                pos += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0 and text.startswith(CLOSE, pos):
                return pos
            depth -= 1
        pos += 1
    return -1


@dataclass(frozen=True)
class TemplatedValue:
    """A JSON value whose strings (at any depth) may hold templates."""

    value: Any
    templates: dict[str, Template]  # by JSON path of each templated string, "" for the root

    @property
    def roots(self) -> frozenset[str]:
        found: set[str] = set()
        for template in self.templates.values():
            found |= template.roots
        return frozenset(found)

    def render(self, variables: Mapping[str, Any]) -> Any:
        if not self.templates:
            return self.value
        return _render(self.value, "", self.templates, variables)


def compile_value(value: Any) -> tuple[TemplatedValue, list[tuple[str, TemplateError]]]:
    """Compile every string of ``value``; the errors found, with the path of each."""
    templates: dict[str, Template] = {}
    errors: list[tuple[str, TemplateError]] = []
    for path, text in _strings(value, ""):
        if OPEN not in text:
            continue
        try:
            templates[path] = compile_template(text)
        except TemplateError as exc:
            errors.append((path, exc))
    return TemplatedValue(value, templates), errors


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _strings(v, _join(path, str(k)))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, f"{path}[{i}]")]
    return []


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _render(
    value: Any, path: str, templates: dict[str, Template], variables: Mapping[str, Any]
) -> Any:
    if isinstance(value, str):
        template = templates.get(path)
        return template.render(variables) if template is not None else value
    if isinstance(value, dict):
        return {k: _render(v, _join(path, str(k)), templates, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, f"{path}[{i}]", templates, variables) for i, v in enumerate(value)]
    return value
