"""The action a policy judges, its canonical bytes and digest, and the view rules read.

The canonical form is the one thing that travels: it is the approval request's payload,
the pending action in a session's state and what a confirmation holds, and the action
that runs is decoded from it. Two actions are the same action exactly when their
canonical bytes are equal, which ``digest`` states in 64 hex characters.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Action", "ActionView", "canonical_bytes", "digest"]

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Action(BaseModel):
    """What an agent is about to do: a tool and its arguments, with what is known about it.

    ``text`` is the words behind it (the user's request, the model's plan), ``amount`` the
    money at stake when the caller knows it (else rules read it from the arguments),
    ``fields`` the data fields it reads or writes, ``confidence`` the agent's own (0 to 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1, max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None
    amount: float | None = None
    fields: list[str] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0, le=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", "metadata")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        canonical_bytes(value)  # raises ValueError for what JSON cannot hold
        return value

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("amount must be a finite number")
        return value

    def canonical(self) -> dict[str, Any]:
        """The action as JSON, with empty fields left out (so adding one breaks no digest)."""
        canonical: dict[str, Any] = {"tool": self.tool, "arguments": self.arguments}
        for key in ("text", "amount", "fields", "confidence", "metadata"):
            value = getattr(self, key)
            if value is not None and value != [] and value != {}:
                canonical[key] = value
        return canonical

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(self.canonical())

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical bytes, in hex."""
        return digest(self.canonical())

    def describe(self) -> str:
        """``book_flight(destination="NYC")``: how a person reads the action."""
        shown = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.arguments.items()
        )
        return f"{self.tool}({shown})"


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the same value always gives the same bytes."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return text.encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


@lru_cache(maxsize=4096)
def _tool_words(name: str) -> str:
    """``words`` of a tool's name: agents call the same few tools over and over."""
    return words(name)


def words(text: str) -> str:
    """Lower-case words joined by single spaces; ``deleteAccount`` and ``delete_account``
    both read ``delete account``, so keywords match tool names by whole words."""
    return " ".join(w.lower() for w in _WORD.findall(_CAMEL.sub(" ", text)))


class ActionView:
    """An action as the rules read it, each part computed at most once per decision."""

    __slots__ = ("_fields", "_joined", "_roots", "_variables", "action")

    def __init__(self, action: Action) -> None:
        self.action = action
        self._roots: dict[str, list[tuple[str, str]]] | None = None
        self._fields: dict[str, str] | None = None
        self._variables: dict[str, Any] | None = None
        self._joined: dict[str, tuple[str, list[int], list[str]]] = {}

    @property
    def texts(self) -> dict[str, str]:
        """Where keywords are looked for, by place: ``tool``, ``text``, ``arguments.<path>``
        (string values), each as ``words``."""
        return {place: text for group in self._by_root().values() for place, text in group}

    def _by_root(self) -> dict[str, list[tuple[str, str]]]:
        if self._roots is None:
            action = self.action
            roots: dict[str, list[tuple[str, str]]] = {"tool": [("tool", _tool_words(action.tool))]}
            if action.text:
                roots["text"] = [("text", words(action.text))]
            strings: list[tuple[str, str]] = []
            keys: list[str] = []
            _walk(action.arguments, "arguments", strings, keys, 0)
            if strings:
                roots["arguments"] = [(path, words(value)) for path, value in strings]
            self._roots = roots
            fields = {f"fields[{name}]": words(name) for name in action.fields}
            for path in keys:
                fields[path] = words(path.rsplit(".", 1)[-1])
            self._fields = fields
        return self._roots

    def searchable(self, root: str) -> tuple[str, list[int], list[str]] | None:
        """The texts of one root (tool, text, arguments) in one string, so that a rule
        searches it once, with each place's start offset and name; None if it has none."""
        found = self._joined.get(root)
        if found is None:
            group = self._by_root().get(root)
            if not group:
                return None
            starts: list[int] = []
            offset = 0
            for _place, text in group:
                starts.append(offset)
                offset += len(text) + 3
            joined = " | ".join(text for _place, text in group)
            found = self._joined[root] = (joined, starts, [place for place, _text in group])
        return found

    @property
    def field_names(self) -> dict[str, str]:
        """Every argument key (at any depth) and every declared field, as ``words``, by place."""
        if self._fields is None:
            self._by_root()
        assert self._fields is not None
        return self._fields

    @property
    def variables(self) -> dict[str, Any]:
        """What CEL conditions see."""
        if self._variables is None:
            action = self.action
            self._variables = {
                "tool": action.tool,
                "arguments": action.arguments,
                "text": action.text,
                "amount": action.amount,
                "fields": action.fields,
                "confidence": action.confidence,
                "metadata": action.metadata,
            }
        return self._variables


def _walk(
    value: Any, path: str, strings: list[tuple[str, str]], keys: list[str], depth: int
) -> None:
    """The string values and the keys under ``value``, with their paths (8 levels deep)."""
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            keys.append(here)
            if isinstance(item, str):
                strings.append((here, item))
            elif isinstance(item, dict | list):
                _walk(item, here, strings, keys, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            here = f"{path}[{index}]"
            if isinstance(item, str):
                strings.append((here, item))
            elif isinstance(item, dict | list):
                _walk(item, here, strings, keys, depth + 1)
