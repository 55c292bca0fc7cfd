"""Channel adapters: one per kind, behind ``base.Adapter``. I/O to the platforms only:
they never touch the store (the dispatcher records what they return)."""

from __future__ import annotations

from typing import Any

import httpx

from inloop.domain.channels import CONFIGS, ChannelKind
from inloop.server.channels.base import Adapter, DeliveryError, Outgoing, Sent
from inloop.server.channels.email import EmailAdapter
from inloop.server.channels.render import Card
from inloop.server.channels.slack import SlackAdapter
from inloop.server.channels.sms import SmsAdapter
from inloop.server.channels.teams import TeamsAdapter
from inloop.server.channels.webhook import WebhookAdapter

__all__ = ["Adapter", "Card", "DeliveryError", "Outgoing", "Sent", "build_adapter"]


def build_adapter(
    kind: ChannelKind,
    config: dict[str, Any],
    secrets: dict[str, str],
    http: httpx.AsyncClient,
    state: dict[str, Any],
) -> Adapter:
    """The adapter for one channel's settings; ``state`` outlives it (token caches)."""
    settings = CONFIGS[kind][0].model_validate(config)
    if kind == ChannelKind.WEBHOOK:
        return WebhookAdapter.of(settings, secrets, http)  # type: ignore[arg-type]
    if kind == ChannelKind.SLACK:
        return SlackAdapter(settings, secrets)  # type: ignore[arg-type]
    if kind == ChannelKind.TEAMS:
        return TeamsAdapter(settings, secrets, http, state)  # type: ignore[arg-type]
    if kind == ChannelKind.EMAIL:
        return EmailAdapter(settings, secrets)  # type: ignore[arg-type]
    if kind == ChannelKind.SMS:
        return SmsAdapter(settings, secrets, http)  # type: ignore[arg-type]
    raise DeliveryError(f"the {kind.value} channel cannot send yet", retryable=False)
