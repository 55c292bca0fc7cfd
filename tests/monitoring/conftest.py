from __future__ import annotations

from collections.abc import Iterator

import pytest

SECRET_KEY = "test-server-key-" + "m" * 32


@pytest.fixture
def services(database_url: str, clock) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """The services with a server key of their own (the outbox seals nothing here, but a
    channel needs one) and no /metrics cache unless a test sets one."""
    from inloop.server.config import Settings
    from inloop.server.services import build_services
    from tests.support import ADMIN_TOKEN

    built = build_services(
        Settings(
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            secret_key=SECRET_KEY,
            metrics_cache=0.0,
        ),
        clock=clock,
    )
    yield built
    built.close()
