"""In-process notification: wakes waiting long-polls and feeds event streams after commits.

Fed by the database's commit hook in this process and, on PostgreSQL, by the relay that
listens for the other replicas' NOTIFYs. It holds no state another replica needs: a
stream that falls behind is told so and catches up from the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from inloop.domain.requests import Event, Request
from inloop.server.store.database import Published

Accept = Callable[[Event, Request], bool]


class Stream:
    """One subscriber's queue of committed events."""

    def __init__(self, accept: Accept, size: int) -> None:
        self.accept = accept
        self.queue: asyncio.Queue[tuple[Event, Request]] = asyncio.Queue(size)
        self.overflowed = False

    def offer(self, event: Event, request: Request) -> None:
        if self.overflowed or not self.accept(event, request):
            return
        try:
            self.queue.put_nowait((event, request))
        except asyncio.QueueFull:
            self.overflowed = True  # the reader drops the queue and re-reads the database


class Hub:
    """Waiters get the closed request, or None meaning "look again": see :meth:`resync`."""

    def __init__(self, stream_buffer: int = 1000) -> None:
        self._waiters: dict[str, set[asyncio.Future[Request | None]]] = {}
        self._streams: set[Stream] = set()
        self._stream_buffer = stream_buffer

    def publish(self, published: Published) -> None:
        for event, request in published:
            if not request.is_open:
                for future in self._waiters.pop(request.id, ()):
                    if not future.done():
                        future.set_result(request)
            for stream in self._streams:
                stream.offer(event, request)

    def resync(self) -> None:
        """Some commits may have gone unheard: every stream re-reads the database, every
        waiter looks at its request again."""
        for stream in self._streams:
            stream.overflowed = True
        waiting, self._waiters = self._waiters, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    @contextmanager
    def waiter(self, request_id: str) -> Iterator[asyncio.Future[Request | None]]:
        """A future resolved with the request the moment a commit closes it (or with None
        after a :meth:`resync`)."""
        future: asyncio.Future[Request | None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(request_id, set()).add(future)
        try:
            yield future
        finally:
            waiting = self._waiters.get(request_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[request_id]

    @contextmanager
    def stream(self, accept: Accept) -> Iterator[Stream]:
        stream = Stream(accept, self._stream_buffer)
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
