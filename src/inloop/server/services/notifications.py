"""Who is told what, decided inside the transaction that changed the requests.

``Notifier.before_commit`` runs at the end of every write (``Database.before_commit``)
with the audit events the write emitted, and turns them into outbox rows in the same
transaction: webhook channels get the events they subscribe to, a request's
``callback_url`` gets its close, and people get notices:

- when a request becomes theirs to answer (created, assigned, transferred, escalated, the
  next approval stage) and on every reminder: its assignee, or else its candidates (users,
  and the members of roles and teams), on each channel where they have an enabled
  address; ``request.channels`` narrows the channels and adds destinations of its own;
- when it closes: each message already sent is updated in place (Slack, Teams) to say
  how and by whom; notices not sent yet are dropped.

A notice's key is (request, round, person, channel), the round being the escalation level
and approval stage (or the reminder's event): a write that creates and assigns a request
tells its assignee once, and a retry or a restart tells nobody twice.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from inloop.domain.channels import ChannelKind, ChannelTarget
from inloop.domain.durations import parse_duration
from inloop.domain.enums import EventType
from inloop.domain.requests import Event, Request
from inloop.server.services.answer_codes import AnswerCodes
from inloop.server.services.channels import ChannelService
from inloop.server.services.deliveries import DeliveryService
from inloop.server.services.dispatcher import CALLBACK
from inloop.server.store import answer_codes as code_sql
from inloop.server.store import channels as channel_sql
from inloop.server.store import deliveries as sql
from inloop.server.store.channels import ChannelRecord
from inloop.server.store.database import Tx

HUMAN = frozenset({ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.EMAIL, ChannelKind.SMS})
#: Channels whose messages are edited in place when the request closes.
EDITABLE = frozenset({ChannelKind.SLACK, ChannelKind.TEAMS})
NOTICE_EVENTS = frozenset(
    {
        EventType.CREATED,
        EventType.ASSIGNED,
        EventType.REASSIGNED,
        EventType.TRANSFERRED,
        EventType.ESCALATED,
        EventType.ADVANCED,
        EventType.RELEASED,
        EventType.REMINDED,
    }
)

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
    def __init__(
        self, channels: ChannelService, deliveries: DeliveryService, codes: AnswerCodes
    ) -> None:
        self.channels = channels
        self.deliveries = deliveries
        self.codes = codes

    def before_commit(self, tx: Tx) -> None:
        if not tx.published:
            return
        records = [r for r in self.channels.snapshot(tx.conn) if r.enabled]
        hooks = [r for r in records if r.kind == ChannelKind.WEBHOOK and r.config.get("events")]
        human = [r for r in records if r.kind in HUMAN]
        callbacks = any(r.callback_url for _, r in tx.published)
        if human:
            self._people(tx, human)
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

    # people

    def _people(self, tx: Tx, human: list[ChannelRecord]) -> None:
        latest: dict[str, tuple[list[Event], Request]] = {}
        for event, request in tx.published:
            events = latest.get(request.id, ([], request))[0]
            events.append(event)
            latest[request.id] = (events, request)
        closed = [
            request
            for events, request in latest.values()
            if not request.is_open and any(e.type in CLOSING for e in events)
        ]
        rows: list[dict[str, Any]] = []
        codes: dict[str, dict[str, Any]] = {}
        for events, request in latest.values():
            trigger = next((e for e in reversed(events) if e.type in NOTICE_EVENTS), None)
            if request.is_open and trigger is not None:
                new = any(e.type == EventType.CREATED for e in events)
                reason = EventType.CREATED.value if new else trigger.type.value
                rows += self._notices(tx, human, request, trigger, reason, codes)
        if closed:
            rows += self._updates(tx, human, closed)
        inserted = self.deliveries.enqueue_rows(tx, rows)
        code_sql.insert(tx.conn, [row for key, row in codes.items() if key in inserted])

    def _notices(
        self,
        tx: Tx,
        human: list[ChannelRecord],
        request: Request,
        trigger: Event,
        reason: str,
        codes: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        chosen, targets = _choice(human, request.channels)
        round_ = (
            f"e{trigger.id}"
            if trigger.type == EventType.REMINDED
            else (f"l{request.level}s{request.stage}")
        )
        refs = (
            [f"user:{request.assigned_to}"]
            if request.assigned_to
            else [c for c in request.candidates if c != "*"]
        )
        by_id = {r.id: r for r in chosen}
        rows = []
        now = trigger.at
        for reach in channel_sql.reach(tx.conn, refs, list(by_id)):
            record = by_id[reach.channel_id]
            key = f"n:{request.id}:{round_}:{reach.handle}:{record.name}"
            payload: dict[str, Any] = {"reason": reason}
            if record.kind in (ChannelKind.EMAIL, ChannelKind.SMS):
                ttl_name = "link_ttl" if record.kind == ChannelKind.EMAIL else "code_ttl"
                row = self.codes.new_row(
                    tx.conn,
                    channel=record.name,
                    request_id=request.id,
                    handle=reach.handle,
                    address=reach.address,
                    now=now,
                    ttl=_ttl(record.config.get(ttl_name)),
                    with_code=record.kind == ChannelKind.SMS,
                )
                codes[key] = row
                payload.update(
                    code_id=row["id"], code=row["code"], expires=row["expires_at"].isoformat()
                )
            rows.append(
                sql.row(
                    key=key,
                    channel=record.name,
                    kind=record.kind.value,
                    topic=sql.NOTIFY,
                    now=now,
                    address=reach.address,
                    payload=payload,
                    request_id=request.id,
                    user=reach.handle,
                )
            )
        if trigger.type != EventType.REMINDED:
            for record, target in targets:
                digest = hashlib.sha256(target.to.encode()).hexdigest()[:16]
                rows.append(
                    sql.row(
                        key=f"n:{request.id}:{round_}:to:{digest}:{record.name}",
                        channel=record.name,
                        kind=record.kind.value,
                        topic=sql.NOTIFY,
                        now=now,
                        address=target.to,
                        payload={
                            "reason": reason,
                            "target": target.model_dump(exclude_none=True),
                        },
                        request_id=request.id,
                    )
                )
        return rows

    def _updates(
        self, tx: Tx, human: list[ChannelRecord], closed: list[Request]
    ) -> list[dict[str, Any]]:
        ids = [r.id for r in closed]
        now = max(r.updated_at for r in closed)
        sql.skip_pending_notices(tx.conn, ids, now)
        editable = {r.name for r in human if r.kind in EDITABLE}
        return [
            sql.row(
                key=f"{notice.key}:closed",
                channel=notice.channel,
                kind=notice.kind,
                topic=sql.UPDATE,
                now=now,
                address=notice.address,
                payload={"reason": "closed"},
                request_id=notice.request_id,
                user=notice.user_handle,
                parent_id=notice.id,
            )
            for notice in sql.sent_notices(tx.conn, ids)
            if notice.channel in editable
        ]

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


def _choice(
    human: list[ChannelRecord], wanted: list[Any] | None
) -> tuple[list[ChannelRecord], list[tuple[ChannelRecord, ChannelTarget]]]:
    """The channels people are told on, and the request's own destinations."""
    if wanted is None:
        return human, []
    names = {w for w in wanted if isinstance(w, str)}
    chosen = [r for r in human if r.name in names or r.kind.value in names]
    targets = []
    for item in wanted:
        if isinstance(item, dict):
            target = ChannelTarget.model_validate(item)
            record = ChannelService.find(human, target.channel)
            if record is not None:
                targets.append((record, target))
    return chosen, targets


def _ttl(value: Any) -> timedelta:
    return parse_duration(str(value)) if value else timedelta(hours=72)


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
