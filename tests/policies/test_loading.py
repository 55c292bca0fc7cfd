"""Policy files: bad YAML and bad rules are refused at load, naming file, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from inloop.policies import DEFAULT_RULES, PolicyError, load_policy, loads_policy


def problems(text: str) -> list[tuple[str | None, str | None, str]]:
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, "rules.yaml")
    assert all(p.file == "rules.yaml" for p in caught.value.problems)
    return [(p.rule, p.field, p.message) for p in caught.value.problems]


def test_bad_yaml_says_where() -> None:
    """A YAML syntax error gives the line and column."""
    [(rule, field, message)] = problems("rules:\n  - name: a\n    risk: [high\n")
    assert rule is None and field is None
    assert message.startswith("not valid YAML at line 4")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", (None, None, "expected a mapping, found list")),
        ("", (None, None, "expected a mapping, found nothing")),
        ("rules: []\nextra: 1\n", (None, "extra", "unknown field")),
        ("rules: []\nversion: 2\n", (None, "version", "Input should be 1")),
        (
            "rules:\n  - name: a\n    risk: hgh\n    keywords: [x]\n",
            ("'a' (rules[0])", "risk", "Input should be 'low', 'medium', 'high' or 'critical'"),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    strategy: pray\n    keywords: [x]\n",
            (
                "'a' (rules[0])",
                "strategy",
                "Input should be 'auto', 'confirm', 'approve', 'escalate' or 'mfa'",
            ),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n",
            (
                "'a' (rules[0])",
                None,
                "a rule has exactly one of keywords, amount, fields, when, confidence (found: none)",
            ),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    keywords: [x]\n    fields: [y]\n",
            (
                "'a' (rules[0])",
                None,
                "a rule has exactly one of keywords, amount, fields, when, confidence (found: keywords, fields)",
            ),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    keywords: []\n",
            (
                "'a' (rules[0])",
                "keywords",
                "List should have at least 1 item after validation, not 0",
            ),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    amount: {above: lots}\n",
            (
                "'a' (rules[0])",
                "amount.above",
                "Input should be a valid number, unable to parse string as a number",
            ),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    amount: {}\n",
            ("'a' (rules[0])", "amount", "give exactly one of above, at_least"),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    confidence: {below: 7}\n",
            ("'a' (rules[0])", "confidence.below", "Input should be less than or equal to 1"),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    fields: [ssn]\n    in: [tool]\n",
            ("'a' (rules[0])", None, "'in' says where keywords are looked for: only with keywords"),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    keywords: [x]\n    in: [body]\n",
            ("'a' (rules[0])", "in.0", "Input should be 'tool', 'text' or 'arguments'"),
        ),
        ("rules:\n  - risk: low\n    keywords: [x]\n", ("rules[0]", "name", "Field required")),
        (
            "rules:\n  - name: a\n    risk: low\n    keywords: [x]\n    colour: red\n",
            ("'a' (rules[0])", "colour", "unknown field"),
        ),
        (
            "rules:\n  - name: a\n    risk: low\n    when: 'amout > 3'\n",
            (
                "'a' (rules[0])",
                "when",
                "unknown variable amout in 'amout > 3'; conditions read amount, arguments, confidence, fields, metadata, text, tool",
            ),
        ),
        ("rules:\n  - just a string\n", ("rules[0]", None, "a rule is a mapping")),
    ],
)
def test_each_bad_rule_is_named_with_its_field(
    text: str, expected: tuple[str | None, str | None, str]
) -> None:
    """Each problem names the rule (by name and index) and the field at fault."""
    assert problems(text) == [expected]


def test_a_cel_syntax_error_gives_the_column() -> None:
    """A condition that does not parse is refused with the column and a pointer."""
    [(rule, field, message)] = problems(
        "rules:\n  - name: c\n    risk: low\n    when: 'amount >'\n"
    )
    assert (rule, field) == ("'c' (rules[0])", "when")
    assert "at column" in message and "^" in message


def test_every_problem_is_reported_at_once() -> None:
    """Two bad rules and a duplicate name: three problems in one error."""
    text = (
        "rules:\n"
        "  - {name: a, risk: low, keywords: [x]}\n"
        "  - {name: a, risk: low, keywords: [y]}\n"
        "  - {name: b, risk: nope, keywords: [y]}\n"
    )
    found = problems(text)
    assert found == [
        ("'a' (rules[1])", "name", "another rule has this name"),
        ("'b' (rules[2])", "risk", "Input should be 'low', 'medium', 'high' or 'critical'"),
    ]


def test_files_are_read_as_yaml_or_json(tmp_path: Path) -> None:
    """`.json` is JSON (its syntax errors named so); other names are YAML; the error's
    text starts with the file's name."""
    good = tmp_path / "p.json"
    good.write_text('{"rules": [{"name": "a", "risk": "medium", "keywords": ["x"]}]}')
    assert load_policy(good).rules[0].strategy == "confirm"
    bad = tmp_path / "bad.json"
    bad.write_text("{rules: []}")
    with pytest.raises(PolicyError, match=r"^bad.json: not valid JSON: Expecting property name"):
        load_policy(bad)
    with pytest.raises(PolicyError, match=r"missing\.yaml: cannot read"):
        load_policy(tmp_path / "missing.yaml")
    rule = tmp_path / "r.yaml"
    rule.write_text("rules:\n  - {name: a, risk: low, amount: {above: x}}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(rule)
    assert str(caught.value) == (
        "r.yaml: rule 'a' (rules[0]): field amount.above: Input should be a valid number, "
        "unable to parse string as a number"
    )


def test_the_default_rules_load() -> None:
    """The rules shipped with the package load and cover every strategy."""
    policy = load_policy(DEFAULT_RULES)
    assert {r.strategy.value for r in policy.rules} >= {"confirm", "approve", "escalate", "mfa"}
    assert (policy.default_risk, policy.default_strategy) == ("low", "auto")


def test_guard_loads_a_policy_path_once_and_names_a_missing_one(tmp_path: Path) -> None:
    """guard(policy="rules.yaml") reuses the loaded policy until the file changes; a
    missing file is a PolicyError naming it, before anything runs."""
    import inloop
    from inloop.policies import _flow

    file = tmp_path / "rules.yaml"
    file.write_text("rules:\n  - {name: a, risk: low, keywords: [x]}\n")
    assert _flow.as_policy(str(file)) is _flow.as_policy(file)
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read"):
        inloop.guard({"tool": "x"}, run=pytest.fail, policy=tmp_path / "nope.yaml")
