"""Replies by SMS: Twilio's signed webhook, a code bound to the sender's number.

The reply is "CODE answer" (the code of the notice), or just the answer when the number
has one open code. The code names the request and the user it was sent to; it is used up
with the answer, in one transaction. The reply to the sender is TwiML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from inloop.domain.channels import ChannelKind, SmsConfig
from inloop.domain.enums import Kind
from inloop.domain.errors import AuthenticationError
from inloop.domain.requests import Request
from inloop.server.channels import sms
from inloop.server.services.inbound import Answered, Inbound, Sender
from inloop.server.store import answer_codes as code_sql

YES = frozenset({"yes", "y", "true", "1", "ok", "approve"})
NO = frozenset({"no", "n", "false", "0", "reject"})


class SmsInbound:
    def __init__(self, inbound: Inbound, base_url: str) -> None:
        self.inbound = inbound
        self.base_url = base_url

    async def message(
        self, name: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> str:
        record, secrets = await self.inbound.channel(name, ChannelKind.SMS)
        config = SmsConfig.model_validate(record.config)
        url = self.base_url + path  # the URL Twilio was told, not the one a proxy forwards
        given = headers.get("x-twilio-signature", "")
        if not sms.valid(secrets["auth_token"], url, dict(params), given):
            raise AuthenticationError(
                "the Twilio signature is missing or wrong", field="X-Twilio-Signature"
            )
        if params.get("AccountSid") != config.account_sid:
            raise AuthenticationError(
                "the message is for another Twilio account", field="AccountSid"
            )
        if await self.inbound.seen(record, f"sms:{params.get('MessageSid', '')}"):
            return twiml(None)  # Twilio retried a message we handled
        phone, text = params.get("From", ""), params.get("Body", "").strip()
        now = self.inbound.clock.now()
        codes = await self.inbound.db.read(code_sql.open_for, record.name, phone, now)
        first, _, rest = text.partition(" ")
        code = next((c for c in codes if c.code == first.upper()), None)
        if code is not None:
            text = rest.strip()
        elif len(codes) == 1:
            code = codes[0]
        else:
            hint = (
                "Reply with the code of the question, then your answer."
                if codes
                else ("There is no open question for this number.")
            )
            return twiml(hint)
        request = await self.inbound.request(code.request_id)
        via = {"channel": "sms", "channel_name": record.name, "user_id": phone,
               "user_name": code.user_handle}  # fmt: skip
        sender = Sender(address=phone, via=via)
        result = await self.inbound.answer(
            record, sender, request.id, parse(request, text), code=code, handle=code.user_handle
        )
        if isinstance(result, Answered):
            card = await self.inbound.card(result.request)
            return twiml(f"Thank you: {card.outcome}." if card.closed else "Thank you: recorded.")
        return twiml(result.message)


def parse(request: Request, text: str) -> Any:
    """An SMS's words as the request's answer: yes/no, an option by value, label or number."""
    word = text.strip().lower()
    if request.kind == Kind.CONFIRMATION:
        return True if word in YES else False if word in NO else text
    options = request.options or []
    if options and request.kind in (Kind.APPROVAL, Kind.CHOICE):
        for index, option in enumerate(options, 1):
            if word in (option.value.lower(), (option.label or "").lower(), str(index)):
                return option.value
    return text


def twiml(text: str | None) -> str:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
