"""SQL for alert rules: rows, their audit trail, and the two conditional updates that keep
replicas from evaluating a rule twice in one period or notifying twice for one breach."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, null, select, update

from inloop.domain.alerts import Alert, AlertEvent, AlertEventType, AlertState
from inloop.server.store.schema import alert_events, alert_rules


def _alert(row: Any) -> Alert:
    values = dict(row._mapping)
    values["to"] = values.pop("address")
    return Alert.model_validate(values)


def insert_rule(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(alert_rules).values(**values))


def get(conn: Connection, alert_id: str) -> Alert | None:
    row = conn.execute(select(alert_rules).where(alert_rules.c.id == alert_id)).first()
    return _alert(row) if row is not None else None


def by_name(conn: Connection, name: str) -> Alert | None:
    row = conn.execute(select(alert_rules).where(alert_rules.c.name == name)).first()
    return _alert(row) if row is not None else None


def list_rules(conn: Connection) -> list[Alert]:
    return [_alert(r) for r in conn.execute(select(alert_rules).order_by(alert_rules.c.name))]


def set_fields(conn: Connection, alert_id: str, values: dict[str, Any]) -> Alert | None:
    row = conn.execute(
        update(alert_rules)
        .where(alert_rules.c.id == alert_id)
        .values(**values)
        .returning(*alert_rules.c)
    ).first()
    return _alert(row) if row is not None else None


def remove(conn: Connection, alert_id: str) -> bool:
    return conn.execute(delete(alert_rules).where(alert_rules.c.id == alert_id)).rowcount > 0


def due(conn: Connection, now: datetime, limit: int) -> list[Alert]:
    """Enabled rules whose evaluation is due (``ix_alert_rules_enabled_next_eval_at``)."""
    rows = conn.execute(
        select(alert_rules)
        .where(alert_rules.c.enabled.is_(True), alert_rules.c.next_eval_at <= now)
        .order_by(alert_rules.c.next_eval_at)
        .limit(limit)
    )
    return [_alert(r) for r in rows]


def claim(conn: Connection, alert: Alert, next_at: datetime) -> bool:
    """Take the evaluation of ``alert`` for this period: move its next evaluation on, if no
    other replica did since ``alert`` was read."""
    result = conn.execute(
        update(alert_rules)
        .where(
            alert_rules.c.id == alert.id,
            alert_rules.c.enabled.is_(True),
            alert_rules.c.next_eval_at == alert.next_eval_at,
        )
        .values(next_eval_at=next_at)
    )
    return result.rowcount == 1


def record_value(
    conn: Connection, alert_id: str, value: float | None, now: datetime, *, breached: bool
) -> datetime | None:
    """Store the measurement; a breach starts ``breached_since`` (kept while it lasts), a
    measurement that does not breach clears it. Since when the rule has held, or None."""
    since = func.coalesce(alert_rules.c.breached_since, now) if breached else null()
    found: datetime | None = conn.execute(
        update(alert_rules)
        .where(alert_rules.c.id == alert_id)
        .values(value=value, evaluated_at=now, breached_since=since)
        .returning(alert_rules.c.breached_since)
    ).scalar()
    return found


def move(
    conn: Connection, alert_id: str, from_: AlertState, to: AlertState, values: dict[str, Any]
) -> Alert | None:
    """``UPDATE ... WHERE state = from_``: the alert as moved, or None when it was not in
    ``from_`` (another evaluator moved it first, or it is gone)."""
    changes = dict(values, state=to.value)
    if to == AlertState.FIRING:
        changes["breaches"] = alert_rules.c.breaches + 1
    row = conn.execute(
        update(alert_rules)
        .where(alert_rules.c.id == alert_id, alert_rules.c.state == from_.value)
        .values(**changes)
        .returning(*alert_rules.c)
    ).first()
    return _alert(row) if row is not None else None


def add_event(
    conn: Connection,
    alert_id: str,
    kind: AlertEventType,
    actor: str,
    at: datetime,
    data: dict[str, Any],
) -> None:
    conn.execute(
        insert(alert_events).values(
            alert_id=alert_id, type=kind.value, actor=actor, at=at, data=data
        )
    )


def events_of(conn: Connection, alert_id: str, limit: int = 200) -> list[AlertEvent]:
    rows = conn.execute(
        select(alert_events)
        .where(alert_events.c.alert_id == alert_id)
        .order_by(alert_events.c.id.desc())
        .limit(limit)
    )
    return [AlertEvent.model_validate(dict(r._mapping)) for r in rows][::-1]
