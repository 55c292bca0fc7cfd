"""SQL for handoff tickets (read with their desk request's status) and the ticket rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from inloop.domain.tickets import Ticket, TicketPriority, TicketStatus
from inloop.server.store.schema import requests, ticket_settings, tickets

RULES_KEY = "priority_rules"

_READ = select(
    tickets,
    requests.c.status.label("request_status"),
    requests.c.resolution,
    requests.c.assigned_to,
    requests.c.response,
    requests.c.resolved_at,
).select_from(tickets.outerjoin(requests, requests.c.id == tickets.c.request_id))


def _ticket(row: Any) -> Ticket:
    data = dict(row._mapping)
    status = data.pop("request_status")
    data["status"] = TicketStatus.of_request(status or "pending", data.pop("resolution"))
    data["resolution"] = data.pop("response")
    return Ticket.model_validate(data)


def insert_ticket(conn: Connection, row: dict[str, Any]) -> int:
    """Insert; the ticket's number."""
    number: int = conn.execute(insert(tickets).returning(tickets.c.number), row).scalar_one()
    return number


def set_request(conn: Connection, ticket_id: str, request_id: str) -> None:
    conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(request_id=request_id))


def get(conn: Connection, ticket_id: str) -> Ticket | None:
    """By id (``tkt_...``), or by number (``12`` or ``#12``)."""
    number = ticket_id.removeprefix("#")
    where = tickets.c.number == int(number) if number.isdigit() else tickets.c.id == ticket_id
    row = conn.execute(_READ.where(where)).first()
    return _ticket(row) if row else None


@dataclass(frozen=True)
class TicketFilter:
    created_by: str | None = None
    session_id: str | None = None
    status: list[TicketStatus] | None = None
    priority: list[TicketPriority] | None = None
    created_after: datetime | None = None
    before_number: int | None = None  # the cursor: tickets newer first


def _filtered(query: Select[Any], where: TicketFilter) -> Select[Any]:
    c = tickets.c
    if where.created_by is not None:
        query = query.where(c.created_by == where.created_by)
    if where.session_id is not None:
        query = query.where(c.session_id == where.session_id)
    if where.priority:
        query = query.where(c.priority.in_([p.value for p in where.priority]))
    if where.created_after is not None:
        query = query.where(c.created_at >= where.created_after)
    if where.before_number is not None:
        query = query.where(c.number < where.before_number)
    if where.status:
        wanted = set(where.status)
        ors = []
        if TicketStatus.OPEN in wanted:
            ors.append(requests.c.status == "pending")
        if TicketStatus.ASSIGNED in wanted:
            ors.append(requests.c.status == "assigned")
        if TicketStatus.RESOLVED in wanted:
            ors.append((requests.c.status == "resolved") & (requests.c.resolution == "responded"))
        if TicketStatus.CLOSED in wanted:
            ors.append(
                requests.c.status.notin_(["pending", "assigned"])
                & ((requests.c.resolution.is_(None)) | (requests.c.resolution != "responded"))
            )
        query = query.where(or_(*ors))
    return query


def list_tickets(conn: Connection, where: TicketFilter, limit: int) -> list[Ticket]:
    """Newest first."""
    query = _filtered(_READ, where).order_by(tickets.c.number.desc()).limit(limit)
    return [_ticket(r) for r in conn.execute(query)]


def get_rules(conn: Connection) -> dict[str, Any] | None:
    value: dict[str, Any] | None = conn.execute(
        select(ticket_settings.c.value).where(ticket_settings.c.key == RULES_KEY)
    ).scalar()
    return value


def set_rules(conn: Connection, value: dict[str, Any], actor: str, now: datetime) -> None:
    row = {"key": RULES_KEY, "value": value, "updated_by": actor, "updated_at": now}
    done = conn.execute(
        update(ticket_settings).where(ticket_settings.c.key == RULES_KEY).values(row)
    )
    if done.rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(ticket_settings), row)
    except IntegrityError:  # another replica's first write won: overwrite it
        conn.execute(update(ticket_settings).where(ticket_settings.c.key == RULES_KEY).values(row))
