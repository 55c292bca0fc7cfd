"""Test helpers shared by the suites: a fake clock and throwaway databases."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

PG_ADMIN_URL = os.environ.get(
    "INLOOP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ADMIN_TOKEN = "test-admin-token"


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def postgres_available() -> str | None:
    """None when PostgreSQL answers; otherwise the reason it does not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc.__class__.__name__})"


_postgres_checked: list[str | None] = []


def require_postgres() -> None:
    if not _postgres_checked:
        _postgres_checked.append(postgres_available())
    reason = _postgres_checked[0]
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run")
    pytest.skip(reason)


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)


def _admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


# What a reused database must still look like: its tables and their columns, the revision.
_SHAPE = """
SELECT table_name, count(*) FROM information_schema.columns
WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name
"""


class Databases:
    """Migrated template databases, copied for each test (much faster than migrating).

    PostgreSQL databases are reused: after a test its database is emptied (every table's
    rows deleted, every sequence restarted) and handed to the next test, because creating
    one from the template costs about a second (PostgreSQL copies it block by block) and
    emptying it a few milliseconds. One whose tables a test changed is dropped instead.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_shape: list[tuple[str, int]] = []
        self._pg_free: list[str] = []
        self._pg_made: set[str] = set()

    def sqlite(self, path: Path) -> str:
        from inloop.server.store.migrations import upgrade

        if self._sqlite_template is None:
            template = self.workdir / "template.db"
            upgrade(f"sqlite+pysqlite:///{template}")
            self._sqlite_template = template
        shutil.copy(self._sqlite_template, path)
        return f"sqlite+pysqlite:///{path}"

    @contextmanager
    def postgres(self) -> Iterator[str]:
        """A migrated, empty PostgreSQL database, for the duration of the ``with``."""
        from inloop.server.store.migrations import upgrade

        require_postgres()
        if self._pg_template is None:
            name = f"inloop_template_{secrets.token_hex(4)}"
            _admin(f"CREATE DATABASE {name}")
            upgrade(_pg_url(name))
            with psycopg.connect(_pg_url(name).replace("+psycopg", "")) as conn:
                self._pg_shape = [tuple(row) for row in conn.execute(_SHAPE)]  # type: ignore[misc]
            self._pg_template = name
        if self._pg_free:
            database = self._pg_free.pop()
        else:
            database = f"inloop_test_{secrets.token_hex(6)}"
            _admin(f"CREATE DATABASE {database} TEMPLATE {self._pg_template}")
            self._pg_made.add(database)
        try:
            yield _pg_url(database)
        finally:
            if self._emptied(database):
                self._pg_free.append(database)
            else:
                self._pg_made.discard(database)
                _admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    def _emptied(self, database: str) -> bool:
        """Empty ``database`` for the next test; False when it no longer has the template's
        tables (then it is dropped)."""
        try:
            with psycopg.connect(
                _pg_url(database).replace("+psycopg", ""), autocommit=True
            ) as conn:
                # Whatever the test left connected (a killed server's sessions) goes first.
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if [tuple(row) for row in conn.execute(_SHAPE)] != self._pg_shape:
                    return False
                tables = [
                    row[0]
                    for row in conn.execute(
                        "SELECT tablename FROM pg_tables "
                        "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                ]
                sequences = [
                    row[0]
                    for row in conn.execute(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    )
                ]
                with conn.transaction():
                    # Deleting with foreign keys unchecked: far cheaper than TRUNCATE, which
                    # makes new files for every table and index.
                    conn.execute("SET LOCAL session_replication_role = replica")
                    for table in tables:
                        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                    for sequence in sequences:
                        restart = sql.SQL("ALTER SEQUENCE {} RESTART")
                        conn.execute(restart.format(sql.Identifier(sequence)))
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        for database in self._pg_made:
            _admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        if self._pg_template is not None:
            _admin(f"DROP DATABASE IF EXISTS {self._pg_template} WITH (FORCE)")

    @contextmanager
    def fresh_postgres(self) -> Iterator[str]:
        """An empty PostgreSQL database (for migration tests)."""
        require_postgres()
        database = f"inloop_empty_{secrets.token_hex(6)}"
        _admin(f"CREATE DATABASE {database}")
        try:
            yield _pg_url(database)
        finally:
            _admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


#: How long a server process may take to answer: imports and migrations, on a loaded machine.
READY_SECONDS = 90.0


class ServerProcess:
    """``inloop serve`` in a subprocess on a free port, for end-to-end tests."""

    def __init__(self, database_url: str, workdir: Path, *, token: str = ADMIN_TOKEN) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.token = token
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"server-{self.port}.log"

    def env(self) -> dict[str, str]:
        return {**os.environ, "INLOOP_URL": self.url, "INLOOP_TOKEN": self.token}

    def start(self, *, admin_token: bool = True) -> ServerProcess:
        """Start and wait until it answers; without ``admin_token``, it bootstraps its own key."""
        env = {**self.env(), "INLOOP_ADMIN_TOKEN": self.token if admin_token else ""}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "inloop",
                    "serve",
                    "--port",
                    str(self.port),
                    "--db",
                    self.database_url,
                ],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # readiness poll: waits on the server's socket, not on time
        raise RuntimeError(f"server did not become ready: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was committed must survive."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
