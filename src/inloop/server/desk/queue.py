"""The queue: Mine, Team and All, with filters, counts and live updates (SSE)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from inloop.domain.enums import Kind, Priority, Status
from inloop.domain.errors import InvalidError
from inloop.domain.requests import Event
from inloop.domain.requests import Request as InloopRequest
from inloop.server.api.deps import ServicesDep
from inloop.server.desk import views
from inloop.server.desk.auth import SECURITY_HEADERS, DeskRoute, DeskUser, render
from inloop.server.services import Services
from inloop.server.services.desk import PAGE_SIZE, QueueFilter, QueuePage, Tab
from inloop.server.services.feed import FeedFilter, event_feed
from inloop.server.services.sessions import DeskSession

router = APIRouter(route_class=DeskRoute)
E = TypeVar("E", bound=StrEnum)
_EVENT_ID = re.compile(r"[0-9]{1,18}")
ListQuery = Annotated[list[str] | None, Query()]


def _enums(kind: type[E], values: Sequence[str] | None, field: str) -> list[E]:
    chosen = []
    for value in values or ():
        if value == "":
            continue
        try:
            chosen.append(kind(value))
        except ValueError:
            allowed = ", ".join(e.value for e in kind)
            raise InvalidError(
                f"{field} {value!r} is not one of {allowed}", field=field, code="validation_error"
            ) from None
    return chosen


def _filter(
    status: Sequence[str] | None,
    kind: Sequence[str] | None,
    priority: Sequence[str] | None,
    assignee: str | None,
    q: str | None,
) -> QueueFilter:
    statuses = _enums(Status, status, "status")
    if q is not None and len(q) > 200:
        raise InvalidError("the search is longer than 200 characters", field="q")
    if assignee is not None and len(assignee) > 100:
        raise InvalidError("assignee is longer than 100 characters", field="assignee")
    return QueueFilter(
        status=statuses or (Status.PENDING, Status.ASSIGNED),
        kind=_enums(Kind, kind, "kind"),
        priority=_enums(Priority, priority, "priority"),
        assigned_to=None if assignee in (None, "any") else ("" if assignee == "none" else assignee),
        q=q.strip() or None if q else None,
    )


async def _page(
    services: Services, session: DeskSession, tab: str, where: QueueFilter, offset: int
) -> tuple[Tab, QueuePage]:
    chosen = _enums(Tab, [tab], "tab")[0] if tab else Tab.MINE
    if where.assigned_to == "me":
        where = dataclasses.replace(where, assigned_to=session.user.handle)
    return chosen, await services.desk.queue(session.principal, chosen, where, offset=offset)


async def queue(
    request: Request,
    session: DeskUser,
    services: ServicesDep,
    tab: str = "mine",
    status: ListQuery = None,
    kind: ListQuery = None,
    priority: ListQuery = None,
    assignee: str | None = None,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0, le=5000)] = 0,
) -> Response:
    where = _filter(status, kind, priority, assignee, q)
    # Read before the page: the live stream resumes from here, so nothing is missed.
    after = await services.desk.latest_event_id()
    chosen, page = await _page(services, session, tab, where, offset)
    now = services.clock.now()
    return render(
        request,
        "queue.html",
        {
            "tab": chosen,
            "tabs": list(Tab),
            "page": page,
            "rows": [row(r, now) for r in page.items],
            "where": where,
            "assignee": assignee or "",
            "offset": offset,
            "page_size": PAGE_SIZE,
            "now": now,
            "kinds": list(Kind),
            "priorities": list(Priority),
            "statuses": list(Status),
            "after": after,
        },
    )


@router.get("/queue.json")
async def queue_json(
    request: Request,
    session: DeskUser,
    services: ServicesDep,
    tab: str = "mine",
    status: ListQuery = None,
    kind: ListQuery = None,
    priority: ListQuery = None,
    assignee: str | None = None,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0, le=5000)] = 0,
) -> Response:
    """The same view as data, for the page's live refresh (rendered with textContent)."""
    where = _filter(status, kind, priority, assignee, q)
    _, page = await _page(services, session, tab, where, offset)
    now = services.clock.now()
    body = {
        "items": [row(r, now) for r in page.items],
        "has_more": page.has_more,
        "tab_counts": {t.value: n for t, n in page.tab_counts.items()},
        "priority_counts": {p.value: n for p, n in page.priority_counts.items()},
        "cap": page.cap,
        "now": now.isoformat(),
    }
    return Response(to_json(body), media_type="application/json", headers=SECURITY_HEADERS)


def row(request: InloopRequest, now: Any) -> dict[str, Any]:
    """A queue row: only what the row shows, so the live refresh sends little."""
    return {
        "id": request.id,
        "title": request.title,
        "kind": request.kind.value,
        "priority": request.priority.value,
        "status": request.status.value,
        "assigned_to": request.assigned_to,
        "created_at": request.created_at.isoformat(),
        "created": views.relative(request.created_at, now),
        "due_at": request.due_at.isoformat() if request.due_at else None,
        "due": views.relative(request.due_at, now) if request.due_at else "",
        "answers": views.shortcut_answers(request) if request.is_open else {},
    }


@router.get("/stream")
async def stream(
    session: DeskUser,
    services: ServicesDep,
    request_id: str | None = None,
    after: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-sent events of the requests this human may see: the page refreshes on each."""
    for name, value in (("Last-Event-ID", last_event_id), ("after", after)):
        if value and not _EVENT_ID.fullmatch(value):
            raise InvalidError(f"{name} must be an event id", field=name)
    if request_id is not None:
        await services.requests.get(session.principal, request_id)  # 404 or 403 first
    # A stream replays from the database what came after the page was read (``after``),
    # or after the last event it got (a reconnect): nothing in between is missed.
    resume = last_event_id or after
    start = int(resume) if resume else await services.desk.latest_event_id()
    feed = event_feed(
        services.db, services.hub, session.principal, FeedFilter(request_id=request_id), start
    )
    return EventSourceResponse(_messages(feed), ping=15, headers={"Cache-Control": "no-store"})


async def _messages(
    feed: AsyncIterator[tuple[Event, InloopRequest]],
) -> AsyncIterator[ServerSentEvent]:
    async for event, request in feed:
        data = {
            "type": event.type.value,
            "request_id": request.id,
            "status": request.status.value,
            "actor": event.actor,
            "assigned_to": request.assigned_to,
        }
        yield ServerSentEvent(id=str(event.id), event="change", data=to_json(data).decode())
