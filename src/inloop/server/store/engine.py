"""Engines for SQLite (WAL, immediate write transactions) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

WRITE = "inloop_write"  # execution option: this transaction writes


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False},
    )
    if sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError("INLOOP_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front, so it waits at BEGIN instead of failing
        # with SQLITE_BUSY when a read lock would have to be upgraded.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )

    return engine
