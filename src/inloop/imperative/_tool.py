"""``human_as_tool``: a tool an LLM calls to ask a human a free-text question."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from inloop.client import AsyncClient, Client
from inloop.client._base import CreateOptions
from inloop.errors import UsageError
from inloop.imperative._asking import aask, ask
from inloop.models import Kind

DEFAULT_NAME = "ask_human"
DEFAULT_DESCRIPTION = (
    "Ask a human for help, advice or a decision when you are unsure or lack information. "
    "Give one clear question; the human's answer is returned as text."
)

ToolKey = str | Callable[[str], str] | None


def _schema(name: str, description: str) -> dict[str, Any]:
    """The tool in the JSON Schema form that function-calling LLM APIs take."""
    return {
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": {
                "question": {
                    "type": "string",
                    "description": "The question for the human, with the context they need.",
                }
            },
            "required": ["question"],
            "additionalProperties": False,
        },
    }


def _key(key: ToolKey, name: str, question: str) -> str | None:
    if key is None:
        return None
    if callable(key):
        return key(question)
    return f"{key}:{name}:{hashlib.sha256(question.encode()).hexdigest()[:32]}"


def _fields(fields: Mapping[str, Any]) -> CreateOptions:
    unknown = set(fields) - set(CreateOptions.__annotations__)
    if unknown:
        raise UsageError(f"human_as_tool got unknown request fields: {sorted(unknown)}")
    if fields.get("kind") not in (None, Kind.INPUT, "input"):
        raise UsageError("human_as_tool asks for free text: leave kind out")
    return CreateOptions(**{**fields, "kind": Kind.INPUT})  # type: ignore[typeddict-item]


def _describe(tool: Any, name: str, description: str) -> None:
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = description
    tool.json_schema = _schema(name, description)


def human_as_tool(
    *,
    name: str = DEFAULT_NAME,
    description: str = DEFAULT_DESCRIPTION,
    key: ToolKey = None,
    client: Client | None = None,
    **fields: Any,
) -> Callable[[str], str]:
    """A function ``(question: str) -> str`` that asks a human and returns the answer.

    It carries ``__name__``, a docstring and ``json_schema`` (one string parameter,
    ``question``), so a function-calling framework can offer it to an LLM as it is.
    ``fields`` are request fields (assignee, timeout, priority, context, ...). With
    ``key`` (a string, combined with a digest of the question, or a function of the
    question), asking the same question again after a crash returns the first answer.
    """
    options = _fields(fields)

    def tool(question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise UsageError(f"{name} needs a non-empty question")
        answer = ask(question, key=_key(key, name, question), client=client, **options)
        return str(answer.value)

    _describe(tool, name, description)
    return tool


def ahuman_as_tool(
    *,
    name: str = DEFAULT_NAME,
    description: str = DEFAULT_DESCRIPTION,
    key: ToolKey = None,
    client: AsyncClient | None = None,
    **fields: Any,
) -> Callable[[str], Awaitable[str]]:
    """The asyncio form of ``human_as_tool``: an ``async (question: str) -> str``."""
    options = _fields(fields)

    async def tool(question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise UsageError(f"{name} needs a non-empty question")
        answer = await aask(question, key=_key(key, name, question), client=client, **options)
        return str(answer.value)

    _describe(tool, name, description)
    return tool
