"""Migrations build exactly the schema the code expects, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from inloop.server.store import search
from inloop.server.store.engine import make_engine
from inloop.server.store.migrations import upgrade
from inloop.server.store.schema import metadata
from tests.support import Databases


def assert_matches_code(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": False, "include_name": search.mapped}
                ),
                metadata,
            )
            assert diff == []
            assert "requests" in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_sqlite_from_empty_and_twice(tmp_path: Path) -> None:
    """upgrade on an empty file gives the code's schema; running it again changes nothing."""
    url = f"sqlite+pysqlite:///{tmp_path}/fresh.db"
    upgrade(url)
    upgrade(url)
    assert_matches_code(url)


@pytest.mark.postgres
def test_postgresql_from_empty_and_twice(databases: Databases) -> None:
    """The same on PostgreSQL."""
    with databases.fresh_postgres() as url:
        upgrade(url)
        upgrade(url)
        assert_matches_code(url)
