"""What the desk reads: the queue's tabs, a page of it, and its counts.

Changes made from the desk go through the same services as the API (requests,
assignment, identity), so the same rules apply to a human as to an API key.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from inloop.domain.enums import Priority, Scope, Status
from inloop.domain.errors import PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.requests import Request
from inloop.server.store import desk as sql
from inloop.server.store.database import Database
from inloop.server.store.desk import COUNT_CAP, QueueFilter

__all__ = ["PAGE_SIZE", "DeskService", "QueueFilter", "QueuePage", "Tab"]

PAGE_SIZE = 50

MAX_OFFSET = 5000


class Tab(StrEnum):
    MINE = "mine"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True)
class QueuePage:
    items: list[Request]
    has_more: bool
    tab_counts: dict[Tab, int]
    priority_counts: dict[Priority, int]
    cap: int = COUNT_CAP


def scope_of(principal: Principal, tab: Tab, where: QueueFilter) -> QueueFilter:
    """The view's filter narrowed to the tab (and, for non-admins, to what they may see)."""
    if tab == Tab.ALL:
        if not principal.is_admin:
            raise PermissionDeniedError("the All tab is for admins", code="forbidden")
        return where
    if tab == Tab.TEAM:
        return dataclasses.replace(where, refs=[f"team:{t}" for t in sorted(principal.teams)])
    return dataclasses.replace(where, refs=sorted(principal.refs), holder=principal.handle)


class DeskService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def queue(
        self, principal: Principal, tab: Tab, where: QueueFilter, *, offset: int = 0
    ) -> QueuePage:
        principal.require(Scope.RESPONDER)
        offset = max(0, min(offset, MAX_OFFSET))
        views = {t: _try_scope(principal, t, where) for t in Tab}
        view = scope_of(principal, tab, where)

        counted = [(t, v) for t, v in views.items() if v is not None]
        # The page and each count read side by side on the read pool: the page waits for
        # the slowest of them rather than for their sum.
        (items, more), by_priority, counts = await asyncio.gather(
            self.db.read(sql.queue_page, view, offset=offset, limit=PAGE_SIZE),
            self.db.read(sql.count_by_priority, view),
            asyncio.gather(*(self.db.read(sql.count, _open_only(v)) for _, v in counted)),
        )
        tab_counts = {t: n for (t, _), n in zip(counted, counts, strict=True)}
        return QueuePage(items, more, tab_counts, by_priority)

    async def latest_event_id(self) -> int:
        """The newest event's id: a page's live stream resumes after it."""
        return await self.db.read(sql.last_event_id)


def _open_only(view: QueueFilter) -> QueueFilter:
    """A tab's count: its open requests, whatever the view's other filters."""
    return dataclasses.replace(
        view, status=(Status.PENDING, Status.ASSIGNED), kind=(), priority=(), assigned_to=None,
        q=None,
    )  # fmt: skip


def _try_scope(principal: Principal, tab: Tab, where: QueueFilter) -> QueueFilter | None:
    if tab == Tab.ALL and not principal.is_admin:
        return None
    if tab == Tab.TEAM and not principal.teams:
        return None
    return scope_of(principal, tab, where)
