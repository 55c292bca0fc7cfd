"""Choosing a human from a pool: round robin and least busy, presence and capacity.

Pure: the caller passes the pool's members, their open work, the round-robin cursor and
the time; :func:`choose` returns who, or why nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from inloop.domain.enums import Presence


class Member(Protocol):
    @property
    def handle(self) -> str: ...
    @property
    def presence(self) -> str: ...
    @property
    def capacity(self) -> int | None: ...
    @property
    def last_active_at(self) -> datetime | None: ...


def effective_presence(
    presence: str, last_active_at: datetime | None, now: datetime, away_after: timedelta
) -> Presence:
    """An online human idle for longer than ``away_after`` reads as away."""
    if presence == Presence.ONLINE and last_active_at and now - last_active_at > away_after:
        return Presence.AWAY
    return Presence(presence)


@dataclass(frozen=True)
class Choice:
    handle: str | None
    reason: str  # why this one, or why nobody


def choose(
    strategy: Literal["round_robin", "least_busy"],
    members: Sequence[Member],
    open_assigned: dict[str, int],
    *,
    last: str | None,
    now: datetime,
    away_after: timedelta,
) -> Choice:
    """Pick among members that are not offline and under capacity."""
    offline = full = 0
    eligible: list[str] = []
    for member in members:
        if (
            effective_presence(member.presence, member.last_active_at, now, away_after)
            is Presence.OFFLINE
        ):
            offline += 1
        elif member.capacity is not None and open_assigned.get(member.handle, 0) >= member.capacity:
            full += 1
        else:
            eligible.append(member.handle)
    if not eligible:
        return Choice(
            None,
            f"nobody in the pool can take it: {len(members)} in the pool, "
            f"{offline} offline, {full} at capacity",
        )
    if strategy == "round_robin":
        after = [h for h in eligible if last is None or h > last]
        handle = (after or eligible)[0]
        return Choice(handle, f"round robin after {last or 'the start'}")
    handle = min(eligible, key=lambda h: (open_assigned.get(h, 0), h))
    return Choice(handle, f"least busy: {open_assigned.get(handle, 0)} open")
