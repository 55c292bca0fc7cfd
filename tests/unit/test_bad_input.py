"""Bad input refused by the pure parts: durations, answers, cursors, the SDK and `ask`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from inloop.cli import app
from inloop.client import _calls
from inloop.domain import NewRequest, Resolution, Status
from inloop.domain.durations import parse_duration
from inloop.domain.errors import InvalidError
from inloop.domain.requests import Request, new_record
from inloop.domain.responses import validate_response
from inloop.server.store.requests import decode_cursor, encode_cursor

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def record(**fields: Any) -> Request:
    return new_record(
        NewRequest(**fields), id="req_1", created_by="t", now=NOW, idempotency_key=None
    )


def closed(request: Request, resolution: Resolution, response: Any) -> Request:
    return request.model_copy(
        update={"status": Status.RESOLVED, "resolution": resolution, "response": response}
    )


@pytest.mark.parametrize(
    "text", ["99999999999d", "PT999999999999999999.0S", "366d", "53w", "P" + "9" * 5000 + "D"]
)
def test_durations_past_365_days_are_a_value_error(text: str) -> None:
    """Too long for a timestamp: a ValueError that says so, never an OverflowError."""
    with pytest.raises(ValueError, match="too long") as caught:
        parse_duration(text)
    assert len(str(caught.value)) < 200


def test_365_days_is_the_longest_duration() -> None:
    """The limit itself parses."""
    assert parse_duration("365d") == parse_duration("P365D") == timedelta(days=365)


@pytest.mark.parametrize(
    ("options", "response", "resolution", "rejection"),
    [
        (["approve", "reject", "later"], "later", Resolution.RESPONDED, True),
        (["approve", "reject", "later"], "approve", Resolution.RESPONDED, False),
        (["Accept", "hold"], "Accept", Resolution.RESPONDED, False),
        (["yes", "no"], "yes", Resolution.RESPONDED, False),
        (["approve", "reject"], "reject", Resolution.RESPONDED, True),
        (["approve", "reject"], "reject", Resolution.AUTO_REJECTED, True),
        (["approve", "reject"], "approve", Resolution.AUTO_APPROVED, False),
        (["approve", "reject"], None, Resolution.TIMED_OUT, False),
    ],
)
def test_an_approval_fails_closed(
    options: list[str], response: Any, resolution: Resolution, rejection: bool
) -> None:
    """Only an approving answer is not a rejection: `later` to an approval is a no."""
    request = closed(record(prompt="Deploy?", options=options), resolution, response)
    assert request.kind == "approval"
    assert request.is_rejection is rejection


@pytest.mark.parametrize(
    ("fields", "response", "rejection"),
    [
        ({"kind": "confirmation"}, False, True),
        ({"kind": "confirmation"}, True, False),
        ({"kind": "choice", "options": ["later", "never"]}, "never", False),
        ({"kind": "input"}, "reject", False),
    ],
)
def test_other_kinds_are_rejections_only_as_a_denied_confirmation(
    fields: dict[str, Any], response: Any, rejection: bool
) -> None:
    """A confirmation answered false is a no; a choice or text never is."""
    request = closed(record(prompt="x", **fields), Resolution.RESPONDED, response)
    assert request.is_rejection is rejection


def test_a_schema_stored_before_the_checks_gives_a_422_not_a_crash() -> None:
    """A remote $ref stored by an older version: the answer is refused, nothing is fetched."""
    form = record(prompt="x", response_schema={"type": "object"})
    form.response_schema = {"$ref": "https://example.invalid/s.json"}
    with pytest.raises(InvalidError) as caught:
        validate_response(form, {"a": 1})
    assert (caught.value.code, caught.value.field) == ("invalid_response", "response")


def test_unevaluated_properties_with_pattern_properties_is_refused() -> None:
    """jsonschema matches those with Python's backtracking re: refused at creation."""
    schema = {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}
    with pytest.raises(InvalidError) as caught:
        NewRequest(prompt="x", response_schema=schema)
    assert caught.value.field == "response_schema"


def forged(*fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(fields)).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        forged(10**30, NOW.isoformat(), "req_1"),
        forged(True, NOW.isoformat(), "req_1"),
        forged(4, NOW.isoformat(), "req_1"),
        forged(0, "9999-12-31T23:59:59-14:00", "req_1"),
        forged(0, NOW.isoformat(), "r" * 41),
    ],
)
def test_decode_cursor_bounds_every_field(cursor: str) -> None:
    """Each field must be one encode_cursor could have made: else invalid_cursor."""
    with pytest.raises(InvalidError) as caught:
        decode_cursor(cursor)
    assert (caught.value.code, caught.value.field) == ("invalid_cursor", "cursor")


def test_decode_cursor_reads_what_encode_cursor_wrote() -> None:
    """The bounds let every real cursor through."""
    assert decode_cursor(encode_cursor(3, NOW, "req_" + "A" * 26)) == (3, NOW, "req_" + "A" * 26)


def test_the_sdk_sends_naive_times_as_utc() -> None:
    """A datetime without a timezone goes out with +00:00; an aware one as it is."""
    params = _calls.query(
        {
            "created_after": datetime(2020, 1, 1),  # naive on purpose
            "created_before": datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=1),
        }
    )
    assert params == {
        "created_after": "2020-01-01T00:00:00+00:00",
        "created_before": "2020-01-01T01:00:00+00:00",
    }


def test_ask_with_a_timeout_past_a_year_is_a_one_line_usage_error() -> None:
    """Exit 2 and one line on stderr, before any server is called."""
    args = ["--server", "http://127.0.0.1:9", "--token", "t", "ask", "Go?"]
    result = CliRunner().invoke(app, [*args, "--timeout", "99999999999d"])
    assert result.exit_code == 2, result.output
    assert "365 days" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
