"""``inloop policy test`` and ``inloop policy check``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inloop.cli import app

RULES = """
rules:
  - name: big-refund
    description: Refunds over 100
    risk: high
    strategy: approve
    when: 'tool == "refund" && arguments.amount > 100'
  - name: money
    risk: medium
    strategy: confirm
    keywords: [refund]
"""


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=stdin)


def files(tmp_path: Path, action: dict[str, object]) -> tuple[str, str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    file = tmp_path / "action.json"
    file.write_text(json.dumps(action))
    return str(rules), str(file)


def test_policy_test_prints_the_decision_and_every_rule(tmp_path: Path) -> None:
    """Exit 0; the risk and strategy, the winning rule and its reason, the other rules."""
    rules, action = files(tmp_path, {"tool": "refund", "arguments": {"amount": 250}})
    result = invoke("policy", "test", rules, action)
    assert result.exit_code == 0, result.output
    assert "high risk -> approve" in result.output
    assert (
        'Rule big-refund matched: tool == "refund" && arguments.amount > 100 holds' in result.output
    )
    assert "money" in result.output and "the word 'refund' is in tool" in result.output
    assert "Action digest:" in result.output


def test_policy_test_json_is_the_decision(tmp_path: Path) -> None:
    """--json prints the Decision: rule, reason, matched and considered."""
    rules, action = files(tmp_path, {"tool": "refund", "arguments": {"amount": 5}})
    result = invoke("policy", "test", rules, action, "--json")
    assert result.exit_code == 0
    decision = json.loads(result.output)
    assert (decision["risk"], decision["strategy"], decision["rule"]) == (
        "medium",
        "confirm",
        "money",
    )
    assert [c["rule"] for c in decision["considered"]] == ["big-refund", "money"]
    assert decision["considered"][0] == {
        "rule": "big-refund",
        "kind": "when",
        "risk": "high",
        "strategy": "approve",
        "matched": False,
        "reason": 'tool == "refund" && arguments.amount > 100 is false',
    }


def test_policy_test_reads_inline_json_stdin_and_the_default_rules() -> None:
    """'default' names the built-in rules; the action may be inline JSON or '-' (stdin)."""
    inline = invoke("policy", "test", "default", '{"tool": "delete_account"}', "--json")
    assert json.loads(inline.output)["strategy"] == "mfa"
    piped = invoke("policy", "test", "default", "-", "--json", stdin='{"tool": "get_weather"}')
    assert json.loads(piped.output)["rule"] is None


def test_expect_exits_1_when_the_decision_differs(tmp_path: Path) -> None:
    """--expect risk, strategy or risk:strategy: 0 when it holds, 1 when not, 2 if unknown."""
    rules, action = files(tmp_path, {"tool": "refund", "arguments": {"amount": 250}})
    assert invoke("policy", "test", rules, action, "--expect", "high:approve").exit_code == 0
    assert invoke("policy", "test", rules, action, "--expect", "approve").exit_code == 0
    wrong = invoke("policy", "test", rules, action, "--expect", "confirm")
    assert wrong.exit_code == 1
    assert "expected confirm, decided high:approve" in wrong.output
    assert invoke("policy", "test", rules, action, "--expect", "hihg").exit_code == 2


def test_bad_rules_and_bad_actions_exit_2_with_every_problem(tmp_path: Path) -> None:
    """Exit 2, with the rule and field at fault; --json gives the problems as data."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: a, risk: hgh, keywords: [x]}\n  - {name: b, risk: low}\n")
    result = invoke("policy", "test", str(bad), '{"tool": "x"}')
    assert result.exit_code == 2
    assert "2 problems" in result.output and "'a' (rules[0])" in result.output
    as_json = json.loads(invoke("policy", "check", str(bad), "--json").output)
    assert as_json["valid"] is False
    assert [(p["rule"], p["field"]) for p in as_json["problems"]] == [
        ("'a' (rules[0])", "risk"),
        ("'b' (rules[1])", None),
    ]
    unknown = invoke(
        "policy", "test", "default", '{"tool": "x", "amount": "lots", "bogus": 1}', "--json"
    )
    assert unknown.exit_code == 2
    fields = {p["field"]: p["message"] for p in json.loads(unknown.output)["problems"]}
    assert fields == {
        "amount": "Input should be a valid number, unable to parse string as a number",
        "bogus": "unknown field",
    }
    missing = invoke("policy", "test", "default", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "cannot read" in missing.output
    broken = invoke("policy", "test", "default", "{not json")
    assert broken.exit_code == 2 and "not valid JSON" in broken.output


def test_policy_check_lists_the_rules(tmp_path: Path) -> None:
    """check: exit 0 and every rule with its kind, risk and strategy."""
    rules, _ = files(tmp_path, {})
    result = invoke("policy", "check", rules)
    assert result.exit_code == 0
    assert "2 rules" in result.output and "big-refund" in result.output
    assert "When nothing matches: low -> auto" in result.output


def test_a_json_list_is_a_suite_of_cases(tmp_path: Path) -> None:
    """A list of actions or {name, action, expect} cases: one line each, exit 1 if any
    case is not as expected, 0 when all are; --json gives every decision."""
    cases = [
        {"name": "weather", "action": {"tool": "get_weather"}, "expect": "low:auto"},
        {"name": "deletion", "action": {"tool": "delete_account"}, "expect": "mfa"},
        {"tool": "book_flight"},
    ]
    file = tmp_path / "cases.json"
    file.write_text(json.dumps(cases))
    ok = invoke("policy", "test", "default", str(file))
    assert ok.exit_code == 0, ok.output
    assert "3 cases, 2 as expected, 0 not" in ok.output
    cases[1]["expect"] = "escalate"
    file.write_text(json.dumps(cases))
    failing = invoke("policy", "test", "default", str(file), "--json")
    assert failing.exit_code == 1
    report = json.loads(failing.output)
    assert report["failed"] == 1
    assert [(c["name"], c["passed"]) for c in report["cases"]] == [
        ("weather", True),
        ("deletion", False),
        ("2: book_flight", None),
    ]
    assert report["cases"][1]["decision"]["rule"] == "destructive"
    everyone = invoke("policy", "test", "default", str(file), "--expect", "auto")
    assert everyone.exit_code == 1 and "3 cases, 1 as expected, 2 not" in everyone.output


def test_bad_cases_name_their_index_and_field(tmp_path: Path) -> None:
    """Every bad case is reported with its place in the list; nothing is decided (exit 2)."""
    cases = '[{"action": {"tool": ""}}, {"action": {"tool": "x"}, "expect": "maybe"}, {"tol": "x"}]'
    result = invoke("policy", "test", "default", cases, "--json")
    assert result.exit_code == 2
    fields = [p["field"] for p in json.loads(result.output)["problems"]]
    assert fields == ["[0].action.tool", "[1].expect", "[2].tool", "[2].tol"]


def test_the_example_policy_passes_its_suite() -> None:
    """examples/policies/support.yaml decides every case of support_cases.json as written."""
    folder = Path(__file__).parents[2] / "examples" / "policies"
    result = invoke(
        "policy", "test", str(folder / "support.yaml"), str(folder / "support_cases.json"), "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["failed"] == 0 and len(report["cases"]) == 10
    assert all(case["passed"] for case in report["cases"])
