"""The pure domain: durations, the transition table, request rules, answers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from inloop.domain import Kind, NewRequest, Resolution, Status
from inloop.domain.durations import parse_duration
from inloop.domain.errors import ConflictError, InvalidError
from inloop.domain.ids import new_id
from inloop.domain.requests import new_record
from inloop.domain.responses import validate_response
from inloop.domain.transitions import TRANSITIONS, Action, transition

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("4h", 14400),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("2w", 1209600),
        ("PT4H", 14400),
        ("P1DT2H", 93600),
        ("PT0.5S", 0.5),
        (" 4H ", 14400),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    """Short forms and ISO 8601 both parse to the same durations."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "4", "h", "-1h", "0s", "P", "PT", "4h 30m", "1.5h"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    """A bad duration names the forms that work."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_every_open_status_can_close_and_no_closed_one_can() -> None:
    """Closing actions start only from open statuses; closed requests refuse everything."""
    for action, rule in TRANSITIONS.items():
        for status in Status:
            if status in rule.allowed_from:
                assert transition(status, action).to == rule.to
            else:
                with pytest.raises(ConflictError):
                    transition(status, action)
    assert transition(Status.ASSIGNED, Action.RESPOND).resolution == Resolution.RESPONDED
    with pytest.raises(ConflictError, match="resolved, so it cannot be answered") as caught:
        transition(Status.RESOLVED, Action.RESPOND)
    assert caught.value.code == "request_closed"
    with pytest.raises(ConflictError) as caught:
        transition(Status.PENDING, Action.RELEASE)
    assert caught.value.code == "invalid_transition"


def test_ids_sort_by_creation_time() -> None:
    """Later ids sort after earlier ones, and never collide."""
    ids = [new_id("req", NOW + timedelta(milliseconds=i)) for i in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert all(i.startswith("req_") and len(i) == 30 for i in ids)


def test_ids_in_one_millisecond_differ_and_a_forked_child_draws_its_own() -> None:
    """The random bits come from a buffer of OS randomness: ids made in the same
    millisecond never repeat, across buffer refills, and a forked child does not reuse
    the bytes its parent would use next."""
    ids = {new_id("run", NOW) for _ in range(1000)}  # 1000 ids: two and a half buffers
    assert len(ids) == 1000
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, new_id("run", NOW).encode())
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 100).decode() != new_id("run", NOW)
    os.close(read)
    os.close(write)


def test_approval_gets_default_options_and_a_title() -> None:
    """An approval without options offers approve and reject; the title is the first line."""
    new = NewRequest(prompt="Deploy v2?\nIt touches billing.", kind=Kind.APPROVAL)
    assert [o.value for o in new.options or []] == ["approve", "reject"]
    assert new.title == "Deploy v2?"


def test_seed_escalation_chain_is_accepted_and_stored_as_given() -> None:
    """Seed 001's escalation chain validates and is kept exactly as written."""
    chain = {
        "action": "escalate",
        "to": "role:senior_manager",
        "timeout": "4h",
        "final_action": "auto_reject",
    }
    new = NewRequest(
        prompt="Urgent: Approve", timeout="1h", escalation=chain, options=["approve", "reject"]
    )
    record = new_record(new, id="req_x", created_by="me", now=NOW, idempotency_key=None)
    assert record.escalation == chain
    assert record.due_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    "escalation",
    [
        {
            "action": "escalate",
            "levels": [{"to": "role:l1", "timeout": "8h"}, {"to": "role:l2", "timeout": "24h"}],
            "final_action": "auto_reject",
        },
        {"action": "retry", "max_retries": 3, "remind_every": "30m"},
        "queue",
    ],
)
def test_other_escalation_shapes_are_accepted(escalation: Any) -> None:
    """Chains of levels, retries with reminders, and single words are valid shapes."""
    NewRequest(prompt="x", timeout="1h", escalation=escalation, options=["approve", "reject"])


@pytest.mark.parametrize(
    "escalation",
    [
        {"action": "escalate", "to": "role:a", "levels": [{"to": "role:b", "timeout": "1h"}]},
        {"action": "queue", "to": "role:a"},
        {"action": "auto_reject", "max_retries": 2},
        {"action": "escalate", "to": "role:a", "final_action": "escalate"},
        {"action": "retry", "remind_every": "often"},
    ],
)
def test_incoherent_escalations_are_refused(escalation: Any) -> None:
    """Contradictory or malformed escalation policies fail validation."""
    with pytest.raises(ValidationError):
        NewRequest(prompt="x", timeout="1h", escalation=escalation, options=["approve", "reject"])


def test_fingerprint_tells_bodies_apart() -> None:
    """The same body gives the same fingerprint; any change gives another."""
    a = NewRequest(prompt="x", options=["approve", "reject"])
    assert a.fingerprint() == NewRequest(prompt="x", options=["approve", "reject"]).fingerprint()
    assert a.fingerprint() != NewRequest(prompt="x", options=["approve", "deny"]).fingerprint()


def record(**fields: Any) -> Any:
    return new_record(
        NewRequest(**fields), id="req_x", created_by="me", now=NOW, idempotency_key=None
    )


def test_answers_are_normalised_or_refused_by_kind() -> None:
    """Each kind takes its own type of answer and names the problem otherwise."""
    assert (
        validate_response(record(prompt="x", options=["approve", "reject"]), "reject") == "reject"
    )
    assert validate_response(record(prompt="x", kind="confirmation"), True) is True
    for req, bad in [
        (record(prompt="x", kind="confirmation"), "true"),
        (record(prompt="x", kind="confirmation"), 1),
        (record(prompt="x", kind="input"), ""),
        (record(prompt="x", kind="chat"), None),
        (record(prompt="x", options=["a", "b"]), "c"),
        (record(prompt="x", response_schema={"type": "object", "required": ["a"]}), {}),
    ]:
        with pytest.raises(InvalidError) as caught:
            validate_response(req, bad)
        assert caught.value.field == "response" and caught.value.code == "invalid_response"


@pytest.mark.parametrize(
    ("fields", "response", "rejection"),
    [
        ({"options": ["approve", "reject"]}, "reject", True),
        ({"options": ["approve", "reject"]}, "approve", False),
        ({"options": ["approve", "deny"]}, "deny", True),
        ({"kind": "confirmation"}, False, True),
        ({"kind": "confirmation"}, True, False),
        ({"options": ["no", "nope"], "kind": "choice"}, "no", False),
        ({"kind": "input"}, "no", False),
    ],
)
def test_rejections_are_recognised(fields: dict[str, Any], response: Any, rejection: bool) -> None:
    """A rejected approval or a denied confirmation counts as a no; a choice never does."""
    resolved = record(prompt="x", **fields).model_copy(
        update={"status": Status.RESOLVED, "resolution": Resolution.RESPONDED, "response": response}
    )
    assert resolved.is_rejection is rejection
