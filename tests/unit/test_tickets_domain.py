"""The pure parts of sessions, tickets and confirmations: the shallow merge and its diff,
the priority rules' choice, canonical JSON."""

from __future__ import annotations

import pytest

from inloop.domain.agent_sessions import merge
from inloop.domain.confirmations import NewConfirmation, canonical_json, digest
from inloop.domain.errors import InvalidError
from inloop.domain.tickets import DEFAULT_RULES, TicketRules, choose_priority


def test_merge_keeps_other_keys_and_reports_only_changes() -> None:
    state, diff = merge({"a": 1, "b": 2}, {"b": 2, "c": None, "a": 3})
    assert state == {"a": 3, "b": 2, "c": None}
    assert diff == {"a": {"from": 1, "to": 3}, "c": {"from": None, "to": None}}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("PAYMENT declined", ("urgent", "payment_or_security")),
        ("security", ("urgent", "payment_or_security")),
        ("a complaint and a payment", ("urgent", "payment_or_security")),  # order wins
        ("frustrated customer", ("high", "complaint_or_frustration")),
        ("Frustration", ("high", "complaint_or_frustration")),
        ("where is my parcel", ("normal", None)),
    ],
)
def test_the_default_rules(reason: str, expected: tuple[str, str | None]) -> None:
    assert choose_priority(DEFAULT_RULES, {"reason": reason}) == expected


def test_a_rule_reads_only_the_fields_it_names() -> None:
    rules = TicketRules.model_validate(
        {"rules": [{"name": "big", "keywords": ['"amount": 5000'], "priority": "urgent",
                    "fields": ["action"]}], "default_priority": "low"}
    )  # fmt: skip
    assert choose_priority(rules, {"reason": "x", "action": {"amount": 5000}}) == ("urgent", "big")
    assert choose_priority(rules, {"reason": '"amount": 5000', "action": None}) == ("low", None)


def test_duplicate_rule_names_are_refused_with_the_field() -> None:
    with pytest.raises(InvalidError) as refused:
        TicketRules.model_validate(
            {"rules": [{"name": "a", "keywords": ["x"], "priority": "low"},
                       {"name": "a", "keywords": ["y"], "priority": "high"}]}
        )  # fmt: skip
    assert refused.value.field == "rules.1.name"


def test_canonical_json_is_one_text_per_value() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "ü"]}) == '{"a":[true,null,"ü"],"b":1}'
    assert digest(canonical_json({"x": 1})) == digest('{"x":1}')
    with pytest.raises(InvalidError) as refused:
        NewConfirmation(session_id="s", action={"n": float("nan")})
    assert refused.value.field == "action"
