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


class BotConnector:
    """The Bot Framework's side: the token endpoint, the connector's conversations and
    activities, and the OpenID metadata and keys that incoming tokens are signed with."""

    def __init__(self, base_url: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.base_url = base_url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.endorsements = ["msteams"]
        self.count = 0

    def jwk(self) -> dict[str, Any]:
        import json

        from jwt.algorithms import RSAAlgorithm

        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "endorsements": self.endorsements}

    def token(
        self, app_id: str, service_url: str, *, now: float, key: Any = None, **claims: Any
    ) -> str:
        """A token as the Bot Connector signs one for an activity sent to the bot."""
        import jwt

        body = {"iss": "https://api.botframework.com", "aud": app_id, "exp": int(now) + 3600,
                "nbf": int(now) - 10, "serviceurl": service_url, **claims}  # fmt: skip
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def __call__(self, got: Received) -> Response:
        path = got.path
        if path.endswith("/openidconfiguration"):
            return JSONResponse({"issuer": "https://api.botframework.com",
                                 "jwks_uri": f"{self.base_url}/botframework/v1/.well-known/keys"})  # fmt: skip
        if path.endswith("/.well-known/keys"):
            return JSONResponse({"keys": [self.jwk()]})
        if path.endswith("/oauth2/v2.0/token"):
            return JSONResponse({"token_type": "Bearer", "expires_in": 3599,
                                 "access_token": "bot-access-token"})  # fmt: skip
        if path.endswith("/v3/conversations") and got.method == "POST":
            self.count += 1
            body = got.json()
            if body.get("isGroup"):
                channel = body["channelData"]["channel"]["id"]
                return JSONResponse({"id": f"{channel};messageid=17000000000{self.count:02d}",
                                     "activityId": f"17000000000{self.count:02d}"}, 201)  # fmt: skip
            return JSONResponse({"id": f"a:1chat{self.count}"}, 201)
        if "/activities" in path and got.method == "POST":
            self.count += 1
            return JSONResponse({"id": f"17000000000{self.count:02d}"}, 201)
        if "/activities/" in path and got.method == "PUT":
            return JSONResponse({"id": path.rsplit("/", 1)[-1]})
        return JSONResponse({"error": {"code": "NotFound"}}, 404)
