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


class SlackApi:
    """Answers as Slack's Web API does (``{"ok": true, ...}``), numbering message ts."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: dict[str, str] = {}  # method -> the error Slack answers with

    def __call__(self, got: Received) -> Response:
        method = got.path.rsplit("/", 1)[-1]
        if method in self.errors:
            return JSONResponse({"ok": False, "error": self.errors[method]})
        body = got.json() if got.body else {}
        if method == "chat.postMessage":
            self.count += 1
            channel = body["channel"]
            channel = "D" + channel[1:] if channel.startswith("U") else channel
            return JSONResponse(
                {"ok": True, "channel": channel, "ts": f"1767600000.{self.count:06d}"}
            )
        if method == "chat.update":
            return JSONResponse({"ok": True, "channel": body["channel"], "ts": body["ts"]})
        return JSONResponse({"ok": True})


def slack_signed(secret: str, body: bytes, when: float) -> dict[str, str]:
    """The headers Slack signs a callback with (v0 HMAC-SHA256 of v0:ts:body)."""
    import hashlib
    import hmac

    stamp = str(int(when))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
