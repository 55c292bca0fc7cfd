from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN_TOKEN, Databases, FakeClock


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("templates"))
    yield dbs
    dbs.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[str]:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield databases.sqlite(tmp_path / "inloop.db")
    else:
        with databases.postgres() as url:
            yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(database_url: str, clock: FakeClock):  # type: ignore[no-untyped-def]
    from inloop.server.config import Settings
    from inloop.server.services import build_services

    built = build_services(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN), clock=clock
    )
    yield built
    built.close()


@pytest.fixture
async def api(services) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An HTTP client on the app (in process, over ASGI), signed in with the admin token."""
    from inloop.server.app import create_app

    app = create_app(services.settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://inloop.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client
