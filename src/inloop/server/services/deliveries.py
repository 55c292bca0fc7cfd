"""The outbox's service API: deliver this to that address over that channel, durably.

Other services call :meth:`DeliveryService.enqueue` inside their own transaction, so the
delivery commits together with the change that causes it, or not at all; the dispatcher
(``services/dispatcher.py``) sends it after the commit. The key names the intent: the same
key twice is one delivery. See docs/channels.md for the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from inloop.domain.channels import ChannelKind, check_address
from inloop.domain.deliveries import Delivery, DeliveryDetail, DeliveryStatus, NewDelivery
from inloop.domain.errors import ConflictError, InvalidError, NotFoundError
from inloop.domain.identity import Principal
from inloop.server.secrets import Keyring
from inloop.server.services.channels import ChannelService
from inloop.server.services.clock import Clock
from inloop.server.store import deliveries as sql
from inloop.server.store.database import Database, Tx
from inloop.server.store.deliveries import DeliveryFilter

MAX_REPLAY = 1000


class DeliveryService:
    def __init__(
        self, db: Database, clock: Clock, channels: ChannelService, keyring: Keyring
    ) -> None:
        self.db = db
        self.clock = clock
        self.channels = channels
        self.keyring = keyring
        #: Called after a commit that enqueued something (the dispatcher sets it).
        self.wake: Callable[[], None] = lambda: None

    def enqueue(self, tx: Tx, new: NewDelivery, *, due_at: datetime | None = None) -> int | None:
        """Add ``new`` to the outbox in the caller's transaction; its id, or None when a
        delivery with its key exists already (the same intent, enqueued before).

        Raises NotFoundError when no enabled channel answers to ``new.channel`` and
        InvalidError for an address or content the channel cannot take.
        """
        record = self.channels.find(self.channels.snapshot(tx.conn), new.channel)
        if record is None:
            raise NotFoundError(
                f"no channel named {new.channel!r} (nor a single one of that kind)",
                field="channel",
            )
        address = new.to
        if record.kind == ChannelKind.WEBHOOK:
            if address is not None:
                raise InvalidError(
                    "a webhook channel sends to its configured URL: leave 'to' out",
                    field="to",
                    code="invalid_delivery",
                )
            if new.event is None:
                raise InvalidError(
                    "a webhook channel sends an event (a JSON object)",
                    field="event",
                    code="invalid_delivery",
                )
        else:
            if address is None:
                raise InvalidError(
                    f"'to' is required: the {record.kind.value} address to send to",
                    field="to",
                    code="invalid_delivery",
                )
            address = check_address(record.kind, address, "to")
            if new.message is None:
                raise InvalidError(
                    f"a {record.kind.value} channel sends a message (text for a human)",
                    field="message",
                    code="invalid_delivery",
                )
        content = new.content()
        row = sql.row(
            key=new.key,
            channel=record.name,
            kind=record.kind.value,
            topic=new.topic,
            now=self.clock.now(),
            address=address,
            payload=None if new.sensitive else content,
            sealed=self.keyring.seal(content) if new.sensitive else None,
            request_id=new.request_id,
            user=new.user,
            due_at=due_at,
        )
        inserted = self.enqueue_rows(tx, [row])
        return inserted.get(new.key)

    def enqueue_rows(self, tx: Tx, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Trusted rows (``store.deliveries.row``) in bulk; {key: id} of the new ones."""
        inserted = sql.insert_new(tx.conn, rows)
        if inserted:
            tx.after_commit(self.wake)
        return inserted

    # the API's calls (admin)

    async def send(self, principal: Principal, new: NewDelivery) -> tuple[Delivery, bool]:
        """Enqueue ``new`` now; the delivery, and whether this call created it."""
        principal.require()

        def apply(tx: Tx) -> tuple[Delivery, bool]:
            created = self.enqueue(tx, new)
            found = sql.get(tx.conn, created) if created is not None else None
            if found is None:
                existing = sql.by_key(tx.conn, new.key)
                assert existing is not None
                return existing, False
            return found, True

        return await self.db.write(apply)

    async def get(self, principal: Principal, delivery_id: int) -> DeliveryDetail:
        principal.require()

        def read(conn: Any) -> DeliveryDetail:
            found = sql.get(conn, delivery_id)
            if found is None:
                raise NotFoundError(f"no delivery with id {delivery_id}", field="id")
            return DeliveryDetail(
                **found.model_dump(), attempts_log=sql.attempts_of(conn, delivery_id)
            )

        return await self.db.read(read)

    async def list_deliveries(
        self,
        principal: Principal,
        where: DeliveryFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        principal.require()
        if not 1 <= limit <= 500:
            raise InvalidError("limit must be between 1 and 500", field="limit")
        return await self.db.read(sql.list_deliveries, where, limit=limit, cursor=cursor)

    async def replay(self, principal: Principal, delivery_id: int) -> Delivery:
        """Send a delivered, dead or skipped delivery again, from its first retry on, with
        the same ``webhook-id`` (a receiver that had it dedupes it)."""
        principal.require()
        now = self.clock.now()

        def apply(tx: Tx) -> Delivery:
            found = sql.get(tx.conn, delivery_id)
            if found is None:
                raise NotFoundError(f"no delivery with id {delivery_id}", field="id")
            if found.status.is_open:
                raise ConflictError(
                    f"delivery {delivery_id} is {found.status.value}: it is still being "
                    "sent, so there is nothing to replay yet",
                    code="delivery_open",
                )
            if found.sensitive:
                raise ConflictError(
                    f"delivery {delivery_id} was sensitive: its content was erased once it "
                    "was done with, so it cannot be sent again",
                    code="delivery_erased",
                )
            sql.replay(tx.conn, [delivery_id], now)
            tx.after_commit(self.wake)
            replayed = sql.get(tx.conn, delivery_id)
            assert replayed is not None
            return replayed

        return await self.db.write(apply)

    async def replay_dead(
        self, principal: Principal, *, channel: str | None = None, limit: int = MAX_REPLAY
    ) -> list[int]:
        """Replay the dead letters (of one channel), oldest first; the ids replayed."""
        principal.require()
        if not 1 <= limit <= MAX_REPLAY:
            raise InvalidError(f"limit must be between 1 and {MAX_REPLAY}", field="limit")
        now = self.clock.now()

        def apply(tx: Tx) -> list[int]:
            ids = [i for i in sql.dead_ids(tx.conn, channel, limit) if not _erased(tx, i)]
            replayed = sql.replay(tx.conn, ids, now)
            if replayed:
                tx.after_commit(self.wake)
            return replayed

        return await self.db.write(apply)


def _erased(tx: Tx, delivery_id: int) -> bool:
    found = sql.get(tx.conn, delivery_id)
    return found is None or found.sensitive or found.status != DeliveryStatus.DEAD
