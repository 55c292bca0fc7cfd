"""The five kinds of rule, compiled once; each says whether it matches an action, and why.

A matcher's ``match`` returns the evidence (a sentence, the place and the value that
decided) or None; ``miss`` says why it did not match, and is only called to explain.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from inloop.policies.actions import ActionView, words
from inloop.workflows.cel import CelEvalError, Expression

__all__ = [
    "AmountMatcher",
    "ConditionMatcher",
    "ConfidenceMatcher",
    "Evidence",
    "FieldsMatcher",
    "KeywordMatcher",
    "Matcher",
    "Risk",
    "Rule",
    "Strategy",
]


class Risk(StrEnum):
    """How much can go wrong, in increasing order."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRITICAL: 3}


class Strategy(StrEnum):
    """What happens before the action runs."""

    AUTO = "auto"  # it runs
    CONFIRM = "confirm"  # the end user says yes (in the conversation)
    APPROVE = "approve"  # an assignee approves it (an approval request on the desk)
    ESCALATE = "escalate"  # it does not run: a human takes over (a handoff ticket)
    MFA = "mfa"  # the end user enters a code sent by email and SMS


@dataclass(frozen=True)
class Evidence:
    """Why a rule matched: a sentence, where it looked, and what it found there."""

    reason: str
    where: str | None = None
    found: Any = None


class Matcher(Protocol):
    @property
    def kind(self) -> str: ...

    def match(self, view: ActionView) -> Evidence | None: ...

    def miss(self, view: ActionView) -> str: ...


@dataclass(frozen=True)
class Rule:
    name: str
    risk: Risk
    strategy: Strategy
    matcher: Matcher
    description: str | None = None
    priority: str | None = None  # of the ticket an escalation opens


# -- keywords --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordMatcher:
    """Whole words, case-insensitive, in the places named (tool, text, arguments).

    Text is read as words (``words``), so ``delete_account`` and ``deleteAccount`` contain
    ``delete`` but ``undelete`` does not, and ``cancel`` does not match ``cancellation``
    unless the keyword says ``cancel*``. A phrase (``credit card``) matches those words in
    a row.
    """

    keywords: tuple[str, ...]
    places: tuple[str, ...] = ("tool", "text", "arguments")
    kind: str = "keywords"
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = []
        for keyword in sorted(self.keywords, key=len, reverse=True):
            prefix = keyword.endswith("*")
            body = r"\ ".join(re.escape(w) for w in words(keyword.rstrip("*")).split())
            parts.append(body + (r"[a-z0-9]*" if prefix else ""))
        pattern = r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])"
        object.__setattr__(self, "_pattern", re.compile(pattern))

    def match(self, view: ActionView) -> Evidence | None:
        for root in self.places:
            found = view.searchable(root)
            if found is None:
                continue
            joined, starts, names = found
            hit = self._pattern.search(joined)
            if hit is None:
                continue
            index = bisect.bisect_right(starts, hit.start()) - 1
            begin = starts[index]
            end_of = starts[index + 1] - 3 if index + 1 < len(starts) else len(joined)
            text, at = joined[begin:end_of], hit.start() - begin
            word = hit.group(0)
            start, end = max(0, at - 30), at + len(word) + 30
            excerpt = (
                ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
            )
            return Evidence(
                f"the word {word!r} is in {names[index]} ({excerpt!r})", names[index], word
            )
        return None

    def miss(self, view: ActionView) -> str:
        looked = [
            name for root in self.places for name in (view.searchable(root) or ("", [], []))[2]
        ]
        return f"none of {len(self.keywords)} keywords in {', '.join(looked) or 'nothing'}"


# -- amounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AmountMatcher:
    """The money at stake is above (or at least) a threshold: the action's ``amount``,
    else the first of ``fields`` among its top-level arguments that is a number."""

    above: float | None = None
    at_least: float | None = None
    fields: tuple[str, ...] = ("amount", "price", "cost", "total")
    kind: str = "amount"

    def _amount(self, view: ActionView) -> tuple[str, float] | None:
        action = view.action
        if action.amount is not None:
            return "amount", action.amount
        for name in self.fields:
            value = action.arguments.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return f"arguments.{name}", float(value)
        return None

    def _threshold(self) -> str:
        if self.above is not None:
            return f"above {_number(self.above)}"
        return f"at least {_number(self.at_least or 0)}"

    def match(self, view: ActionView) -> Evidence | None:
        found = self._amount(view)
        if found is None:
            return None
        place, value = found
        hit = value > self.above if self.above is not None else value >= (self.at_least or 0)
        if not hit:
            return None
        return Evidence(f"{place} is {_number(value)}, {self._threshold()}", place, value)

    def miss(self, view: ActionView) -> str:
        found = self._amount(view)
        if found is None:
            return f"no amount (looked at amount, arguments.{', arguments.'.join(self.fields)})"
        place, value = found
        return f"{place} is {_number(value)}, not {self._threshold()}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- personal-data fields --------------------------------------------------------------


@dataclass(frozen=True)
class FieldsMatcher:
    """The action touches a sensitive data field: a declared field, or an argument key at
    any depth, that contains one of ``fields`` as whole words (``customer_ssn`` has
    ``ssn``; ``lessons`` does not)."""

    fields: tuple[str, ...]
    kind: str = "fields"
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = [r"\ ".join(re.escape(w) for w in words(f).split()) for f in self.fields]
        pattern = r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])"
        object.__setattr__(self, "_pattern", re.compile(pattern))

    def match(self, view: ActionView) -> Evidence | None:
        for place, name in view.field_names.items():
            hit = self._pattern.search(name)
            if hit:
                return Evidence(f"it touches the field {place} ({hit.group(0)!r})", place, name)
        return None

    def miss(self, view: ActionView) -> str:
        return f"no field named like {', '.join(self.fields)}"


# -- CEL conditions --------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionMatcher:
    """A CEL condition over tool, arguments, text, amount, fields, confidence, metadata.

    A condition that fails to evaluate (a type error) matches: a policy that cannot
    tell must not let the action through as if it were harmless.
    """

    expression: Expression
    kind: str = "when"

    def match(self, view: ActionView) -> Evidence | None:
        try:
            holds = self.expression.holds(view.variables)
        except CelEvalError as exc:
            return Evidence(f"{self.expression.text} could not be evaluated ({exc})", None, None)
        if not holds:
            return None
        return Evidence(f"{self.expression.text} holds", None, True)

    def miss(self, view: ActionView) -> str:
        return f"{self.expression.text} is false"


# -- confidence ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfidenceMatcher:
    """The agent's confidence is below a threshold; an action without one never matches."""

    below: float
    kind: str = "confidence"

    def match(self, view: ActionView) -> Evidence | None:
        confidence = view.action.confidence
        if confidence is None or confidence >= self.below:
            return None
        return Evidence(
            f"confidence {_number(confidence)} is below {_number(self.below)}",
            "confidence",
            confidence,
        )

    def miss(self, view: ActionView) -> str:
        confidence = view.action.confidence
        if confidence is None:
            return "no confidence given"
        return f"confidence {_number(confidence)} is not below {_number(self.below)}"
