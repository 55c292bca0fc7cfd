"""Embedded mode: with no ``INLOOP_URL``, an Inloop server runs inside this process.

``default_client()`` and ``default_async_client()`` return a client for ``$INLOOP_URL``
(with ``$INLOOP_TOKEN``) when it is set. Otherwise the first call starts one server for the
whole process: uvicorn on ``127.0.0.1`` (an ephemeral port, or ``$INLOOP_EMBEDDED_PORT``)
in a background thread with its own event loop, on the SQLite database
``$INLOOP_HOME/embedded.db`` (``~/.inloop`` by default), migrated on first use. It stops
when the process exits. A real socket, not an in-memory ASGI transport, because a human has
to answer: from the CLI, the desk or another script, all of which need an address.

The server's admin token is kept in ``$INLOOP_HOME/admin-token`` (the file ``make run``
uses too), so requests created by one run of a script belong to the same actor in the
next run, and an idempotency key finds them again after a crash.

This module imports the server only inside the functions that start it: ``import inloop``
still works with the SDK's dependencies alone.
"""

from __future__ import annotations

import atexit
import os
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inloop.client import AsyncClient, Client
from inloop.errors import UsageError

__all__ = [
    "EmbeddedServer",
    "ThreadedServer",
    "default_async_client",
    "default_client",
    "embedded_server",
    "inloop_home",
]

#: How long the embedded server may take to migrate and start listening, in seconds.
START_TIMEOUT = 60.0
#: How long the exit handler waits for the server to finish its shutdown, in seconds.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class EmbeddedServer:
    """Where the in-process server listens and how to reach it."""

    url: str
    token: str
    home: Path
    database: Path

    @property
    def token_file(self) -> Path:
        return self.home / "admin-token"


_lock = threading.Lock()
_server: EmbeddedServer | None = None


def inloop_home() -> Path:
    """``$INLOOP_HOME``, or ``~/.inloop``."""
    return Path(os.environ.get("INLOOP_HOME") or Path.home() / ".inloop").expanduser()


def default_client() -> Client:
    """A blocking client for ``$INLOOP_URL``, or for this process's embedded server.

    Each call returns a new client that the caller closes (``with default_client() as c``);
    the embedded server behind them is one per process.
    """
    if os.environ.get("INLOOP_URL"):
        return Client()
    server = embedded_server()
    return Client(server.url, server.token)


def default_async_client() -> AsyncClient:
    """The asyncio twin of ``default_client``; the caller closes it (``async with``)."""
    if os.environ.get("INLOOP_URL"):
        return AsyncClient()
    server = embedded_server()
    return AsyncClient(server.url, server.token)


def embedded_server() -> EmbeddedServer:
    """The process's embedded server, started on first use (blocks until it listens)."""
    global _server
    with _lock:
        if _server is None:
            _server = _start()
            _announce(_server)
        return _server


def _read_or_create_token(home: Path) -> str:
    path = home / "admin-token"
    try:
        # O_EXCL: two processes starting at once agree on whichever token was written first.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text().strip()
        if not token:
            raise UsageError(f"{path} is empty: delete it and a new admin token is made") from None
        return token
    token = "adm_" + secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token


def _start() -> EmbeddedServer:
    try:
        import uvicorn  # noqa: F401  (checked here, with the rest; ThreadedServer runs it)

        from inloop.server.app import create_app
        from inloop.server.config import Settings
        from inloop.server.services import build_services
        from inloop.server.store.migrations import upgrade
    except ImportError as exc:
        raise UsageError(
            "embedded mode needs the server (pip install 'inloop[server]'), "
            f"or set INLOOP_URL to a running Inloop server: {exc}"
        ) from exc

    home = inloop_home()
    home.mkdir(parents=True, exist_ok=True)
    token = _read_or_create_token(home)
    database = home / "embedded.db"
    served = ThreadedServer(_port())
    settings = Settings(
        database_url=f"sqlite+pysqlite:///{database}",
        port=served.port,
        admin_token=token,
        # A script's own server: losing the last commit on a power cut is acceptable,
        # a killed process still loses nothing (see docs/operations.md).
        sqlite_synchronous="NORMAL",
    )
    upgrade(settings.database_url)
    served.start(create_app(settings, services=build_services(settings)))
    atexit.register(served.stop)
    return EmbeddedServer(url=served.url, token=token, home=home, database=database)


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 from a daemon thread with its own loop.

    The constructor takes the port (``0``: a free one, see ``port``); ``start`` returns
    once the app listens and its lifespan (the scheduler) is up.
    """

    def __init__(self, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind(("127.0.0.1", port))
        except OSError as exc:
            self._sock.close()
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> ThreadedServer:
        import uvicorn

        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="inloop-embedded",
            daemon=True,
        )
        thread = self._thread
        thread.start()
        # uvicorn sets `started` once it listens and the lifespan is up; the thread ends
        # early if start-up failed, and uvicorn has logged why.
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started and thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.01)
        if not self._server.started:
            self.stop()
            raise UsageError("the embedded Inloop server did not start (see the log above)")
        return self

    def stop(self) -> None:
        """Shut down (the lifespan stops the scheduler and closes the database)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        self._sock.close()


def _port() -> int:
    raw = os.environ.get("INLOOP_EMBEDDED_PORT") or "0"
    try:
        port = int(raw)
    except ValueError:
        raise UsageError(f"INLOOP_EMBEDDED_PORT must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"INLOOP_EMBEDDED_PORT must be between 0 and 65535, got {port}")
    return port


def _announce(server: EmbeddedServer) -> None:
    if os.environ.get("INLOOP_EMBEDDED_QUIET"):
        return
    print(
        f"inloop: no INLOOP_URL is set, so an Inloop server runs inside this process\n"
        f"  at {server.url} (database {server.database})\n"
        f"  To answer its requests while it runs, from another terminal:\n"
        f"    export INLOOP_URL={server.url} INLOOP_TOKEN=$(cat {server.token_file})\n"
        f"    inloop requests ls --status pending\n"
        f"    inloop requests respond <request id> <answer>",
        file=sys.stderr,
        flush=True,
    )
