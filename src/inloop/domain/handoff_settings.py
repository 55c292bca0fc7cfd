"""Project-wide handoff settings: the provider behind the ``hitl`` interface, the eleven
HITL keys' project values, and how consults, approver mode and the desk behave.

Set with ``inloop handoff configure --map hitl=zendesk --set key=value`` (or
``PUT /v1/handoff/settings``); stored in the database so every replica reads the same.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inloop.domain.errors import InvalidError
from inloop.domain.handoffs import DEFAULTS, MESSAGE_KEYS, HandoffConfig
from inloop.domain.specs import REF

PROVIDERS = ("desk", "webhook", "zendesk")
#: The providers this build can start sessions with (webhook and zendesk: see docs/handoff.md).
AVAILABLE = PROVIDERS
#: Settings whose values are never shown back (GET shows whether they are set).
SECRET_KEYS = frozenset({"webhook_secret", "zendesk_api_token", "zendesk_webhook_secret"})


class CannedResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=4000)


class Extras(BaseModel):
    """Inloop's own settings, beside the eleven HITL keys."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "desk"
    # Who the desk offers live handoffs and consults to (a user:, role: or team: ref, or *).
    handoff_assignee: str = "*"
    consult_assignee: str = "role:hila"
    # With no HILA online, a consult unassigned this long goes to a live agent.
    consult_transfer_after_seconds: int = Field(default=60, ge=1, le=86_400)
    # The customer may ask for a human by sending this command (null: they may not).
    user_handoff_command: str | None = Field(default="/human", max_length=100)
    approver_mode: bool = False
    approver_auto_accept_seconds: int = Field(default=30, ge=1, le=86_400)
    approver_assignee: str = "*"
    canned_responses: list[CannedResponse] = Field(
        default_factory=lambda: [
            CannedResponse(title="Greeting", text="Hello, I am here to help. One moment please."),
            CannedResponse(title="Checking", text="Let me check that for you."),
            CannedResponse(title="Anything else", text="Is there anything else I can help with?"),
        ],
        max_length=100,
    )
    # The context summary: extractive always; "llm" then asks the configured model
    # (INLOOP_LLM_URL) and replaces it when the model answers.
    summariser: str = Field(default="extractive", pattern="^(extractive|llm)$")
    # The webhook provider: your desk's endpoint and the shared secret (Standard Webhooks).
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=200)
    # The zendesk provider: https://<subdomain>.zendesk.com, an agent's email and API token,
    # and the signing secret of the Zendesk webhook that calls Inloop back.
    zendesk_url: str | None = Field(default=None, max_length=2000)
    zendesk_email: str | None = Field(default=None, max_length=320)
    zendesk_api_token: str | None = Field(default=None, max_length=200)
    zendesk_webhook_secret: str | None = Field(default=None, max_length=200)


EXTRA_DEFAULTS: dict[str, Any] = Extras().model_dump()
KEYS = frozenset(DEFAULTS) | frozenset(EXTRA_DEFAULTS)


def check_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a set of settings (some keys); the values as they will be stored."""
    unknown = sorted(set(values) - KEYS)
    if unknown:
        raise InvalidError(
            f"unknown setting {unknown[0]!r}: the settings are {', '.join(sorted(KEYS))}",
            field=unknown[0],
            code="invalid_setting",
        )
    hitl = {k: v for k, v in values.items() if k in DEFAULTS}
    extra = {k: v for k, v in values.items() if k in EXTRA_DEFAULTS}
    for key, value in hitl.items():
        if value is None and key not in MESSAGE_KEYS:
            raise InvalidError(
                f"{key} cannot be null: only the messages (on_...) can be silenced",
                field=key,
                code="invalid_setting",
            )
    try:
        checked_hitl = HandoffConfig.model_validate(hitl).given()
        checked_extra = Extras.model_validate({**EXTRA_DEFAULTS, **extra}).model_dump()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidError(f"{field}: {message}", field=field, code="invalid_setting") from None
    if "provider" in extra and checked_extra["provider"] not in PROVIDERS:
        raise InvalidError(
            f"provider {checked_extra['provider']!r} is not one of {', '.join(PROVIDERS)}",
            field="provider",
            code="invalid_setting",
        )
    if "provider" in extra and checked_extra["provider"] not in AVAILABLE:
        raise InvalidError(
            f"the {checked_extra['provider']} provider is not available in this build yet "
            f"(available: {', '.join(AVAILABLE)}); see docs/handoff.md",
            field="provider",
            code="provider_unavailable",
        )
    for key in ("handoff_assignee", "consult_assignee", "approver_assignee"):
        if key in extra and extra[key] != "*" and not REF.fullmatch(str(extra[key])):
            raise InvalidError(
                f"{key} must be *, user:<handle>, role:<name> or team:<name>",
                field=key,
                code="invalid_setting",
            )
    return {**checked_hitl, **{k: checked_extra[k] for k in extra}}


def shown(values: dict[str, Any]) -> dict[str, Any]:
    """Every setting with its value in force; secrets only say whether they are set."""
    merged = {**DEFAULTS, **EXTRA_DEFAULTS, **values}
    return {
        k: ("(set)" if merged[k] else None) if k in SECRET_KEYS else merged[k]
        for k in sorted(merged)
    }


def parse_cli_value(key: str, text: str) -> Any:
    """``--set key=value`` as typed: NULL is null, numbers and booleans are typed."""
    if text == "NULL":
        return None
    if key in (
        "agent_assigned_timeout_seconds",
        "consult_transfer_after_seconds",
        "approver_auto_accept_seconds",
    ):
        try:
            return int(text)
        except ValueError:
            raise InvalidError(f"{key} must be a whole number of seconds", field=key) from None
    if key == "canned_responses":
        import json

        try:
            return json.loads(text)
        except ValueError:
            raise InvalidError(
                'canned_responses is JSON: [{"title": ..., "text": ...}]', field=key
            ) from None
    if key in ("use_human_agent_info", "flow_on_hitl_stopped", "approver_mode"):
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise InvalidError(f"{key} must be true or false", field=key)
    return text
