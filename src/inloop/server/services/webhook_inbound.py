"""Answers from a system over a webhook channel: Standard Webhooks both ways.

A customer's desk (or any system holding the channel's secret) POSTs
``{"type": "request.respond", "data": {"request_id", "response", "user"}}``, signed as
Inloop signs what it sends; a replayed ``webhook-id`` is refused. The answer is the named
Inloop user's, under the same rules as the desk: the secret lets the sender speak for
users, not past their candidacy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from inloop.domain.channels import ChannelKind
from inloop.domain.errors import AuthenticationError, ConflictError, InvalidError
from inloop.domain.requests import Request
from inloop.server.channels.signing import SignatureError, verify
from inloop.server.services.inbound import Inbound, Refused, Sender, as_domain_error


class WebhookInbound:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound

    async def receive(self, name: str, body: bytes, headers: Mapping[str, str]) -> Request:
        record, secrets = await self.inbound.channel(name, ChannelKind.WEBHOOK)
        try:
            msg_id = verify([secrets["signing_secret"]], headers, body, self.inbound.clock.now())
        except SignatureError as exc:
            raise AuthenticationError(
                f"the webhook signature is not valid: {exc}", field="webhook-signature"
            ) from None
        if await self.inbound.seen(record, f"webhook:{msg_id}"):
            raise ConflictError(
                f"webhook-id {msg_id} was handled already: a replay is refused",
                field="webhook-id",
                code="replayed",
            )
        try:
            message = json.loads(body)
            data = message["data"]
            if message.get("type") != "request.respond":
                raise InvalidError(
                    "type must be request.respond", field="type", code="invalid_webhook"
                )
            request_id, user = str(data["request_id"]), str(data["user"])
            response = data["response"]
        except (ValueError, KeyError, TypeError):
            raise InvalidError(
                'the body must be {"type": "request.respond", "data": {"request_id", '
                '"response", "user"}}',
                field="data",
                code="invalid_webhook",
            ) from None
        sender = Sender(
            address=user,
            via={"channel": "webhook", "channel_name": record.name, "user_id": user,
                 "user_name": user, "webhook_id": msg_id},
        )  # fmt: skip
        result = await self.inbound.answer(record, sender, request_id, response, handle=user)
        if isinstance(result, Refused):
            raise as_domain_error(result)
        return result.request
