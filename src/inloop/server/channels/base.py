"""The one interface every channel implements, and what travels through it.

An adapter turns one delivery into the platform's request (a Slack ``chat.postMessage``,
a Bot Connector activity, an SMTP message, a Twilio message, a signed POST) and says what
came of it. It holds no state another replica needs (an access token cache at most), and
it never touches the database: the dispatcher records what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from inloop.server.channels.render import Card

#: How much of a peer's answer the delivery log keeps.
MAX_RESPONSE = 1000


class DeliveryError(Exception):
    """The peer did not take the delivery. ``retryable`` False makes it a dead letter at
    once (a refused address, a revoked token); ``retry_after`` is the peer's own wish."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        status_code: int | None = None,
        retry_after: float | None = None,
        response: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.response = None if response is None else response[:MAX_RESPONSE]


@dataclass(frozen=True)
class Sent:
    """A delivery the peer took: its reference to the message (to edit it later), the
    key it is found by when the platform calls back about it, and what it answered."""

    ref: dict[str, Any] | None = None
    ref_key: str | None = None
    status_code: int | None = None
    response: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One attempt at one delivery.

    ``card`` is the rendered request for notices and updates; ``message`` a plain text
    message; ``event`` a webhook's JSON body. ``previous`` is the reference of the message
    an update edits (None for a new message).
    """

    delivery_id: int
    key: str
    topic: str
    address: str | None
    attempt: int
    now: datetime
    card: Card | None = None
    message: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    target: dict[str, Any] | None = None  # a request's own destination (tenant, bot...)


class Adapter(Protocol):
    """A channel kind's sender, built from one channel's settings and secrets."""

    async def deliver(self, out: Outgoing) -> Sent: ...

    async def aclose(self) -> None: ...


def excerpt(text: str) -> str:
    return text[:MAX_RESPONSE]
