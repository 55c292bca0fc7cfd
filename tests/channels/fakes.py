"""Local peers for the channel tests: real HTTP servers on 127.0.0.1 that record what
Inloop sends and answer as scripted. Each test asserts on what they recorded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


Answer = Callable[[Received], Response]


class Peer:
    """An ASGI app that records every request; ``answers`` says what to reply (a status
    code, a Response, or a function of the request), one per request, the last repeated."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int | Response | Answer] = [200]
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}", self._handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
                )
            ]
        )

    def reset(self, *answers: int | Response | Answer) -> None:
        with self._lock:
            self.received.clear()
            self.answers = list(answers) or [200]

    async def _handle(self, request: Request) -> Response:
        got = Received(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
            dict(request.query_params),
        )
        with self._lock:
            self.received.append(got)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, int):
            return JSONResponse({"ok": answer < 400}, answer)
        if isinstance(answer, Response):
            return answer
        return answer(got)


def signature_ok(secret: str, got: Received) -> bool:
    """Verify a Standard Webhooks signature the way a receiver does (standardwebhooks'
    HMAC), at the message's own timestamp: the tests' clock is not the wall clock."""
    when = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(got.headers["webhook-id"], when, got.body.decode())
    return expected in got.headers["webhook-signature"].split()
