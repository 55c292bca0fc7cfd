from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.fakes import Peer


@pytest.fixture(scope="session")
def peer_server() -> Iterator[tuple[Peer, str]]:
    """One local HTTP peer for the whole session; each test resets it (``peer``)."""
    from inloop.embedded import ThreadedServer

    peer = Peer()
    served = ThreadedServer().start(peer.app)
    yield peer, served.url
    served.stop()


@pytest.fixture
def peer(peer_server: tuple[Peer, str]) -> Peer:
    found, _ = peer_server
    found.reset()
    return found


@pytest.fixture
def peer_url(peer_server: tuple[Peer, str]) -> str:
    return peer_server[1]


SECRET_KEY = "test-server-key-" + "k" * 32


@pytest.fixture
def services(database_url: str, clock):  # type: ignore[no-untyped-def]
    """The services with a server key of their own (no key file) and a public URL."""
    from inloop.server.config import Settings
    from inloop.server.services import build_services
    from tests.support import ADMIN_TOKEN

    built = build_services(
        Settings(
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            secret_key=SECRET_KEY,
            public_base_url="https://inloop.example",
            delivery_max_attempts=4,
        ),
        clock=clock,
    )
    yield built
    built.close()
