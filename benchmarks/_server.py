"""A server in a subprocess on a free localhost port: started, measured, always stopped."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

READY_SECONDS = 60.0


class ServerProcess:
    """``inloop serve`` (or, ``instrumented``, the same app with a wake-up counter).

    Use it as a context manager: the process is terminated, then killed, on the way out.
    """

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        instrumented: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.extra_env = env or {}
        self.token = "adm_bench_" + secrets.token_urlsafe(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        self.instrumented = instrumented
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def __enter__(self) -> ServerProcess:
        if self.instrumented:
            args = ["benchmarks._serve", self.database_url, str(self.port)]
        else:
            args = ["inloop", "serve", "--port", str(self.port), "--db", self.database_url]
        command = [sys.executable, "-m", *args]
        env = {**os.environ, **self.extra_env, "INLOOP_ADMIN_TOKEN": self.token}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=Path(__file__).parent.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"the server was not ready in {READY_SECONDS:g} s")

    def rss_mb(self) -> float:
        """The server's resident memory (VmRSS), in MiB."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
