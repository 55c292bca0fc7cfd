"""Checking a human's answer against what the request asked for.

A form's answer is checked against its JSON Schema on the database's single writer, so
the schema must not be able to stall it: ``pattern`` and ``patternProperties`` run on
RE2 (linear time), and ``$ref`` resolves only inside the schema (no fetching).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from inloop.domain.enums import Kind
from inloop.domain.errors import InvalidError
from inloop.domain.requests import EDIT_WORDS, Request, check_payload, json_problem

MAX_TEXT = 100_000


def validate_response(request: Request, value: Any) -> Any:
    """Return the answer as it will be stored, or raise InvalidError naming the problem."""
    problem = json_problem(value)
    if problem is not None:
        where, message = problem
        raise InvalidError(
            f"the response {message}", field=_dotted("response", where), code="invalid_response"
        )
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


def validate_edited(request: Request, response: Any, edited: Any) -> dict[str, Any] | None:
    """The edited payload that goes with ``response`` (already validated), or None.

    ``edited`` is taken only when the request has a payload and the answer is modify or
    edit; such an answer must bring it. Multi-level and quorum approvals take votes, not
    edits.
    """
    edits = isinstance(response, str) and response.lower() in EDIT_WORDS
    votes = bool(request.approvals or request.quorum)
    if edited is None:
        if edits and request.payload is not None and not votes:
            raise _edited(
                f"the answer {response!r} changes the proposed action: send the changed "
                "payload as edited (a JSON object)"
            )
        return None
    if request.payload is None:
        raise _edited(f"edited goes with a request that has a payload; {request.id} has none")
    if votes:
        raise _edited(
            "edited cannot go with a multi-level or quorum approval: each answer is a vote"
        )
    if not edits:
        raise _edited(
            f"edited goes with the answer modify or edit, not {response!r}: answer modify "
            "to change the proposed action"
        )
    check_payload(edited, "edited")
    result: dict[str, Any] = edited
    return result


def _edited(message: str) -> InvalidError:
    return InvalidError(message, field="edited", code="invalid_response")


def _validate_form(request: Request, value: Any) -> Any:
    from re2 import error as RE2Error

    validator = form_validator(request.response_schema or {})
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    except (*_referencing_errors(), RE2Error, RecursionError) as exc:
        # Only a schema stored before these were refused at creation gets here.
        raise _invalid(f"the request's response_schema cannot be used: {exc}") from None
    if errors:
        error = errors[0]
        path = ".".join(str(p) for p in error.absolute_path)
        raise InvalidError(
            f"the response does not fit the response_schema: {error.message}",
            field=_dotted("response", path),
            code="invalid_response",
        )
    return value


def _invalid(message: str) -> InvalidError:
    return InvalidError(message, field="response", code="invalid_response")


def _dotted(field: str, path: str) -> str:
    return f"{field}.{path}" if path else field


def form_validator(schema: dict[str, Any]) -> Any:
    """A draft 2020-12 validator whose regexes run on RE2 and whose refs stay local."""
    from referencing import Registry

    return _validator_class()(schema, registry=Registry())


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why a (metaschema-valid) response_schema cannot be used, or None."""
    from re2 import error as RE2Error
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    root = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    uses: set[str] = set()
    for where, node, resolver in _subschemas(schema, root):
        at = f" (at {where})" if where else ""
        uses.update(k for k in ("patternProperties", "unevaluatedProperties") if k in node)
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if isinstance(ref, str):
                try:
                    resolver.lookup(ref)
                except _referencing_errors():
                    return (
                        f"{keyword} {ref!r} does not resolve inside the schema{at}: only "
                        "local references such as '#/$defs/name' are allowed"
                    )
        patterns = list(node.get("patternProperties", {}))
        if isinstance(node.get("pattern"), str):
            patterns.append(node["pattern"])
        for pattern in patterns:
            try:
                _compiled(pattern)
            except RE2Error as exc:
                reason = exc.args[0].decode() if isinstance(exc.args[0], bytes) else exc
                return (
                    f"the pattern {pattern!r} is not supported{at}: {reason} "
                    "(patterns run on RE2: no backreferences or lookarounds)"
                )
    if uses == {"patternProperties", "unevaluatedProperties"}:
        return "unevaluatedProperties cannot be combined with patternProperties"
    try:
        for _ in form_validator(schema).iter_errors(None):
            pass
    except RecursionError:
        return "its $refs loop back on themselves without consuming the answer"
    return None


_ONE = (
    "additionalProperties",
    "items",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "not",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def _subschemas(schema: Any, root: Any) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every subschema (a dict), with its path and the resolver for its base URI."""
    from referencing.jsonschema import DRAFT202012

    stack: list[tuple[str, Any, Any]] = [("", schema, root)]
    while stack:
        where, node, resolver = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$id"), str):
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        yield where, node, resolver
        children: list[tuple[str, Any]] = [(k, node[k]) for k in _ONE if k in node]
        for keyword in _MANY:
            if isinstance(node.get(keyword), list):
                children += [(f"{keyword}/{i}", s) for i, s in enumerate(node[keyword])]
        for keyword in _NAMED:
            if isinstance(node.get(keyword), dict):
                children += [(f"{keyword}/{name}", s) for name, s in node[keyword].items()]
        stack += [(f"{where}/{path}".lstrip("/"), child, resolver) for path, child in children]


def _referencing_errors() -> tuple[type[Exception], ...]:
    """What resolving a $ref can raise (the library has no common base class)."""
    from referencing import exceptions

    return (
        exceptions.Unresolvable,
        exceptions.NoSuchResource,
        exceptions.Unretrievable,
        exceptions.CannotDetermineSpecification,
        exceptions.NoInternalID,
    )


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


@functools.cache
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators

    return validators.extend(
        Draft202012Validator,
        {
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
        },
    )


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = _compiled(pattern)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = [_compiled(p) for p in schema.get("patternProperties", {})]
    extras = sorted(
        key for key in instance if key not in known and not any(p.search(key) for p in patterns)
    )
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        verb = "was" if len(extras) == 1 else "were"
        yield ValidationError(
            f"Additional properties are not allowed ({', '.join(map(repr, extras))} {verb} "
            "unexpected)"
        )
