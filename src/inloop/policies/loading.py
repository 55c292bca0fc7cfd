"""Policy files (YAML or JSON): their shape, checked whole at load, and the default rules.

Every problem is reported at once, each naming the file, the rule (by name and place)
and the field, so a policy that loads is one whose every rule can run.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inloop.errors import InloopError
from inloop.policies.engine import Policy
from inloop.policies.rules import (
    AmountMatcher,
    ConditionMatcher,
    ConfidenceMatcher,
    FieldsMatcher,
    KeywordMatcher,
    Matcher,
    Risk,
    Rule,
    Strategy,
)
from inloop.workflows.cel import CelSyntaxError, compile_expression

__all__ = [
    "DEFAULT_RULES",
    "PolicyError",
    "Problem",
    "default_policy",
    "load_policy",
    "loads_policy",
    "parse",
]

DEFAULT_RULES = Path(__file__).with_name("default.yaml")
#: What a strategy defaults to when a rule gives only a risk (the seed's table).
STRATEGY_FOR = {
    Risk.LOW: Strategy.AUTO,
    Risk.MEDIUM: Strategy.CONFIRM,
    Risk.HIGH: Strategy.ESCALATE,
    Risk.CRITICAL: Strategy.ESCALATE,
}
VARIABLES = frozenset({"tool", "arguments", "text", "amount", "fields", "confidence", "metadata"})
KINDS = ("keywords", "amount", "fields", "when", "confidence")
Places = Literal["tool", "text", "arguments"]


class Problem(BaseModel):
    """One thing wrong with a policy file."""

    file: str
    rule: str | None = None
    field: str | None = None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.rule:
            where.append(f"rule {self.rule}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{': '.join(where)}: {self.message}"


class PolicyError(InloopError):
    """A policy file cannot be used: ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        super().__init__(lines[0] if len(lines) == 1 else "\n".join(["", *lines]))


_STRICT = ConfigDict(extra="forbid")


class _Amount(BaseModel):
    model_config = _STRICT
    above: float | None = None
    at_least: float | None = None
    fields: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_threshold(self) -> _Amount:
        if (self.above is None) == (self.at_least is None):
            raise ValueError("give exactly one of above, at_least")
        return self


class _Confidence(BaseModel):
    model_config = _STRICT
    below: float = Field(gt=0, le=1)


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str | None = None
    risk: Risk
    strategy: Strategy | None = None
    priority: Literal["urgent", "high", "normal", "low"] | None = None
    keywords: list[Annotated[str, Field(min_length=1, pattern=r"[A-Za-z0-9]")]] | None = Field(
        default=None, min_length=1
    )
    places: list[Places] | None = Field(default=None, alias="in", min_length=1)
    amount: _Amount | None = None
    fields: list[Annotated[str, Field(min_length=1, pattern=r"[A-Za-z0-9]")]] | None = Field(
        default=None, min_length=1
    )
    when: str | None = Field(default=None, min_length=1)
    confidence: _Confidence | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _RuleSpec:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(f"a rule has exactly one of {', '.join(KINDS)} (found: {found})")
        if self.places is not None and self.keywords is None:
            raise ValueError("'in' says where keywords are looked for: only with keywords")
        return self


class _Default(BaseModel):
    model_config = _STRICT
    risk: Risk = Risk.LOW
    strategy: Strategy | None = None


class _PolicySpec(BaseModel):
    model_config = _STRICT
    version: Literal[1] = 1
    default: _Default = Field(default_factory=_Default)
    rules: list[Any]


def parse(data: Any, source: str = "<rules>") -> Policy:
    """A policy from already-read data (what a YAML or JSON file holds)."""
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "nothing"
        raise PolicyError([Problem(file=source, message=f"expected a mapping, found {found}")])
    try:
        spec = _PolicySpec.model_validate(data)
    except ValidationError as exc:
        raise PolicyError([_problem(source, None, e) for e in exc.errors()]) from None
    problems: list[Problem] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(spec.rules):
        label = _label(raw, index)
        if not isinstance(raw, dict):
            problems.append(Problem(file=source, rule=label, message="a rule is a mapping"))
            continue
        try:
            rule_spec = _RuleSpec.model_validate(raw)
        except ValidationError as exc:
            problems += [_problem(source, label, e) for e in exc.errors()]
            continue
        if rule_spec.name in seen:
            problems.append(
                Problem(file=source, rule=label, field="name", message="another rule has this name")
            )
        seen.add(rule_spec.name)
        try:
            matcher = _matcher(rule_spec)
        except CelSyntaxError as exc:
            problems.append(Problem(file=source, rule=label, field="when", message=str(exc)))
            continue
        except ValueError as exc:
            problems.append(Problem(file=source, rule=label, field="when", message=str(exc)))
            continue
        strategy = rule_spec.strategy or STRATEGY_FOR[rule_spec.risk]
        rules.append(
            Rule(
                rule_spec.name,
                rule_spec.risk,
                strategy,
                matcher,
                rule_spec.description,
                rule_spec.priority,
            )
        )
    if problems:
        raise PolicyError(problems)
    default = spec.default
    return Policy(
        rules,
        default.risk,
        default.strategy or STRATEGY_FOR[default.risk],
        source,
    )


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file (``.json`` as JSON, anything else as YAML)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            [Problem(file=str(file), message=f"cannot read: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise PolicyError([Problem(file=str(file), message="not UTF-8 text")]) from None
    return parse(_read(text, file.name, json_only=file.suffix == ".json"), file.name)


def loads_policy(text: str, source: str = "<rules>") -> Policy:
    """A policy from YAML (or JSON) text."""
    return parse(_read(text, source, json_only=False), source)


@cache
def default_policy() -> Policy:
    """The rules that ship with Inloop (``inloop/policies/default.yaml``), loaded once."""
    return load_policy(DEFAULT_RULES)


def _read(text: str, source: str, *, json_only: bool) -> Any:
    if json_only:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            raise PolicyError([Problem(file=source, message=message)]) from None
    import yaml  # here: `import inloop` need not pay for it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(
            [Problem(file=source, message=f"not valid YAML{where}: {reason}")]
        ) from None


def _matcher(spec: _RuleSpec) -> Matcher:
    if spec.keywords is not None:
        places = tuple(spec.places or ("tool", "text", "arguments"))
        return KeywordMatcher(tuple(spec.keywords), places)
    if spec.amount is not None:
        fields = tuple(spec.amount.fields or AmountMatcher.fields)
        return AmountMatcher(spec.amount.above, spec.amount.at_least, fields)
    if spec.fields is not None:
        return FieldsMatcher(tuple(spec.fields))
    if spec.confidence is not None:
        return ConfidenceMatcher(spec.confidence.below)
    assert spec.when is not None  # _one_kind checked that exactly one kind is given
    expression = compile_expression(spec.when)
    unknown = sorted(expression.roots - VARIABLES)
    if unknown:
        raise ValueError(
            f"unknown variable {', '.join(unknown)} in {spec.when!r}; "
            f"conditions read {', '.join(sorted(VARIABLES))}"
        )
    return ConditionMatcher(expression)


def _label(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{name!r} (rules[{index}])" if isinstance(name, str) and name else f"rules[{index}]"


def _problem(source: str, rule: str | None, error: Any) -> Problem:
    loc = [str(part) for part in error["loc"]]
    if rule is None and loc[:1] == ["rules"] and len(loc) > 1:
        rule, loc = f"rules[{loc[1]}]", loc[2:]
    field = ".".join(loc) or None
    if field == "places":
        field = "in"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return Problem(file=source, rule=rule, field=field, message=message)
