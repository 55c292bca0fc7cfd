"""Policies: each rule kind, precedence, explanations, and the default rules (pure)."""

from __future__ import annotations

import pytest

from inloop.policies import Action, Risk, Strategy, default_policy, loads_policy


def decide(yaml_text: str, **action: object):  # type: ignore[no-untyped-def]
    return loads_policy(yaml_text, "t.yaml").decide(Action.model_validate(action), explain=True)


KEYWORDS = """
rules:
  - name: destructive
    risk: high
    strategy: mfa
    keywords: [delete, cancel, close account, refund*]
"""


@pytest.mark.parametrize(
    ("tool", "text", "where"),
    [
        ("delete_account", None, "tool"),
        ("deleteAccount", None, "tool"),
        ("noop", "Please DELETE my data", "text"),
        ("noop", "I want to close  my account", None),
        ("noop", "close account now", "text"),
        ("refunds_api", None, "tool"),
    ],
)
def test_keywords_match_whole_words_in_tool_text_and_arguments(
    tool: str, text: str | None, where: str | None
) -> None:
    """Keywords are case-insensitive whole words (snake_case and camelCase split), phrases
    match words in a row, and a trailing * matches a prefix."""
    decision = decide(KEYWORDS, tool=tool, text=text)
    if where is None:  # "close my account" is not the phrase "close account"
        assert decision.rule is None
        return
    assert decision.rule == "destructive" and decision.strategy == Strategy.MFA
    assert decision.matched[0].where == where
    assert f"is in {where}" in decision.reason


@pytest.mark.parametrize(
    "text", ["undelete the file", "What is your cancellation policy?", "cancelled? no: deleted"]
)
def test_keywords_do_not_match_inside_other_words(text: str) -> None:
    """'undelete' is not 'delete' and 'cancellation' is not 'cancel' (nor are 'cancelled'
    and 'deleted', unless the rule lists them)."""
    decision = decide(KEYWORDS, tool="lookup", text=text)
    assert decision.rule is None and decision.strategy == Strategy.AUTO
    destructive = decision.considered[0]  # type: ignore[index]
    assert not destructive.matched and "none of 4 keywords in tool, text" in destructive.reason


def test_keywords_look_in_argument_values_only_where_told() -> None:
    """String argument values are searched (with their path) unless `in` leaves them out."""
    found = decide(KEYWORDS, tool="update", arguments={"note": {"say": "cancel it"}})
    assert found.matched[0].where == "arguments.note.say"
    told = KEYWORDS + "    in: [tool]\n"
    assert decide(told, tool="update", arguments={"note": "cancel it"}).rule is None


AMOUNT = """
rules:
  - name: big
    risk: high
    strategy: approve
    amount: {above: 100}
  - name: exact
    risk: medium
    strategy: confirm
    amount: {at_least: 50, fields: [fee]}
"""


def test_amount_thresholds_read_the_amount_or_the_arguments() -> None:
    """`above` is strict, `at_least` is not; the action's amount wins over its arguments,
    and the explanation gives the value, where it came from and the threshold."""
    big = decide(AMOUNT, tool="pay", arguments={"price": 250})
    assert big.rule == "big" and big.reason == "arguments.price is 250, above 100"
    assert decide(AMOUNT, tool="pay", arguments={"amount": 100}).rule is None
    assert decide(AMOUNT, tool="pay", amount=100.5, arguments={"amount": 1}).rule == "big"
    fee = decide(AMOUNT, tool="pay", arguments={"fee": 50})
    assert fee.rule == "exact" and fee.reason == "arguments.fee is 50, at least 50"
    none = decide(AMOUNT, tool="pay", arguments={"price": "lots", "flag": True})
    assert none.rule is None
    assert none.considered[0].reason.startswith("no amount (looked at amount, arguments.amount")  # type: ignore[index]
    below = decide(AMOUNT, tool="pay", arguments={"amount": 99})
    assert below.considered[0].reason == "arguments.amount is 99, not above 100"  # type: ignore[index]


FIELDS = """
rules:
  - name: pii
    risk: medium
    strategy: confirm
    fields: [ssn, credit card, password]
"""


def test_personal_data_fields_match_keys_at_any_depth_and_declared_fields() -> None:
    """A key containing a field as whole words matches (customer_ssn, creditCardNumber);
    'lessons' does not contain 'ssn'; values are not field names."""
    nested = decide(FIELDS, tool="save", arguments={"customer": {"customer_ssn": "1"}})
    assert nested.rule == "pii" and nested.matched[0].where == "arguments.customer.customer_ssn"
    assert decide(FIELDS, tool="save", arguments={"creditCardNumber": "4"}).rule == "pii"
    declared = decide(FIELDS, tool="export", fields=["password"])
    assert declared.matched[0].where == "fields[password]"
    assert decide(FIELDS, tool="save", arguments={"lessons": 3, "x": "password"}).rule is None


CEL = """
rules:
  - name: vip-refund
    risk: critical
    strategy: escalate
    when: 'tool == "refund" && arguments.amount > 500 && metadata.vip'
"""


def test_cel_conditions_see_the_action() -> None:
    """A CEL condition reads tool, arguments, metadata...; missing fields read as null."""
    hit = decide(CEL, tool="refund", arguments={"amount": 900}, metadata={"vip": True})
    assert hit.rule == "vip-refund" and hit.risk == Risk.CRITICAL
    assert "holds" in hit.reason
    assert decide(CEL, tool="refund", arguments={"amount": 900}).rule is None
    assert decide(CEL, tool="refund").rule is None


def test_a_cel_condition_that_cannot_be_evaluated_matches() -> None:
    """Fail closed: a type error (string > int) does not let the action through."""
    broken = decide(CEL, tool="refund", arguments={"amount": "a lot"}, metadata={"vip": True})
    assert broken.rule == "vip-refund" and "could not be evaluated" in broken.reason


CONFIDENCE = """
rules:
  - name: unsure
    risk: high
    strategy: escalate
    confidence: {below: 0.7}
"""


def test_confidence_below_the_threshold_escalates() -> None:
    """confidence < 0.7 matches; 0.7 itself and no confidence at all do not."""
    unsure = decide(CONFIDENCE, tool="answer", confidence=0.69)
    assert unsure.strategy == Strategy.ESCALATE
    assert unsure.reason == "confidence 0.69 is below 0.7"
    assert decide(CONFIDENCE, tool="answer", confidence=0.7).rule is None
    assert decide(CONFIDENCE, tool="answer").considered[0].reason == "no confidence given"  # type: ignore[index]


PRECEDENCE = """
default: {risk: low, strategy: auto}
rules:
  - name: book
    risk: medium
    keywords: [book]
  - name: pay-approve
    risk: high
    strategy: approve
    keywords: [pay]
  - name: pay-escalate
    risk: high
    strategy: escalate
    keywords: [pay]
  - name: legal
    risk: critical
    keywords: [legal]
"""


def test_the_highest_risk_wins_then_the_rule_written_first() -> None:
    """A medium rule written first does not hide a high one; equal risks: first written.
    Every match is listed, the winner first; a rule without a strategy takes the table's."""
    both = decide(PRECEDENCE, tool="book_and_pay")
    assert both.rule == "pay-approve" and both.strategy == Strategy.APPROVE
    assert [m.rule for m in both.matched] == ["pay-approve", "pay-escalate", "book"]
    assert "also matched 'book' (medium, confirm)" in both.explain()
    assert decide(PRECEDENCE, tool="book").strategy == Strategy.CONFIRM
    legal = decide(PRECEDENCE, tool="legal_pay_book")
    assert legal.risk == Risk.CRITICAL and legal.strategy == Strategy.ESCALATE
    assert [c.rule for c in legal.considered or []] == [
        "book",
        "pay-approve",
        "pay-escalate",
        "legal",
    ]


def test_nothing_matching_takes_the_default_and_says_so() -> None:
    """No match: the policy's default, explained as such."""
    decision = loads_policy("default: {risk: medium, strategy: approve}\nrules: []\n").decide(
        Action(tool="x")
    )
    assert (decision.risk, decision.strategy, decision.rule) == (
        Risk.MEDIUM,
        Strategy.APPROVE,
        None,
    )
    assert (
        decision.explain()
        == "medium risk -> approve: no rule matched, the policy's default applies"
    )


@pytest.mark.parametrize(
    ("action", "risk", "strategy", "rule"),
    [
        ({"tool": "get_weather", "text": "What's the weather?"}, "low", "auto", None),
        ({"tool": "recommend_hotels"}, "low", "confirm", "preferences"),
        ({"tool": "book_flight", "arguments": {"to": "NYC"}}, "medium", "confirm", "transactional"),
        ({"tool": "refund_order", "arguments": {"amount": 20}}, "high", "escalate", "financial"),
        (
            {"tool": "get_advice", "text": "Is this a medical emergency?"},
            "critical",
            "escalate",
            "legal-medical",
        ),
        ({"tool": "delete_user_data"}, "high", "mfa", "destructive"),
        ({"tool": "faq", "text": "What is your cancellation policy?"}, "low", "auto", None),
        ({"tool": "buy", "arguments": {"price": 500}}, "high", "approve", "large-amount"),
        ({"tool": "save_profile", "arguments": {"ssn": "x"}}, "medium", "confirm", "personal-data"),
        ({"tool": "answer", "confidence": 0.5}, "high", "escalate", "low-confidence"),
    ],
)
def test_the_default_rules_follow_the_seeds_table(
    action: dict[str, object], risk: str, strategy: str, rule: str | None
) -> None:
    """Informational automatic; preferences and transactions confirmed; financial, legal
    and medical escalated; destructive actions need multi-factor confirmation."""
    decision = default_policy().decide(Action.model_validate(action))
    assert (decision.risk, decision.strategy, decision.rule) == (risk, strategy, rule)


def test_the_decision_carries_the_actions_digest() -> None:
    """The digest is the canonical bytes' SHA-256: key order does not change it."""
    one = Action(tool="t", arguments={"a": 1, "b": [1, 2]})
    two = Action.model_validate({"arguments": {"b": [1, 2], "a": 1}, "tool": "t"})
    assert one.digest == two.digest == default_policy().decide(one).action_digest
    assert one.canonical_bytes() == b'{"arguments":{"a":1,"b":[1,2]},"tool":"t"}'
    assert Action(tool="t", arguments={"a": 2}).digest != one.digest


def test_guarded_refuses_methods_and_positional_only_parameters() -> None:
    """A tool runs from its approved arguments alone: no self, no positional-only."""
    import inloop

    with pytest.raises(inloop.UsageError, match="not methods"):

        class Tools:
            @inloop.guarded
            def refund(self, amount: int) -> None: ...

    with pytest.raises(inloop.UsageError, match="no positional-only"):

        @inloop.guarded
        def pay(amount: int, /) -> None: ...


def test_an_action_holds_json_only() -> None:
    """Arguments JSON cannot hold, an infinite amount, a confidence over 1 or an unknown
    field are refused when the action is made; guard turns them into a UsageError."""
    import math

    from pydantic import ValidationError

    import inloop

    for bad in (
        {"tool": "t", "arguments": {"when": object()}},
        {"tool": "t", "amount": math.inf},
        {"tool": "t", "confidence": 85},
        {"tool": "t", "colour": "red"},
        {"tool": ""},
    ):
        with pytest.raises(ValidationError):
            Action.model_validate(bad)
    with pytest.raises(inloop.UsageError, match="not an action"):
        inloop.guard({"tool": "t", "confidence": 85}, run=pytest.fail)
