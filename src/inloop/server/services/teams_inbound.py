"""Teams' callbacks: activities from the Bot Connector (card submits and replies).

The bot's messaging endpoint gets every activity with a JWT; ``ConnectorAuth`` checks it
against the connector's published keys before anything else is read. The responder's
AAD object id is kept with the answer (``responded_via``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from inloop.domain.channels import ChannelKind, TeamsConfig
from inloop.domain.enums import Kind
from inloop.domain.errors import AuthenticationError, InvalidError
from inloop.server.channels.teams import AuthError, ConnectorAuth, read_form, ref_key
from inloop.server.services.inbound import Inbound, Refused, Sender
from inloop.server.store.channels import ChannelRecord

MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
TAGS = re.compile(r"<[^>]+>")


class TeamsInbound:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        self.auth = ConnectorAuth({})

    async def activity(
        self, name: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, Any] | None:
        record, _ = await self.inbound.channel(name, ChannelKind.TEAMS)
        config = TeamsConfig.model_validate(record.config)
        try:
            activity = json.loads(body)
            if not isinstance(activity, dict):
                raise ValueError
        except ValueError:
            raise InvalidError("the activity is not a JSON object", field="body") from None
        try:
            await self.auth.verify(
                headers.get("authorization"), activity, config, self.inbound.clock.now()
            )
        except AuthError as exc:
            raise AuthenticationError(
                f"the Bot Connector's token is not valid: {exc}", field="Authorization"
            ) from None
        if activity.get("type") != "message":
            return None
        if activity.get("id") and await self.inbound.seen(record, f"activity:{activity['id']}"):
            return None  # the connector retried an activity we handled
        sender = _sender(record, activity)
        raw = activity.get("value")
        value: dict[str, Any] = raw if isinstance(raw, dict) else {}
        asked = value.get("inloop") if isinstance(value.get("inloop"), dict) else None
        if asked is not None:
            request = await self.inbound.request(str(asked.get("request_id", "")))
            if "input" in asked:
                answer: Any = str(value.get(str(asked["input"])) or "")
            elif asked.get("form"):
                answer = read_form(request.response_schema, value)
            else:
                answer = asked.get("answer")
        else:
            request = await self._thread_request(activity)
            if request is None or request.kind not in (Kind.INPUT, Kind.CHAT):
                return None
            answer = TAGS.sub("", MENTION.sub("", str(activity.get("text") or ""))).strip()
        result = await self.inbound.answer(record, sender, request.id, answer)
        if isinstance(result, Refused):
            await self.inbound.note(
                record,
                {
                    "type": "reply",
                    "service_url": activity.get("serviceUrl"),
                    "conversation_id": (activity.get("conversation") or {}).get("id"),
                    "reply_to": activity.get("id"),
                    "text": result.message,
                },
            )
        return None

    async def _thread_request(self, activity: dict[str, Any]) -> Any:
        conversation = str((activity.get("conversation") or {}).get("id") or "")
        root = conversation.partition(";messageid=")[2] or str(activity.get("replyToId") or "")
        if not root:
            return None
        return await self.inbound.request_of_message(ref_key(root))


def _sender(record: ChannelRecord, activity: dict[str, Any]) -> Sender:
    who = activity.get("from") or {}
    user_id = str(who.get("id", ""))
    aad = str(who.get("aadObjectId") or "")
    conversation = activity.get("conversation") or {}
    data = activity.get("channelData") or {}
    via = {
        "channel": "teams",
        "channel_name": record.name,
        "user_id": user_id,
        "user_name": who.get("name") or user_id,
        "aad_object_id": aad or None,
        "tenant_id": (data.get("tenant") or {}).get("id") or conversation.get("tenantId"),
        "conversation_id": conversation.get("id"),
        "teams_channel": (data.get("channel") or {}).get("id"),
    }
    return Sender(
        address=aad or user_id, via=via, platform_ids=tuple(i for i in (aad, user_id) if i)
    )
