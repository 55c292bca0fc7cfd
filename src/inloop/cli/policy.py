"""``inloop policy``: check a risk policy, and see what it decides for an action and why.

Exit codes: 0 decided (and, with ``--expect``, as expected); 1 the decision is not the
expected one; 2 the rules or the action cannot be read (every problem is printed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, ValidationError
from rich import box
from rich.markup import escape
from rich.table import Table

from inloop.cli._context import ExitCode, echo_json, stderr
from inloop.cli._context import stdout as out
from inloop.policies import (
    DEFAULT_RULES,
    Action,
    Decision,
    Policy,
    PolicyError,
    Problem,
    Risk,
    Strategy,
    load_policy,
)

app = typer.Typer(
    help="Risk policies: check rules, test what they decide for an action (docs/policies.md).",
    no_args_is_help=True,
)

RulesArg = Annotated[
    Path,
    typer.Argument(help="A policy file (.yaml, .yml or .json); 'default' for the built-in rules."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("test")
def decide(
    rules: RulesArg,
    action: Annotated[
        str,
        typer.Argument(
            help="The action as a JSON file, '-' for stdin, or inline JSON; a JSON list is "
            'a suite of actions or {"name", "action", "expect"} cases.'
        ),
    ],
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="Exit 1 unless the decision is this: a strategy (confirm), a risk (high) "
            "or both (high:escalate).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide for one action: the risk, the strategy, the rule that matched and why, and
    what every other rule said; or for a suite of cases, one line each. Exit codes: 0
    decided (as expected), 1 a decision is not the expected one, 2 the rules or the
    actions cannot be read."""
    if expect is not None:
        _check_expect(expect, "--expect")
    policy = _policy(rules, as_json)
    data, source = _read(action, as_json)
    if isinstance(data, list):
        _suite(policy, _cases(data, source, as_json), expect, as_json)
        return
    decision = policy.decide(_validated(data, source, None, as_json), explain=True)
    if as_json:
        echo_json(decision)
    else:
        _print(decision)
    if expect is not None and not _as_expected(decision, expect):
        stderr().print(
            f"[red]✗[/] expected {escape(expect)}, decided "
            f"{decision.risk.value}:{decision.strategy.value}",
            highlight=False,
        )
        raise typer.Exit(ExitCode.REJECTED)


def _check_expect(expect: str, where: str) -> None:
    known = {r.value for r in Risk} | {s.value for s in Strategy}
    unknown = [p for p in expect.lower().split(":") if p.strip() not in known]
    if unknown or not expect.strip():
        raise typer.BadParameter(
            f"{expect!r}: give a risk ({', '.join(r.value for r in Risk)}), a strategy "
            f"({', '.join(s.value for s in Strategy)}) or risk:strategy",
            param_hint=where,
        )


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    action: dict[str, Any]
    expect: str | None = None


def _cases(data: list[Any], source: str, as_json: bool) -> list[tuple[str, Action, str | None]]:
    """A JSON list is a suite: actions, or {"name", "action", "expect"} objects."""
    cases: list[tuple[str, Action, str | None]] = []
    problems: list[Problem] = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        raw: Any = item
        name, expected = None, None
        if isinstance(item, dict) and "action" in item:
            try:
                case = _Case.model_validate(item)
            except ValidationError as exc:
                problems += _field_problems(source, exc, where)
                continue
            raw, name, expected = case.action, case.name, case.expect
            if expected is not None:
                try:
                    _check_expect(expected, f"{where}.expect")
                except typer.BadParameter as exc:
                    problems.append(Problem(file=source, field=f"{where}.expect", message=str(exc)))
                    continue
            where += ".action"
        try:
            parsed = Action.model_validate(raw)
        except ValidationError as exc:
            problems += _field_problems(source, exc, where)
            continue
        cases.append((name or f"{index}: {parsed.tool}", parsed, expected))
    if problems:
        _problems(source, problems, as_json)
        raise typer.Exit(ExitCode.USAGE)
    return cases


def _suite(
    policy: Policy, cases: list[tuple[str, Action, str | None]], expect: str | None, as_json: bool
) -> None:
    results = []
    for name, action, expected in cases:
        decision = policy.decide(action, explain=as_json)
        wanted = expected or expect
        passed = None if wanted is None else _as_expected(decision, wanted)
        results.append((name, decision, wanted, passed))
    failed = sum(1 for *_, passed in results if passed is False)
    if as_json:
        echo_json(
            {
                "cases": [
                    {"name": n, "expect": w, "passed": p, "decision": d.model_dump(mode="json")}
                    for n, d, w, p in results
                ],
                "failed": failed,
            }
        )
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("", "Case", "Decided", "Rule", "Expected", "Why"):
            table.add_column(column, overflow="fold" if column == "Why" else "ellipsis")
        for name, decision, wanted, passed in results:
            mark = {None: "·", True: "[green]✓[/]", False: "[red]✗[/]"}[passed]
            table.add_row(
                mark,
                escape(name),
                f"{decision.risk.value}:{decision.strategy.value}",
                escape(decision.rule or "(default)"),
                escape(wanted or ""),
                escape(decision.reason),
            )
        out().print(table)
        checked = sum(1 for *_, passed in results if passed is not None)
        out().print(
            f"{len(results)} cases, {checked - failed} as expected, {failed} not", highlight=False
        )
    if failed:
        raise typer.Exit(ExitCode.REJECTED)


@app.command("check")
def check(rules: RulesArg, as_json: JsonFlag = False) -> None:
    """Load a policy file and list its rules as written (exit 2 on problems)."""
    policy = _policy(rules, as_json)
    if as_json:
        echo_json(
            {
                "valid": True,
                "file": policy.source,
                "rules": [
                    {"name": r.name, "kind": r.matcher.kind, "risk": r.risk, "strategy": r.strategy}
                    for r in policy.rules
                ],
            }
        )
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("Rule", "Kind", "Risk", "Strategy", "Description"):
        table.add_column(column)
    for rule in policy.rules:
        table.add_row(
            escape(rule.name),
            rule.matcher.kind,
            rule.risk.value,
            rule.strategy.value,
            escape(rule.description or ""),
        )
    shown = str(DEFAULT_RULES) if str(rules) == "default" else str(rules)  # to copy it
    out().print(
        f"[green]✓[/] {escape(shown)}: {len(policy.rules)} rules", highlight=False, soft_wrap=True
    )
    out().print(table)
    default = f"{policy.default_risk.value} -> {policy.default_strategy.value}"
    out().print(f"When nothing matches: {default}", highlight=False)


def _policy(rules: Path, as_json: bool) -> Policy:
    path = DEFAULT_RULES if str(rules) == "default" else rules
    try:
        return load_policy(path)
    except PolicyError as exc:
        _problems(str(path), exc.problems, as_json)
    raise typer.Exit(ExitCode.USAGE)


def _read(given: str, as_json: bool) -> tuple[Any, str]:
    """The JSON of a file, stdin ('-') or the argument itself; problems exit 2."""
    source = given
    if given == "-":
        text, source = sys.stdin.read(), "<stdin>"
    elif given.lstrip().startswith(("{", "[")):
        text, source = given, "<argument>"
    else:
        try:
            text = Path(given).read_text(encoding="utf-8")
        except OSError as exc:
            _problems(given, [Problem(file=given, message=f"cannot read: {exc.strerror}")], as_json)
            raise typer.Exit(ExitCode.USAGE) from None
    try:
        return json.loads(text), source
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        _problems(source, [Problem(file=source, message=message)], as_json)
        raise typer.Exit(ExitCode.USAGE) from None


def _validated(data: Any, source: str, where: str | None, as_json: bool) -> Action:
    try:
        return Action.model_validate(data)
    except ValidationError as exc:
        _problems(source, _field_problems(source, exc, where), as_json)
        raise typer.Exit(ExitCode.USAGE) from None


def _field_problems(source: str, exc: ValidationError, where: str | None) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        field = ".".join(part for part in (where, path) if part) or None
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(Problem(file=source, field=field, message=message))
    return problems


def _problems(source: str, problems: list[Problem], as_json: bool) -> None:
    if as_json:
        echo_json({"valid": False, "problems": [p.model_dump() for p in problems]})
        return
    console = stderr()
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    console.print(f"[red]✗[/] {escape(source)}: {count}", highlight=False, soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Rule", no_wrap=True, style="bold")
    table.add_column("Field", no_wrap=True)
    table.add_column("Problem", overflow="fold")
    for problem in problems:
        table.add_row(
            escape(problem.rule or "-"), escape(problem.field or "-"), escape(problem.message)
        )
    console.print(table)


def _print(decision: Decision) -> None:
    console = out()
    style = {"low": "green", "medium": "yellow", "high": "red", "critical": "bold red"}
    risk = decision.risk.value
    console.print(
        f"[{style[risk]}]{risk}[/] risk -> [bold]{decision.strategy.value}[/]",
        highlight=False,
    )
    if decision.rule is None:
        console.print("No rule matched: the policy's default applies.", highlight=False)
    else:
        console.print(
            f"Rule [bold]{escape(decision.rule)}[/] matched: {escape(decision.reason)}",
            highlight=False,
            soft_wrap=True,
        )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left")
    for column in ("", "Rule", "Kind", "Risk", "Strategy", "Why"):
        table.add_column(column, overflow="fold" if column == "Why" else "ellipsis")
    for rule in decision.considered or []:
        mark = "[bold green]✓[/]" if rule.rule == decision.rule else ("✓" if rule.matched else "·")
        table.add_row(
            mark,
            escape(rule.rule),
            rule.kind,
            rule.risk.value,
            rule.strategy.value,
            escape(rule.reason),
        )
    console.print(table)
    console.print(f"Action digest: {decision.action_digest}", highlight=False)


def _as_expected(decision: Decision, expect: str) -> bool:
    wanted = [part.strip().lower() for part in expect.split(":") if part.strip()]
    actual = {decision.risk.value, decision.strategy.value}
    return all(part in actual for part in wanted)
