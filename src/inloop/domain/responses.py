"""Checking a human's answer against what the request asked for."""

from __future__ import annotations

from typing import Any

from inloop.domain.enums import Kind
from inloop.domain.errors import InvalidError
from inloop.domain.requests import Request

MAX_TEXT = 100_000


def validate_response(request: Request, value: Any) -> Any:
    """Return the answer as it will be stored, or raise InvalidError naming the problem."""
    kind = request.kind
    if kind in (Kind.APPROVAL, Kind.CHOICE):
        allowed = [o.value for o in request.options or []]
        if not isinstance(value, str) or value not in allowed:
            raise _invalid(f"the response must be one of {allowed}, got {value!r}")
        return value
    if kind == Kind.CONFIRMATION:
        if not isinstance(value, bool):
            raise _invalid(f"a confirmation takes true or false, got {value!r}")
        return value
    if kind in (Kind.INPUT, Kind.CHAT):
        if not isinstance(value, str) or not value.strip():
            raise _invalid(f"{kind.value} takes a non-empty string, got {value!r}")
        if len(value) > MAX_TEXT:
            raise _invalid(f"the response is longer than {MAX_TEXT} characters")
        return value
    return _validate_form(request, value)


def _validate_form(request: Request, value: Any) -> Any:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(request.response_schema or {})
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        raise InvalidError(
            f"the response does not fit the response_schema: {error.message}",
            field="response" + (f".{path}" if path else ""),
            code="invalid_response",
        )
    return value


def _invalid(message: str) -> InvalidError:
    return InvalidError(message, field="response", code="invalid_response")
