"""A live server (uvicorn in a thread, on the test's database) and a scripted human."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import inloop
from tests.support import ADMIN_TOKEN

#: What the scripted human does with a request: keyword arguments of Client.respond
#: (``response``, ``comment``, ``edited``), or None to cancel it.
Decision = Callable[[inloop.Request], dict[str, Any] | None]


@pytest.fixture
def live(services) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app on a real socket, so that the blocking Client and the SSE stream work."""
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app

    served = ThreadedServer().start(create_app(services.settings, services=services))
    yield served.url
    served.stop()


@pytest.fixture
def client(live: str) -> Iterator[inloop.Client]:
    with inloop.Client(live, ADMIN_TOKEN) as made:
        yield made


@pytest.fixture
def human(live: str) -> Iterator[Callable[[Decision], Human]]:
    started: list[Human] = []

    def start(decide: Decision) -> Human:
        person = Human(live, decide)
        started.append(person)
        return person

    yield start
    for person in started:
        person.join()


class Human:
    """Answers the first open request on the server (seen on the event stream, from its
    beginning, so a request created before the stream connects is not missed)."""

    def __init__(self, url: str, decide: Decision) -> None:
        self.url = url
        self.decide = decide
        self.seen: inloop.Request | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with inloop.Client(self.url, ADMIN_TOKEN) as client:
                for _event, created in client.stream_events(types=["created"], last_event_id="0"):
                    request = client.get(created.id)
                    if not request.is_open:  # answered before this human came
                        continue
                    self.seen = request
                    decision = self.decide(request)
                    if decision is None:
                        client.cancel(request.id, reason="not now")
                    else:
                        client.respond(request.id, **decision)
                    return
        except BaseException as exc:  # handed to the test by join()
            self.error = exc

    def join(self) -> inloop.Request:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the human never saw a request"
        if self.error is not None:
            raise self.error
        assert self.seen is not None
        return self.seen
