"""``webhook``: a signed POST of a JSON event to a URL (Standard Webhooks).

Each attempt carries the same ``webhook-id`` (the delivery's key), so a receiver that
got an attempt whose answer was lost dedupes the retry; ``webhook-timestamp`` and the
signature are made afresh per attempt. A 2xx answer delivers; 410 Gone is final (the
receiver says the endpoint is gone: a dead letter at once); anything else, or no answer,
is retried with backoff, after ``Retry-After`` when the receiver sends one.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from inloop.domain.channels import WebhookConfig
from inloop.server.channels.base import DeliveryError, Outgoing, Sent, excerpt
from inloop.server.channels.signing import sign

USER_AGENT = "Inloop-Webhooks/1"


class WebhookAdapter:
    """Posts to ``url`` (or the delivery's own address: a request's callback_url)."""

    def __init__(
        self, url: str | None, secret: str, http: httpx.AsyncClient, *, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.secret = secret
        self.http = http
        self.timeout = timeout

    @classmethod
    def of(
        cls, config: WebhookConfig, secrets: dict[str, str], http: httpx.AsyncClient
    ) -> WebhookAdapter:
        return cls(str(config.url), secrets["signing_secret"], http, timeout=config.timeout)

    async def deliver(self, out: Outgoing) -> Sent:
        body = orjson.dumps(self.body(out))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **sign(self.secret, out.key, out.now, body),
        }
        url = out.address or self.url
        if url is None:
            raise DeliveryError("no URL to send to", retryable=False)
        try:
            response = await self.http.post(
                url, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise DeliveryError(f"no answer from {url} within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"could not reach {url}: {type(exc).__name__}: {exc}") from None
        text = excerpt(response.text)
        if response.is_success:
            return Sent(status_code=response.status_code, response=text)
        raise DeliveryError(
            f"{url} answered {response.status_code}",
            retryable=response.status_code != 410,
            status_code=response.status_code,
            retry_after=retry_after(response, out),
            response=text,
        )

    def body(self, out: Outgoing) -> dict[str, Any]:
        if out.event is not None:
            return out.event
        if out.message is not None:
            return {"type": "message", "timestamp": out.now.isoformat(), "data": out.message}
        raise DeliveryError("a webhook sends events or messages", retryable=False)

    async def aclose(self) -> None:
        return None


def retry_after(response: httpx.Response, out: Outgoing) -> float | None:
    """Seconds the peer asked us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - out.now).total_seconds())
    except (TypeError, ValueError):
        return None
