"""A minimal HTTP/1.1 keep-alive client for generating load.

The benchmark's agents and humans share this 2-core machine with the server. httpx spends
about 2.6 ms of CPU per round trip (three requests), as much as the server itself, so
with it the load generator, not the server, sets the pace. This client speaks just enough
HTTP/1.1 (Content-Length bodies, keep-alive) to cost about 0.2 ms; the httpx figure is
reported beside it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class RawConnection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    @classmethod
    async def open(cls, port: int, headers: dict[str, str]) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, headers)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, json.loads(await self.reader.readexactly(length))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
