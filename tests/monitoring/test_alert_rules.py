"""Alert rules as written: what parses, what each mistake says (pure, no store)."""

from __future__ import annotations

import pytest

from inloop.domain.alerts import Rule, describe, parse_rule
from inloop.domain.errors import InvalidError


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "window"),
    [
        ("escalation_rate > 0.15 over 7d", "escalation_rate", ">", 0.15, "7d"),
        ("timeout_rate > 0.1 over 1d", "timeout_rate", ">", 0.1, "1d"),
        ("p90_response > 2h over 1d", "p90_response", ">", 7200.0, "1d"),
        ("  Escalation_Rate >= 15%  OVER 24h ", "escalation_rate", ">=", 0.15, "24h"),
        ("p50_response < 90 over 1h", "p50_response", "<", 90.0, "1h"),
        ("sla_breaches >= 3 over 1d", "sla_breaches", ">=", 3.0, "1d"),
        ("open_requests <= 100 over PT1H", "open_requests", "<=", 100.0, "PT1H"),
    ],
)
def test_rules_parse(text: str, metric: str, op: str, threshold: float, window: str) -> None:
    assert parse_rule(text) == Rule(metric, op, threshold, window)


def test_a_rule_may_have_to_hold_for_a_while() -> None:
    rule = parse_rule("p90_response > 2h over 1d FOR 15m")
    assert rule == Rule("p90_response", ">", 7200.0, "1d", "15m")
    assert rule.text() == "p90_response > 2h over 1d for 15m"


def test_a_rule_is_written_back_in_its_own_terms() -> None:
    assert parse_rule("p90_response > 120m over 1d").text() == "p90_response > 2h over 1d"
    assert parse_rule("escalation_rate > 15% over 7d").text() == "escalation_rate > 0.15 over 7d"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the rule is empty"),
        ("> 0.15 over 7d", "starts with a metric name"),
        ("escalation_rat > 0.15 over 7d", "did you mean escalation_rate?"),
        ("happiness > 1 over 7d", "unknown metric 'happiness'"),
        ("escalation_rate 0.15 over 7d", "comes a comparison"),
        ("escalation_rate == 0.15 over 7d", "'==' is not a comparison"),
        ("escalation_rate >", "comes a threshold (a fraction such as 0.15"),
        ("escalation_rate > lots over 7d", "'lots' is not a threshold for escalation_rate"),
        ("escalation_rate > 1.5 over 7d", "'1.5' is not a rate"),
        ("p90_response > soon over 1d", "a duration such as 2h or 90m"),
        ("sla_breaches > 2.5 over 1d", "a whole number"),
        ("escalation_rate > 0.15", "comes 'over WINDOW'"),
        ("escalation_rate > 0.15 during 7d", "(not 'during')"),
        ("escalation_rate > 0.15 over", "'over' needs a window"),
        ("escalation_rate > 0.15 over a week", "the window: 'a' is not a duration"),
        ("escalation_rate > 0.15 over 7d please", "unexpected 'please' after the window"),
        ("escalation_rate > 0.15 over 7d for", "'for' needs a duration"),
        ("escalation_rate > 0.15 over 7d for ever", "'for': 'ever' is not a duration"),
        ("escalation_rate > 0.15 over 7d for 10m more", "unexpected 'more' after 'for'"),
        ("escalation_rate > 0.15 over 400d", "at most 365 days"),
        ("x" * 201, "at most 200"),
    ],
)
def test_mistakes_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_rule(text)
    assert (caught.value.code, caught.value.field) == ("invalid_alert_rule", "rule")
    assert says in caught.value.message


def test_no_data_never_breaches_and_values_read_as_people_read_them() -> None:
    rule = parse_rule("escalation_rate > 0.15 over 7d")
    assert rule.holds(0.2) and not rule.holds(0.15) and not rule.holds(None)
    assert parse_rule("escalation_rate >= 0.15 over 7d").holds(0.15)
    assert describe("rate", 0.175) == "17.5%"
    assert describe("seconds", 9000) == "2.5 h"
    assert describe("count", 3.0) == "3"
    assert describe("rate", None) == "no data"


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"alert_interval": "soon"}, "INLOOP_ALERT_INTERVAL: 'soon' is not a duration"),
        ({"metrics_cache": -1.0}, "INLOOP_METRICS_CACHE must be 0"),
    ],
)
def test_bad_monitoring_settings_are_refused_at_start(
    setting: dict[str, object], says: str
) -> None:
    from inloop.server.config import Settings

    with pytest.raises(ValueError, match=says):
        Settings(database_url="sqlite:///unused.db", **setting)  # type: ignore[arg-type]
