"""Who is told what, decided inside the transaction that changed the requests.

``Notifier.before_commit`` runs at the end of every write (``Database.before_commit``)
with the audit events the write emitted, and turns them into outbox rows in the same
transaction: webhook channels get the events they subscribe to, a request's
``callback_url`` gets its close. Rows are keyed by intent, so nothing is told twice.
"""

from __future__ import annotations

from typing import Any

from inloop.domain.channels import ChannelKind
from inloop.domain.enums import EventType
from inloop.domain.requests import Event, Request
from inloop.server.services.channels import ChannelService
from inloop.server.services.deliveries import DeliveryService
from inloop.server.services.dispatcher import CALLBACK
from inloop.server.store import deliveries as sql
from inloop.server.store.channels import ChannelRecord
from inloop.server.store.database import Tx

CLOSING = frozenset(
    {
        EventType.RESPONDED,
        EventType.CANCELLED,
        EventType.TIMED_OUT,
        EventType.AUTO_APPROVED,
        EventType.AUTO_REJECTED,
        EventType.TRANSFERRED,
    }
)


class Notifier:
    def __init__(self, channels: ChannelService, deliveries: DeliveryService) -> None:
        self.channels = channels
        self.deliveries = deliveries

    def before_commit(self, tx: Tx) -> None:
        if not tx.published:
            return
        records = [r for r in self.channels.snapshot(tx.conn) if r.enabled]
        hooks = [r for r in records if r.kind == ChannelKind.WEBHOOK and r.config.get("events")]
        callbacks = any(r.callback_url for _, r in tx.published)
        if not hooks and not callbacks:
            return
        rows: list[dict[str, Any]] = []
        for event, request in tx.published:
            rows += self._webhook_rows(hooks, event, request)
            if request.callback_url and event.type in CLOSING and not request.is_open:
                rows.append(
                    sql.row(
                        key=f"cb:{request.id}",
                        channel=CALLBACK,
                        kind=ChannelKind.WEBHOOK.value,
                        topic="request.callback",
                        now=event.at,
                        address=request.callback_url,
                        payload={"event": envelope("request.closed", event, request)},
                        request_id=request.id,
                    )
                )
        self.deliveries.enqueue_rows(tx, rows)

    @staticmethod
    def _webhook_rows(
        hooks: list[ChannelRecord], event: Event, request: Request
    ) -> list[dict[str, Any]]:
        name = f"request.{event.type.value}"
        wanted = [h for h in hooks if subscribed(h.config["events"], name)]
        if not wanted:
            return []
        body = envelope(name, event, request)
        return [
            sql.row(
                key=f"wh:{hook.name}:{event.id}",
                channel=hook.name,
                kind=ChannelKind.WEBHOOK.value,
                topic="webhook.event",
                now=event.at,
                payload={"event": body},
                request_id=request.id,
            )
            for hook in wanted
        ]


def subscribed(patterns: list[str], name: str) -> bool:
    """``*`` is everything, ``request.*`` every request event, else the exact name."""
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def envelope(name: str, event: Event, request: Request) -> dict[str, Any]:
    """A webhook's body: ``{"type", "timestamp", "data": {"event", "request"}}``."""
    return {
        "type": name,
        "timestamp": event.at.isoformat(),
        "data": {
            "event": event.model_dump(mode="json"),
            "request": request.model_dump(mode="json", exclude={"idempotency_key"}),
        },
    }
