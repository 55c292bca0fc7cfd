"""``sms``: Twilio's Messages REST API out, signed Twilio webhooks in.

A notice ends with a short code to reply with ("Reply K7Q2 approve"); the code is valid
only from the number it was sent to. Twilio signs each incoming message with
``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the account's auth token, over the
URL Twilio called followed by each POST parameter's name and value, sorted by name. (Written
here rather than with the ``twilio`` package, which would bring ``requests`` and
``aiohttp`` for these ten lines; checked against Twilio's published example.)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from collections.abc import Mapping

import httpx

from inloop.domain.channels import SmsConfig
from inloop.domain.enums import Kind
from inloop.server.channels.base import DeliveryError, Outgoing, Sent, excerpt
from inloop.server.channels.render import Card

MAX_SMS = 640  # four segments at most
#: Twilio error codes that no retry cures (an invalid or unsubscribed number, ...).
FINAL = frozenset({21211, 21212, 21408, 21610, 21612, 21614})


class SmsAdapter:
    def __init__(self, config: SmsConfig, secrets: dict[str, str], http: httpx.AsyncClient) -> None:
        self.config = config
        self.token = secrets["auth_token"]
        self.http = http

    async def deliver(self, out: Outgoing) -> Sent:
        if not out.address:
            raise DeliveryError("no phone number to send to", retryable=False)
        if out.card is not None:
            text = compose(out.card)
        elif out.message is not None:
            text = str(out.message["text"])
        else:
            raise DeliveryError("nothing to send", retryable=False)
        sid = self.config.account_sid
        url = f"{str(self.config.api_url).rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {"To": out.address, "From": self.config.from_number, "Body": text[:MAX_SMS]}
        try:
            response = await self.http.post(
                url, data=form, auth=(sid, self.token), timeout=self.config.timeout
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"could not reach Twilio: {type(exc).__name__}: {exc}") from None
        if response.is_success:
            body = response.json()
            return Sent(ref={"sid": body.get("sid")}, status_code=response.status_code)
        code = None
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            code = int(response.json().get("code"))
        status = response.status_code
        raise DeliveryError(
            f"Twilio answered {status}" + (f" (error {code})" if code else ""),
            retryable=code not in FINAL and (status in (401, 408, 429) or status >= 500),
            status_code=status,
            response=excerpt(response.text),
        )

    async def aclose(self) -> None:
        return None


def compose(card: Card) -> str:
    text = f"Inloop: {card.title}"
    if card.prompt.strip() != card.title.strip():
        text += f"\n{card.prompt[:300]}"
    if card.kind == Kind.FORM or not card.code:
        return text + (f"\nAnswer: {card.answer_url}" if card.answer_url else f"\n{card.desk_url}")
    if card.options and card.kind not in (Kind.INPUT, Kind.CHAT):
        choices = " or ".join(f'"{card.code} {value}"' for value, _ in card.options[:6])
        return text + f"\nReply {choices}"
    return text + f'\nReply "{card.code} <your answer>"'


def signature(token: str, url: str, params: Mapping[str, str | list[str]]) -> str:
    """What Twilio puts in X-Twilio-Signature for a POST of ``params`` to ``url``."""
    signed = url
    for name in sorted(params):
        values = params[name]
        for value in sorted(values) if isinstance(values, list) else [values]:
            signed += name + value
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid(token: str, url: str, params: Mapping[str, str | list[str]], given: str) -> bool:
    return bool(given) and hmac.compare_digest(signature(token, url, params), given)
