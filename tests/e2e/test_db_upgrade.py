"""`inloop db upgrade` migrates a database and says so; a bad URL is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support import Databases

pytestmark = pytest.mark.e2e


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_on_sqlite(tmp_path: Path) -> None:
    """A new SQLite file gets every table; a second upgrade is a no-op that succeeds."""
    url = f"sqlite:///{tmp_path}/new.db"
    for _ in range(2):
        result = run_cli("db", "upgrade", "--db", url)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stderr
    assert {"requests", "events", "users", "teams", "api_keys", "alembic_version"} <= tables(url)


@pytest.mark.postgres
def test_upgrade_creates_the_schema_on_postgresql(databases: Databases) -> None:
    """The same on an empty PostgreSQL database, given as postgresql://."""
    with databases.fresh_postgres() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        result = run_cli("db", "upgrade", "--db", plain)
        assert result.returncode == 0, result.stderr
        assert "requests" in tables(url)


def test_an_unsupported_url_is_refused() -> None:
    """mysql:// is not supported: one clear line, no traceback."""
    result = run_cli("db", "upgrade", "--db", "mysql://x/y")
    assert result.returncode != 0
    assert "unsupported database URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line_and_exit_4() -> None:
    """A PostgreSQL nobody listens on: exit 4 and a one-line reason, no traceback."""
    result = run_cli("db", "upgrade", "--db", "postgresql://postgres@127.0.0.1:1/none")
    assert result.returncode == 4
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr
