"""The pure escalation maths and routing choice, with no store and no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from inloop.domain.enums import Presence
from inloop.domain.escalation import Escalate, Remind, Requeue, Resolve, level_timeout, on_timeout
from inloop.domain.routing import choose, effective_presence
from inloop.domain.transitions import Action

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AWAY = timedelta(minutes=15)


def step(escalation: object, level: int = 0, reminders: int = 0) -> object:
    return on_timeout(
        escalation, level=level, reminders=reminders, default_to="role:admin", timeout="1h"
    )


@pytest.mark.parametrize(
    ("escalation", "expected"),
    [
        (None, Resolve(Action.TIME_OUT)),
        ("auto_approve", Resolve(Action.AUTO_APPROVE)),
        ("auto_reject", Resolve(Action.AUTO_REJECT)),
        ("queue", Requeue()),
        ("escalate", Escalate("role:admin", 1, None)),
        ("retry", Remind(1)),
        (
            {"action": "escalate", "to": "role:sm", "timeout": "4h", "final_action": "auto_reject"},
            Escalate("role:sm", 1, "4h"),
        ),
        ({"action": "escalate", "to": "role:sm"}, Escalate("role:sm", 1, "1h")),
        ({"action": "retry", "max_retries": 1}, Remind(1)),
    ],
)
def test_first_timeout(escalation: object, expected: object) -> None:
    """What the first timeout leads to, for each form of policy."""
    assert step(escalation) == expected


def test_chains_walk_their_levels_then_the_final_action() -> None:
    """Each level hands over to the next; past the last comes final_action (or timed_out)."""
    chain = {
        "action": "escalate",
        "levels": [{"to": "role:a", "timeout": "2h"}, {"to": "role:b", "timeout": "3h"}],
        "final_action": "cancel",
    }
    assert [step(chain, level) for level in range(3)] == [
        Escalate("role:a", 1, "2h"),
        Escalate("role:b", 2, "3h"),
        Resolve(Action.CANCEL),
    ]
    assert step({"action": "escalate", "to": "role:a"}, 1) == Resolve(Action.TIME_OUT)
    assert step("escalate", 1) == Resolve(Action.TIME_OUT)
    assert [level_timeout(chain, level, "1h") for level in range(4)] == ["1h", "2h", "3h", "1h"]


def test_retries_stop_at_their_limit() -> None:
    """retry reminds up to max_retries (3 by default), then the final action."""
    assert step("retry", reminders=2) == Remind(3)
    assert step("retry", reminders=3) == Resolve(Action.TIME_OUT)
    policy = {"action": "retry", "max_retries": 2, "final_action": "queue"}
    assert step(policy, reminders=2) == Requeue()


@dataclass(frozen=True)
class Human:
    handle: str
    presence: str = "online"
    capacity: int | None = None
    last_active_at: datetime | None = None


def test_round_robin_wraps_and_skips_the_unavailable() -> None:
    """After the last chosen, in handle order, skipping offline and full; then from the top."""
    pool = [Human("a"), Human("b", presence="offline"), Human("c", capacity=1), Human("d")]
    load = {"c": 1}
    picks = [
        choose("round_robin", pool, load, last=last, now=NOW, away_after=AWAY).handle
        for last in (None, "a", "d")
    ]
    assert picks == ["a", "d", "a"]


def test_least_busy_and_nobody() -> None:
    """Fewest open first (ties by handle); nobody available says why."""
    pool = [Human("a"), Human("b"), Human("c")]
    assert (
        choose(
            "least_busy", pool, {"a": 2, "b": 1, "c": 1}, last=None, now=NOW, away_after=AWAY
        ).handle
        == "b"
    )
    none = choose(
        "least_busy",
        [Human("a", presence="offline"), Human("b", capacity=0)],
        {},
        last=None,
        now=NOW,
        away_after=AWAY,
    )
    assert none.handle is None and "1 offline, 1 at capacity" in none.reason


def test_idle_online_humans_read_as_away_and_are_still_routed_to() -> None:
    """Away is not offline: an idle human still gets work."""
    idle = Human("a", last_active_at=NOW - timedelta(hours=1))
    assert effective_presence(idle.presence, idle.last_active_at, NOW, AWAY) is Presence.AWAY
    assert choose("round_robin", [idle], {}, last=None, now=NOW, away_after=AWAY).handle == "a"
