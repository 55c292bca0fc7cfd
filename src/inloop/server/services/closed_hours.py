"""What closed in each past hour, read from the store once per process: the counts and
the answer times that the figures of long windows are made of.

A resolved request never changes again (its resolution, resolution time and deadline are
final), so what closed in an hour that ended more than :data:`SEAL` ago is final too: a
30-day window reads its 720 sealed hours from here and only its two ragged ends (the
part of the first hour after ``since``, the last minutes up to ``until``) from the
store. Hours are read in runs, the first call of a window filling every hour it lacks;
what each span of hours adds up to is kept too, so a page reads its sums and one sorted
list rather than adding 720 hours again.

The premise is that a request's ``resolved_at`` is the time it was written at, give or
take :data:`SEAL` (the clocks of the replicas that write). Nothing deletes requests.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from heapq import merge

from sqlalchemy import Connection

from inloop.server.store import stats as sql
from inloop.server.store.database import Database

SEAL = timedelta(minutes=5)
MAX_HOURS = 24 * 400  # the longest window (365 days) and then some
MAX_SPANS = 16  # a few windows (1d, 7d, 30d...) each at one or two spans at a time


@dataclass(frozen=True)
class Closed:
    """What closed in a range: the counts, and every answer's time in seconds, sorted."""

    counts: sql.Closed
    seconds: Sequence[float]


def _hour(number: int) -> datetime:
    return datetime.fromtimestamp(number * 3600, UTC)


def _hour_number(at: datetime, *, up: bool) -> int:
    seconds = at.timestamp() / 3600
    return math.ceil(seconds) if up else math.floor(seconds)


class ClosedHours:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._hours: OrderedDict[int, Closed] = OrderedDict()
        self._spans: OrderedDict[tuple[int, int], Closed] = OrderedDict()

    async def between(self, since: datetime, until: datetime) -> Closed:
        """What closed in [since, until], ``until`` being now (or close to it)."""
        first = _hour_number(since, up=True)
        last = _hour_number(until - SEAL, up=False)  # sealed: [first, last)
        if last <= first:
            return await self.db.read(_live, since, until)
        span = await self._span(first, last)
        head, tail = await self.db.read(_ends, since, _hour(first), _hour(last), until)
        counts = head.counts + span.counts + tail.counts
        ends = list(merge(head.seconds, tail.seconds))
        return Closed(counts, _Union(span.seconds, ends))

    async def _span(self, first: int, last: int) -> Closed:
        key = (first, last)
        if (found := self._spans.get(key)) is not None:
            self._spans.move_to_end(key)
            return found
        await self._fill(first, last)
        hours = [self._hours[h] for h in range(first, last)]
        for h in range(first, last):
            self._hours.move_to_end(h)
        counts = sum((h.counts for h in hours), sql.NOTHING_CLOSED)
        span = Closed(counts, array("d", sorted(v for h in hours for v in h.seconds)))
        self._spans[key] = span
        while len(self._spans) > MAX_SPANS:
            self._spans.popitem(last=False)
        while len(self._hours) > MAX_HOURS:
            self._hours.popitem(last=False)
        return span

    async def _fill(self, first: int, last: int) -> None:
        """Read the hours of [first, last) not kept yet, a run of missing hours a read."""
        runs: list[tuple[int, int]] = []
        for h in range(first, last):
            if h in self._hours:
                continue
            if runs and runs[-1][1] == h:
                runs[-1] = (runs[-1][0], h + 1)
            else:
                runs.append((h, h + 1))
        for start, end in runs:
            counts, seconds = await self.db.read(_by_hour, _hour(start), _hour(end))
            for h in range(start, end):
                self._hours[h] = Closed(
                    counts.get(h, sql.NOTHING_CLOSED), array("d", seconds.get(h, ()))
                )


def _live(conn: Connection, since: datetime, until: datetime) -> Closed:
    return Closed(sql.closed_between(conn, since, until), sql.answer_seconds(conn, since, until))


def _ends(
    conn: Connection, since: datetime, first: datetime, last: datetime, until: datetime
) -> tuple[Closed, Closed]:
    """[since, first) and [last, until]: the parts of a window around its sealed hours."""
    head = Closed(
        sql.closed_between(conn, since, first, inclusive=False),
        sql.answer_seconds(conn, since, first, inclusive=False),
    )
    return head, _live(conn, last, until)


def _by_hour(
    conn: Connection, since: datetime, until: datetime
) -> tuple[dict[int, sql.Closed], dict[int, list[float]]]:
    return sql.closed_by_hour(conn, since, until), sql.answer_seconds_by_hour(conn, since, until)


class _Union(Sequence[float]):
    """Two sorted sequences read as their sorted union, without copying the long one:
    the ``k``-th value is found by bisecting how many of it come from the short one."""

    def __init__(self, long: Sequence[float], short: Sequence[float]) -> None:
        self.long, self.short = long, short

    def __len__(self) -> int:
        return len(self.long) + len(self.short)

    def __getitem__(self, k: int) -> float:  # type: ignore[override]
        if not 0 <= k < len(self):
            raise IndexError(k)
        a, b = self.long, self.short
        low, high = max(0, k + 1 - len(a)), min(k + 1, len(b))
        while low < high:  # j values from b, k + 1 - j from a
            j = (low + high) // 2
            i = k + 1 - j
            if i > 0 and b[j] < a[i - 1]:
                low = j + 1
            else:
                high = j
        j = low
        i = k + 1 - j
        taken = [a[i - 1]] if i > 0 else []
        if j > 0:
            taken.append(b[j - 1])
        return max(taken)


def percentiles(ordered: Sequence[float], fractions: Sequence[float]) -> list[float | None]:
    """Each fraction of the sorted values, interpolated between the two nearest as
    PostgreSQL's ``percentile_cont`` does; None for no values."""
    if not ordered:
        return [None] * len(fractions)
    found: list[float | None] = []
    for fraction in fractions:
        position = (len(ordered) - 1) * fraction
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        found.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return found
