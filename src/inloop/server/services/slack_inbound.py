"""Slack's callbacks: button clicks and selects, modal submissions, thread replies.

Each is checked with the channel's signing secret by ``slack_sdk``'s ``SignatureVerifier``
(HMAC-SHA256 of ``v0:timestamp:body``, the timestamp within 5 minutes of the server's
clock), before anything in it is read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from inloop.domain.channels import ChannelKind, SlackConfig
from inloop.domain.enums import Kind
from inloop.domain.errors import AuthenticationError, InvalidError
from inloop.server.channels.base import DeliveryError
from inloop.server.channels.slack import (
    ANSWER,
    OPEN,
    VIEW,
    SlackAdapter,
    read_value,
    read_view,
    ref_key,
)
from inloop.server.services.clock import Clock
from inloop.server.services.inbound import Inbound, Refused, Sender
from inloop.server.store.channels import ChannelRecord

log = logging.getLogger(__name__)


class _Seconds(SlackClock):
    """The server's clock as ``slack_sdk`` reads it (seconds since the epoch)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


class SlackInbound:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound

    async def _verified(
        self, name: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[ChannelRecord, dict[str, str]]:
        record, secrets = await self.inbound.channel(name, ChannelKind.SLACK)
        verifier = SignatureVerifier(secrets["signing_secret"], clock=_Seconds(self.inbound.clock))
        try:
            valid = verifier.is_valid_request(body, dict(headers))
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            raise AuthenticationError(
                "the Slack signature is missing, wrong, or more than 5 minutes old",
                field="X-Slack-Signature",
            )
        return record, secrets

    async def interaction(
        self, name: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """A click, a select or a modal's submission; the body Slack expects back."""
        record, secrets = await self._verified(name, body, headers)
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
        except (KeyError, IndexError, ValueError):
            raise InvalidError("no JSON payload in the interaction", field="payload") from None
        sender = _sender(record, payload)
        if payload.get("type") == "view_submission":
            return await self._submitted(record, sender, payload)
        if payload.get("type") != "block_actions" or not payload.get("actions"):
            return None
        action = payload["actions"][0]
        action_id = str(action.get("action_id", ""))
        where = payload.get("channel", {}).get("id") or sender.address
        if action_id == OPEN:
            await self._open(record, secrets, payload, str(action.get("value", "")), sender, where)
            return None
        if not action_id.startswith(ANSWER):
            return None  # the link button: Slack opens the URL itself
        raw = action.get("value") or (action.get("selected_option") or {}).get("value", "")
        try:
            request_id, value = read_value(str(raw))
        except (ValueError, KeyError, TypeError):
            raise InvalidError("the button's value is not one Inloop made", field="value") from None
        request = await self.inbound.request(request_id)
        answer: Any = value
        if request.kind == Kind.CONFIRMATION:
            answer = value == "true"
        result = await self.inbound.answer(record, sender, request_id, answer)
        if isinstance(result, Refused):
            await self._tell(record, where, sender.address, result.message)
        return None

    async def _open(
        self,
        record: ChannelRecord,
        secrets: dict[str, str],
        payload: dict[str, Any],
        request_id: str,
        sender: Sender,
        where: str,
    ) -> None:
        request = await self.inbound.request(request_id)
        if not request.is_open:
            card = await self.inbound.card(request)
            await self._tell(record, where, sender.address, f"Already closed: {card.outcome}.")
            return
        adapter = SlackAdapter(SlackConfig.model_validate(record.config), secrets)
        try:
            await adapter.open_modal(
                str(payload.get("trigger_id", "")), await self.inbound.card(request)
            )
        except DeliveryError as exc:
            log.warning("could not open the Slack modal for %s: %s", request_id, exc.message)

    async def _submitted(
        self, record: ChannelRecord, sender: Sender, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        view = payload.get("view") or {}
        if view.get("callback_id") != VIEW:
            return None
        request = await self.inbound.request(str(view.get("private_metadata", "")))
        values = (view.get("state") or {}).get("values") or {}
        try:
            answer = read_view(request.kind, request.response_schema, values)
        except (ValueError, TypeError):
            return _errors(values, "a number is expected here")
        result = await self.inbound.answer(record, sender, request.id, answer)
        if isinstance(result, Refused):
            return _errors(values, result.message, result.field)
        return None

    async def event(self, name: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """The Events API: the URL check, and replies in a notice's thread (free text)."""
        record, _ = await self._verified(name, body, headers)
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidError("the event is not JSON", field="body") from None
        if data.get("type") == "url_verification":
            return {"challenge": data.get("challenge", "")}
        if data.get("type") != "event_callback":
            return {}
        if await self.inbound.seen(record, f"event:{data.get('event_id', '')}"):
            return {}  # Slack retried an event we handled
        event = data.get("event") or {}
        thread = event.get("thread_ts")
        if (
            event.get("type") != "message"
            or event.get("subtype")
            or event.get("bot_id")
            or not thread
            or thread == event.get("ts")
        ):
            return {}
        request = await self.inbound.request_of_message(ref_key(str(event.get("channel")), thread))
        if request is None or request.kind not in (Kind.INPUT, Kind.CHAT):
            return {}
        user = str(event.get("user", ""))
        sender = Sender(
            address=user,
            via={"channel": "slack", "channel_name": record.name, "user_id": user,
                 "user_name": user, "team_id": data.get("team_id"),
                 "slack_channel": event.get("channel"), "thread_ts": thread},
            platform_ids=(user,),
        )  # fmt: skip
        result = await self.inbound.answer(record, sender, request.id, str(event.get("text", "")))
        if isinstance(result, Refused):
            await self._tell(record, str(event.get("channel")), user, result.message, thread)
        return {}

    async def _tell(
        self, record: ChannelRecord, channel: str, user: str, text: str, thread: str | None = None
    ) -> None:
        event = {"type": "ephemeral", "channel": channel, "user": user, "text": text}
        if thread:
            event["thread_ts"] = thread
        await self.inbound.note(record, event, to=channel)


def _sender(record: ChannelRecord, payload: dict[str, Any]) -> Sender:
    user = payload.get("user") or {}
    user_id = str(user.get("id", ""))
    via = {
        "channel": "slack",
        "channel_name": record.name,
        "user_id": user_id,
        "user_name": user.get("name") or user.get("username") or user_id,
        "team_id": (payload.get("team") or {}).get("id"),
        "slack_channel": (payload.get("channel") or {}).get("id"),
    }
    return Sender(address=user_id, via=via, platform_ids=(user_id,))


def _errors(values: dict[str, Any], message: str, field: str | None = None) -> dict[str, Any]:
    """Slack's way to show a modal's error beside its input."""
    blocks = list(values)
    target = next((b for b in blocks if field and b == f"field:{field}"), None)
    if target is None and field and field.startswith("response."):
        target = next((b for b in blocks if b == f"field:{field.split('.', 1)[1]}"), None)
    target = target or (blocks[0] if blocks else "answer")
    return {"response_action": "errors", "errors": {target: message[:150]}}
