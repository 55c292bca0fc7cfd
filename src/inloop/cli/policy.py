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
from pydantic import ValidationError
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
        str, typer.Argument(help="The action as a JSON file, '-' for stdin, or inline JSON.")
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
    what every other rule said. Exit codes: 0 decided (as --expect-ed), 1 not the
    --expect-ed decision, 2 the rules or the action cannot be read."""
    if expect is not None:
        known = {r.value for r in Risk} | {s.value for s in Strategy}
        unknown = [p for p in expect.lower().split(":") if p.strip() not in known]
        if unknown or not expect.strip():
            raise typer.BadParameter(
                f"{expect!r}: give a risk ({', '.join(r.value for r in Risk)}), a strategy "
                f"({', '.join(s.value for s in Strategy)}) or risk:strategy",
                param_hint="--expect",
            )
    policy = _policy(rules, as_json)
    decision = policy.decide(_action(action, as_json), explain=True)
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


@app.command("check")
def check(rules: RulesArg, as_json: JsonFlag = False) -> None:
    """Load a policy file and list its rules in the order they win (exit 2 on problems)."""
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
    out().print(f"[green]✓[/] {escape(policy.source)}: {len(policy.rules)} rules", highlight=False)
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


def _action(given: str, as_json: bool) -> Action:
    source = given
    if given == "-":
        text, source = sys.stdin.read(), "<stdin>"
    elif given.lstrip().startswith("{"):
        text, source = given, "<argument>"
    else:
        try:
            text = Path(given).read_text(encoding="utf-8")
        except OSError as exc:
            _problems(given, [Problem(file=given, message=f"cannot read: {exc.strerror}")], as_json)
            raise typer.Exit(ExitCode.USAGE) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        _problems(source, [Problem(file=source, message=message)], as_json)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        return Action.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                file=source,
                field=".".join(str(p) for p in e["loc"]) or None,
                message="unknown field" if e["type"] == "extra_forbidden" else e["msg"],
            )
            for e in exc.errors()
        ]
        _problems(source, problems, as_json)
        raise typer.Exit(ExitCode.USAGE) from None


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
