"""Every error leaves the API as ``{"error": {"code", "message", "field"}}``, mapped here only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from inloop.domain.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from inloop.server.secrets import SecretKeyError

log = logging.getLogger("inloop.server")

STATUS = {
    InvalidError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    RateLimitedError: 429,
}


def error_body(
    code: str, message: str, field: str | None = None, details: list[Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    if details is not None:
        body["details"] = details
    return {"error": body}


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(SecretKeyError, _secret_key)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _domain(_: Request, exc: DomainError) -> JSONResponse:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field, exc.details), status, headers=headers
    )


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {})
        return JSONResponse(
            error_body("malformed_json", f"the body is not valid JSON: {detail.get('error', '')}"),
            400,
        )
    if not errors:
        return JSONResponse(error_body("validation_error", "invalid input"), 422)
    # A value that fits no branch of a union gets one error per branch: report the one
    # that got furthest into the value, which is the one that names the real mistake.
    best = max(errors, key=lambda e: len(_path(e.get("loc", ()))))
    if tuple(best.get("loc", ())) == ("body",) and best.get("type") in _NOT_AN_OBJECT:
        # What FastAPI reports when the body came without Content-Type: application/json.
        return JSONResponse(
            error_body(
                "validation_error",
                "the body must be a JSON object, sent with Content-Type: application/json",
            ),
            422,
        )
    field = ".".join(_path(best.get("loc", ()))) or None
    message = str(best.get("msg", "invalid")).removeprefix("Value error, ")
    return JSONResponse(
        error_body("validation_error", f"{field}: {message}" if field else message, field), 422
    )


_NOT_AN_OBJECT = {"dict_type", "model_type", "model_attributes_type", "missing"}
_TAGS = {"str", "int", "float", "bool", "dict", "list", "none", "json-or-python"}


def _path(loc: Any) -> list[str]:
    """("body", "escalation", "EscalationPolicy", "to") -> ["escalation", "to"]."""
    parts: list[str] = []
    for part in loc:
        text = str(part)
        if text in ("body", "query", "path", "header") and not parts:
            continue
        if "[" in text or "(" in text or text[:1].isupper() or text in _TAGS:
            continue  # a union branch's tag, not a field
        parts.append(text)
    return parts


async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    code, message = {
        404: ("not_found", "no such route"),
        405: ("method_not_allowed", str(exc.detail)),
        413: (
            "body_too_large",
            "the request body is over the server's limit (INLOOP_MAX_BODY_BYTES)",
        ),
    }.get(exc.status_code, ("http_error", str(exc.detail)))
    return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)


async def _secret_key(_: Request, exc: SecretKeyError) -> JSONResponse:
    # The server's own configuration (INLOOP_SECRET_KEY), not the caller's input; the
    # message names the setting, never a secret.
    log.error("server key: %s", exc)
    return JSONResponse(error_body("secret_key", str(exc)), 503)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The details go to the log, never to the caller: they may name tables, paths or secrets.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "the server failed to handle this request; see its log"),
        500,
    )
