"""Throwaway databases for one benchmark run: a SQLite file, or a PostgreSQL database."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from inloop.server.store.migrations import upgrade

PG_ADMIN_URL = os.environ.get(
    "INLOOP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")

Seed = Callable[[str], None]


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.encode())


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+psycopg://{base}/{database}"


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database, deleted afterwards; yields its SQLAlchemy URL."""
    if backend == "sqlite":
        path = workdir / f"bench-{secrets.token_hex(4)}.db"
        try:
            yield _sqlite(path)
        finally:
            _remove_sqlite(path)
        return
    name = f"inloop_bench_{secrets.token_hex(6)}"
    _admin(f"CREATE DATABASE {name}")
    try:
        url = _pg_url(name)
        upgrade(url)
        yield url
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def seeded_database(
    backend: str, workdir: Path, cache: Path, key: str, seed: Seed
) -> Iterator[str]:
    """A migrated database filled by ``seed``.

    On SQLite the seeded file is cached in ``cache`` by ``key`` and each run gets a copy
    of it in ``workdir``; on PostgreSQL the database is seeded afresh and dropped after.
    """
    if backend == "postgresql":
        with fresh_database(backend, workdir) as url:
            seed(url)
            yield url
        return
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"seed-{key}.db"
    if not cached.exists():
        building = cached.with_suffix(".building")
        building.unlink(missing_ok=True)
        url = _sqlite(building)
        seed(url)
        _checkpoint(building)
        building.rename(cached)
    copy = workdir / f"bench-{secrets.token_hex(4)}.db"
    shutil.copyfile(cached, copy)
    try:
        yield f"sqlite+pysqlite:///{copy}"
    finally:
        _remove_sqlite(copy)


def _sqlite(path: Path) -> str:
    url = f"sqlite+pysqlite:///{path}"
    upgrade(url)
    return url


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so that copying the file alone copies everything."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _remove_sqlite(path: Path) -> None:
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        part.unlink(missing_ok=True)
