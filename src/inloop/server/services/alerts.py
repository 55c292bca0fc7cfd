"""Alert rules: stored, evaluated every ``interval`` on every replica, notifying once per
breach through the outbox.

One evaluation of a due rule takes three steps. Claim: a conditional update moves its
next evaluation on (``WHERE next_eval_at = :seen``), so of several replicas only one
evaluates it in a period. Measure: the figures over the rule's window, from the read pool.
Move: ``UPDATE ... WHERE state = 'ok'`` to fire (``'firing'`` to recover), and only the
evaluation whose update matched enqueues the notice and writes the audit event, in the
same transaction; the notice's key names the breach, so even a replayed transaction
sends it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from inloop.domain import alerts as rules
from inloop.domain.alerts import (
    Alert,
    AlertEvent,
    AlertEventType,
    AlertState,
    AlertUpdate,
    Evaluation,
    NewAlert,
)
from inloop.domain.channels import ChannelKind, check_address
from inloop.domain.deliveries import Message, NewDelivery
from inloop.domain.durations import parse_duration
from inloop.domain.errors import ConflictError, DomainError, InvalidError, NotFoundError
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.monitoring import Stats
from inloop.server.services.channels import ChannelService
from inloop.server.services.clock import Clock
from inloop.server.services.deliveries import DeliveryService
from inloop.server.services.stats import StatsService
from inloop.server.store import alerts as sql
from inloop.server.store.database import Database, Tx

log = logging.getLogger(__name__)
SYSTEM = "system"
BATCH = 100
RETRY_SECONDS = 5.0


class AlertService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        stats: StatsService,
        channels: ChannelService,
        deliveries: DeliveryService,
        *,
        interval: timedelta = timedelta(minutes=1),
    ) -> None:
        self.db = db
        self.clock = clock
        self.stats = stats
        self.channels = channels
        self.deliveries = deliveries
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    # the admin API

    async def create(self, principal: Principal, new: NewAlert) -> Alert:
        principal.require()
        rule = rules.parse_rule(new.rule)
        now = self.clock.now()

        def apply(tx: Tx) -> Alert:
            to = self._check_target(tx, new.channel, new.to)
            if sql.by_name(tx.conn, new.name) is not None:
                raise ConflictError(
                    f"an alert named {new.name!r} exists already", field="name", code="name_taken"
                )
            alert_id = new_id("alr", now)
            sql.insert_rule(
                tx.conn,
                {
                    "id": alert_id,
                    "name": new.name,
                    "rule": rule.text(),
                    "metric": rule.metric,
                    "op": rule.op,
                    "threshold": rule.threshold,
                    "window": rule.window,
                    "hold": rule.hold,
                    "channel": new.channel,
                    "address": to,
                    "notify_recovery": new.notify_recovery,
                    "enabled": new.enabled,
                    "state": AlertState.OK.value,
                    "breaches": 0,
                    "next_eval_at": now,
                    "created_by": principal.actor,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            sql.add_event(
                tx.conn, alert_id, AlertEventType.CREATED, principal.actor, now,
                {"rule": rule.text(), "channel": new.channel, "to": to},
            )  # fmt: skip
            found = sql.get(tx.conn, alert_id)
            assert found is not None
            return found

        try:
            return await self.db.write(apply)
        except IntegrityError:
            raise ConflictError(
                f"an alert named {new.name!r} exists already", field="name", code="name_taken"
            ) from None

    async def list_alerts(self, principal: Principal) -> list[Alert]:
        principal.require()
        return await self.db.read(sql.list_rules)

    async def get(self, principal: Principal, alert_id: str) -> Alert:
        principal.require()
        return _found(await self.db.read(sql.get, alert_id), alert_id)

    async def events(self, principal: Principal, alert_id: str) -> list[AlertEvent]:
        principal.require()
        found = await self.db.read(sql.events_of, alert_id)
        if not found:
            _found(await self.db.read(sql.get, alert_id), alert_id)
        return found

    async def update(self, principal: Principal, alert_id: str, change: AlertUpdate) -> Alert:
        principal.require()
        given = change.model_dump(exclude_unset=True)
        rule = rules.parse_rule(change.rule) if change.rule is not None else None
        now = self.clock.now()

        def apply(tx: Tx) -> Alert:
            current = _found(sql.get(tx.conn, alert_id), alert_id)
            values: dict[str, Any] = {"updated_at": now}
            if rule is not None:
                values |= {"rule": rule.text(), "metric": rule.metric, "op": rule.op,
                           "threshold": rule.threshold, "window": rule.window,
                           "hold": rule.hold, "breached_since": None}  # fmt: skip
            if "channel" in given or "to" in given:
                channel = given.get("channel", current.channel)
                to = given.get("to", current.to)
                values |= {"channel": channel, "address": self._check_target(tx, channel, to)}
            for name in ("notify_recovery", "enabled"):
                if given.get(name) is not None:
                    values[name] = given[name]
            if rule is not None or given.get("enabled") is True:
                values["next_eval_at"] = now  # judge the new rule at once
            updated = _found(sql.set_fields(tx.conn, alert_id, values), alert_id)
            sql.add_event(
                tx.conn, alert_id, AlertEventType.UPDATED, principal.actor, now,
                {k: v for k, v in given.items()},
            )  # fmt: skip
            return updated

        return await self.db.write(apply)

    async def delete(self, principal: Principal, alert_id: str) -> None:
        principal.require()
        now = self.clock.now()

        def apply(tx: Tx) -> None:
            current = _found(sql.get(tx.conn, alert_id), alert_id)
            sql.remove(tx.conn, alert_id)
            sql.add_event(
                tx.conn, alert_id, AlertEventType.DELETED, principal.actor, now,
                {"name": current.name, "rule": current.rule},
            )  # fmt: skip

        await self.db.write(apply)

    async def evaluate_now(self, principal: Principal) -> list[Evaluation]:
        """Judge every enabled rule now, due or not (an admin's "check now")."""
        principal.require()
        every = [a for a in await self.db.read(sql.list_rules) if a.enabled]
        return await self._judge(every)

    # what the loop does

    async def evaluate(self) -> list[Evaluation]:
        """Judge the rules that are due and that this evaluator claims first, batch after
        batch until none is due."""
        results: list[Evaluation] = []
        while True:
            now = self.clock.now()
            due = await self.db.read(sql.due, now, BATCH)
            if not due:
                return results
            next_at = now + self.interval

            def claim(tx: Tx, due: list[Alert] = due, next_at: datetime = next_at) -> list[Alert]:
                return [a for a in due if sql.claim(tx.conn, a, next_at)]

            results += await self._judge(await self.db.write(claim))
            if len(due) < BATCH:
                return results

    async def _judge(self, alerts: list[Alert]) -> list[Evaluation]:
        figures: dict[str, Stats] = {}
        for window in sorted({a.window for a in alerts}):
            figures[window] = await self.stats.figures(window)
        results = []
        for alert in alerts:
            value = rules.measure(alert.metric, figures[alert.window])
            rule = rules.Rule(alert.metric, alert.op, alert.threshold, alert.window, alert.hold)
            results.append(await self.db.write(self._move, alert, value, rule.holds(value)))
        return results

    def _move(self, tx: Tx, alert: Alert, value: float | None, breached: bool) -> Evaluation:
        now = self.clock.now()
        since = sql.record_value(tx.conn, alert.id, value, now, breached=breached)
        held = alert.hold is None or (
            since is not None and now - since >= parse_duration(alert.hold)
        )
        if breached and not held:  # waiting out 'for': not firing yet
            return Evaluation(
                alert_id=alert.id, name=alert.name, value=value, breached=True, state=alert.state
            )
        if breached:
            moved = sql.move(tx.conn, alert.id, AlertState.OK, AlertState.FIRING,
                             {"fired_at": now})  # fmt: skip
        else:
            moved = sql.move(tx.conn, alert.id, AlertState.FIRING, AlertState.OK,
                             {"recovered_at": now})  # fmt: skip
        state = AlertState.FIRING if breached else AlertState.OK
        if moved is None:
            return Evaluation(
                alert_id=alert.id, name=alert.name, value=value, breached=breached, state=state
            )
        kind = AlertEventType.FIRED if breached else AlertEventType.RECOVERED
        data: dict[str, Any] = {"value": value, "rule": moved.rule, "breach": moved.breaches}
        if breached or moved.notify_recovery:
            problem = self._notify(tx, moved, kind, value, now)
            data["notice"] = problem or "enqueued"
        sql.add_event(tx.conn, alert.id, kind, SYSTEM, now, data)
        return Evaluation(
            alert_id=alert.id,
            name=alert.name,
            value=value,
            breached=breached,
            state=state,
            changed="fired" if breached else "recovered",
        )

    def _notify(
        self, tx: Tx, alert: Alert, kind: AlertEventType, value: float | None, now: datetime
    ) -> str | None:
        """Enqueue the notice; what went wrong (a channel removed since), or None."""
        record = self.channels.find(self.channels.snapshot(tx.conn), alert.channel)
        unit = rules.METRICS[alert.metric].unit
        shown = rules.describe(unit, value)
        verb = "is firing" if kind == AlertEventType.FIRED else "recovered"
        measured = f"is {shown}" if value is not None else "has no data"
        text = (
            f"Inloop alert {alert.name} {verb}: {alert.metric} {measured} over the last "
            f"{alert.window} (rule: {alert.rule}), at {now.isoformat()}."
        )
        event = {
            "type": f"alert.{kind.value}",
            "data": {
                "alert_id": alert.id,
                "name": alert.name,
                "rule": alert.rule,
                "metric": alert.metric,
                "value": value,
                "threshold": alert.threshold,
                "window": alert.window,
                "breach": alert.breaches,
                "at": now.isoformat(),
            },
        }
        webhook = record is not None and record.kind == ChannelKind.WEBHOOK
        new = NewDelivery(
            key=f"alert:{alert.id}:{alert.breaches}:{kind.value}",
            channel=alert.channel,
            to=None if webhook else alert.to,
            topic="alert",
            event=event if webhook else None,
            message=None if webhook else Message(subject=text.split(":")[0], text=text),
        )
        try:
            self.deliveries.enqueue(tx, new)
        except DomainError as exc:
            log.warning("alert %s: the notice was not enqueued: %s", alert.name, exc.message)
            return f"not sent: {exc.message}"
        return None

    def _check_target(self, tx: Tx, channel: str, to: str | None) -> str | None:
        record = self.channels.find(self.channels.snapshot(tx.conn), channel)
        if record is None:
            raise NotFoundError(
                f"no channel named {channel!r} (nor a single one of that kind)", field="channel"
            )
        if record.kind == ChannelKind.WEBHOOK:
            if to is not None:
                raise InvalidError(
                    "a webhook channel sends to its configured URL: leave 'to' out",
                    field="to",
                    code="invalid_alert",
                )
            return None
        if to is None:
            raise InvalidError(
                f"'to' is required: the {record.kind.value} address to notify",
                field="to",
                code="invalid_alert",
            )
        return check_address(record.kind, to, "to")

    # the loop inside `inloop serve`

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(self.evaluate), name="inloop-alerts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self, evaluate: Callable[[], Awaitable[list[Evaluation]]]) -> None:
        while True:
            try:
                await evaluate()
            except Exception:
                log.exception("evaluating the alert rules failed; retrying in %ss", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await asyncio.sleep(self.interval.total_seconds())


def _found(alert: Alert | None, alert_id: str) -> Alert:
    if alert is None:
        raise NotFoundError(f"no alert {alert_id!r}", field="alert_id")
    return alert
