"""Channels: where humans (and systems) are reached, how each kind is configured, and where
each user wants to be told.

A channel is a named, configured instance of a kind (``slack``, ``teams``, ``email``,
``sms``, ``webhook``). Its settings are plain; its secrets (tokens, passwords, signing
secrets) are write-only: stored encrypted, never returned, shown only as "set".
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)

from inloop.domain.durations import parse_duration
from inloop.domain.errors import InvalidError
from inloop.domain.identity import Name

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class ChannelKind(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


def _duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Settings):
    url: AnyHttpUrl
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Audit event types sent (request.created, request.responded, ...), "
        "or request.* / *; [] sends only what code delivers here.",
    )
    timeout: float = Field(default=10.0, gt=0, le=60)


class WebhookSecrets(_Settings):
    signing_secret: str | None = Field(
        default=None, description="Standard Webhooks secret (whsec_...); generated if left out."
    )


class SlackConfig(_Settings):
    api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")
    allowed_responders: list[str] | None = Field(
        default=None, description="Slack user ids allowed to answer; null: any linked user."
    )
    timeout: float = Field(default=10.0, gt=0, le=60)


class SlackSecrets(_Settings):
    bot_token: str | None = Field(default=None, description="xoxb-... (chat:write).")
    signing_secret: str | None = Field(default=None, description="The app's signing secret.")


class TeamsConfig(_Settings):
    app_id: str = Field(min_length=1, max_length=100, description="The bot's Microsoft App ID.")
    tenant_id: str | None = Field(default=None, max_length=100)
    service_url: AnyHttpUrl = AnyHttpUrl("https://smba.trafficmanager.net/teams/")
    token_url: AnyHttpUrl = AnyHttpUrl(
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    )
    openid_metadata: AnyHttpUrl = AnyHttpUrl(
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    allowed_responders: list[str] | None = Field(
        default=None, description="AAD object ids or Teams user ids allowed to answer."
    )
    timeout: float = Field(default=10.0, gt=0, le=60)


class TeamsSecrets(_Settings):
    app_password: str | None = Field(default=None, description="The bot's client secret.")


class EmailConfig(_Settings):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, max_length=320)
    from_address: str = Field(pattern=EMAIL.pattern, max_length=320)
    link_ttl: Duration = "72h"
    timeout: float = Field(default=20.0, gt=0, le=120)


class EmailSecrets(_Settings):
    password: str | None = None


class SmsConfig(_Settings):
    account_sid: str = Field(pattern=r"^AC[0-9a-zA-Z]{8,64}$")
    from_number: str = Field(pattern=E164.pattern, description="E.164, e.g. +14155550100")
    api_url: AnyHttpUrl = AnyHttpUrl("https://api.twilio.com")
    code_ttl: Duration = "24h"
    timeout: float = Field(default=10.0, gt=0, le=60)


class SmsSecrets(_Settings):
    auth_token: str | None = None


CONFIGS: dict[ChannelKind, tuple[type[_Settings], type[_Settings]]] = {
    ChannelKind.WEBHOOK: (WebhookConfig, WebhookSecrets),
    ChannelKind.SLACK: (SlackConfig, SlackSecrets),
    ChannelKind.TEAMS: (TeamsConfig, TeamsSecrets),
    ChannelKind.EMAIL: (EmailConfig, EmailSecrets),
    ChannelKind.SMS: (SmsConfig, SmsSecrets),
}
#: Secrets a channel cannot work without (a webhook's is generated when missing).
REQUIRED_SECRETS = {
    ChannelKind.SLACK: ("bot_token", "signing_secret"),
    ChannelKind.TEAMS: ("app_password",),
    ChannelKind.SMS: ("auth_token",),
}


def check_settings(
    kind: ChannelKind, config: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config (with defaults, as JSON) and secrets of a kind, or InvalidError naming the
    field (``config.url``, ``secrets.bot_token``)."""
    config_model, secrets_model = CONFIGS[kind]
    checked: list[dict[str, Any]] = []
    for where, model, values in (
        ("config", config_model, config),
        ("secrets", secrets_model, secrets),
    ):
        try:
            checked.append(model.model_validate(values).model_dump(mode="json"))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join([where, *(str(p) for p in first["loc"])])
            message = str(first["msg"]).removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields)
                message = f"a {kind.value} channel has no such setting (it has {known})"
            raise InvalidError(f"{field}: {message}", field=field, code="invalid_channel") from None
    kept = {k: v for k, v in checked[1].items() if v is not None}
    for name in REQUIRED_SECRETS.get(kind, ()):
        if name not in kept:
            raise InvalidError(
                f"secrets.{name}: a {kind.value} channel needs it",
                field=f"secrets.{name}",
                code="invalid_channel",
            )
    return checked[0], kept


class NewChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ChannelKind
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Write-only: stored encrypted, never returned."
    )


class ChannelUpdate(BaseModel):
    """Changes: config keys are merged (null removes one), secrets set (null removes)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    config: dict[str, Any] | None = None
    secrets: dict[str, str | None] | None = None


class Channel(BaseModel):
    """A channel as the API shows it: secrets only as the names of those that are set."""

    id: str
    name: str
    kind: ChannelKind
    enabled: bool
    config: dict[str, Any]
    secrets_set: list[str] = Field(description="Which secrets are set; their values never leave.")
    inbound_urls: dict[str, str] = Field(
        default_factory=dict, description="Where the platform sends callbacks (set these there)."
    )
    created_at: datetime
    updated_at: datetime


class CreatedChannel(Channel):
    """Returned once, at creation, when Inloop generated the webhook's signing secret."""

    signing_secret: str | None = None


class ChannelTarget(BaseModel):
    """A destination of its own for a request: a Slack or Teams channel, an address.

    ``allowed`` narrows who may answer from there (platform user ids, or Inloop refs
    such as ``user:alice`` and ``role:ops``); the channel's own allow-list applies too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(min_length=1, max_length=100)
    to: str = Field(min_length=1, max_length=500)
    allowed: list[str] | None = Field(default=None, max_length=200)
    tenant_id: str | None = Field(default=None, max_length=100)
    service_url: str | None = Field(default=None, max_length=500)
    bot_id: str | None = Field(default=None, max_length=100)


def _shape(value: Any) -> str:
    return "Object" if isinstance(value, dict | BaseModel) else "Text"


ChannelChoice = Annotated[
    Annotated[str, Field(min_length=1, max_length=100), Tag("Text")]
    | Annotated[ChannelTarget, Tag("Object")],
    Discriminator(_shape),
]


class UserChannel(BaseModel):
    """Where a user is reached on a channel, and whether they want to be told there."""

    channel: str
    kind: ChannelKind
    address: str
    enabled: bool
    updated_at: datetime


class UserChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        min_length=1,
        max_length=320,
        description="Slack user id (U...), Teams user or AAD object id, email, E.164 phone.",
    )
    enabled: bool = True


def check_address(kind: ChannelKind, address: str, field: str = "address") -> str:
    """Refuse an address that cannot be one on this kind of channel."""
    address = address.strip()
    if kind == ChannelKind.EMAIL and not EMAIL.fullmatch(address):
        raise InvalidError(f"{address!r} is not an email address", field=field)
    if kind == ChannelKind.SMS and not E164.fullmatch(address):
        raise InvalidError(
            f"{address!r} is not a phone number in E.164 form (such as +14155550100)",
            field=field,
        )
    if kind == ChannelKind.SLACK and not re.fullmatch(r"[UWCDG][A-Z0-9]{2,30}", address):
        raise InvalidError(
            f"{address!r} is not a Slack id (U... for a user, C... for a channel)", field=field
        )
    if kind == ChannelKind.WEBHOOK:
        raise InvalidError(
            "a webhook channel sends to its own URL: it has no addresses", field=field
        )
    return address
