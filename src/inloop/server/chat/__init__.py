"""The customer's chat page, ``/chat/{conversation_id}``: a real customer side for demos,
tests and small deployments.

Access is by the conversation's secret token, never by the bare id: the link an agent
hands out carries ``?token=``; the page trades it for an HttpOnly, SameSite=Strict cookie
scoped to this conversation's path and redirects to drop it from the address bar. Every
post needs the page's CSRF value (derived from the token). Messages are autoescaped in the
template and set with ``textContent`` by the script; updates come over SSE (the page then
refetches, as the desk does). Nothing is loaded from another site: it works offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sse_starlette import EventSourceResponse, ServerSentEvent

from inloop.domain.conversations import Conversation, Message, NewMessage, Role
from inloop.domain.errors import AuthenticationError, DomainError, InvalidError, NotFoundError
from inloop.server.api.deps import ServicesDep
from inloop.server.api.errors import STATUS, error_body
from inloop.server.services import Services

HERE = Path(__file__).parent
COOKIE = "inloop_chat"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_STATIC = {
    "chat.js": ((HERE / "static" / "chat.js").read_bytes(), "text/javascript; charset=utf-8"),
    "chat.css": ((HERE / "static" / "chat.css").read_bytes(), "text/css; charset=utf-8"),
}
router = APIRouter(include_in_schema=False)


def csrf_of(token: str) -> str:
    return hmac.new(token.encode(), b"inloop-chat-csrf", hashlib.sha256).hexdigest()[:32]


def _error(exc: DomainError, *, page: bool) -> Response:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    if page:
        body = _env.get_template("error.html").render(status=status, message=exc.message)
        return Response(body, status, media_type="text/html; charset=utf-8", headers=HEADERS)
    return Response(
        orjson.dumps(error_body(exc.code, exc.message, exc.field)),
        status,
        media_type="application/json",
        headers=HEADERS,
    )


async def _customer(
    services: Services, request: Request, conversation_id: str
) -> tuple[Conversation, str]:
    token = request.cookies.get(COOKIE)
    conversation = await services.conversations.customer(conversation_id, token)
    assert token is not None
    return conversation, token


def _view(message: Message) -> dict[str, Any]:
    """Only what the customer's page shows."""
    return {
        "id": message.id,
        "role": message.role.value,
        "author": message.author_name if message.role == Role.HUMAN else None,
        "type": message.type.value,
        "content": message.content,
        "at": message.created_at.isoformat(),
    }


@router.get("/chat/static/{name}")
async def static(name: str) -> Response:
    found = _STATIC.get(name)
    if found is None:
        return Response("not found", 404)
    return Response(
        found[0],
        media_type=found[1],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


@router.get("/chat/{conversation_id}")
async def chat_page(
    conversation_id: str,
    request: Request,
    services: ServicesDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if token is not None:
        try:
            await services.conversations.customer(conversation_id, token)
        except DomainError as exc:
            return _error(exc, page=True)
        response = RedirectResponse(
            f"/chat/{quote(conversation_id, safe='')}", 303, headers=HEADERS
        )
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            path=f"/chat/{quote(conversation_id, safe='')}",
            secure=request.url.scheme == "https",
            max_age=30 * 86400,
        )
        return response
    try:
        conversation, secret = await _customer(services, request, conversation_id)
    except DomainError as exc:
        return _error(exc, page=True)
    shown = await services.conversations.customer_messages(conversation.id, 0)
    session = await services.db.read(_open_session, conversation.id)
    settings = await services.db.read(services.handoffs.settings_tx)
    close = (session.config.get("user_hitl_close_command") if session else None) or "/end"
    body = _env.get_template("chat.html").render(
        ask_human=settings.get("user_handoff_command"),
        close_command=close,
        conversation=conversation,
        messages=[_view(m) for m in shown],
        last=shown[-1].id if shown else 0,
        csrf=csrf_of(secret),
        base=f"/chat/{quote(conversation.id, safe='')}",
        with_human=session is not None and session.status.value == "active",
    )
    return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)


def _open_session(conn: Any, conversation_id: str) -> Any:
    from inloop.server.store import conversations as sql

    return sql.open_session(conn, conversation_id)


@router.get("/chat/{conversation_id}/messages.json")
async def messages_json(
    conversation_id: str,
    request: Request,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    try:
        conversation, _ = await _customer(services, request, conversation_id)
    except DomainError as exc:
        return _error(exc, page=False)
    shown = await services.conversations.customer_messages(conversation.id, after)
    session = await services.db.read(_open_session, conversation.id)
    body = {
        "items": [_view(m) for m in shown],
        "handoff": session.status.value if session is not None else None,
        "close_command": session.config.get("user_hitl_close_command") if session else None,
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=HEADERS)


@router.post("/chat/{conversation_id}/messages")
async def post_message(conversation_id: str, request: Request, services: ServicesDep) -> Response:
    try:
        conversation, secret = await _customer(services, request, conversation_id)
        sent = request.headers.get("x-chat-csrf", "")
        if not hmac.compare_digest(sent.encode(), csrf_of(secret).encode()):
            raise AuthenticationError(
                "the page's security value is missing: reload it", field="csrf"
            )
        raw = await request.body()
        if len(raw) > 100_000:
            raise InvalidError("the message is too long", field="text")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidError("the body is not valid JSON", field="text") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise InvalidError('send {"text": "..."}', field="text")
        try:
            new = NewMessage(role=Role.USER, text=data["text"], external_id=data.get("client_id"))
        except DomainError:
            raise
        except ValueError as exc:
            raise InvalidError(str(exc), field="text") from None
        message = await services.conversations.post_as_customer(conversation, new)
    except DomainError as exc:
        return _error(exc, page=False)
    return Response(
        orjson.dumps(_view(message)), 201, media_type="application/json", headers=HEADERS
    )


@router.get("/chat/{conversation_id}/stream")
async def stream(conversation_id: str, request: Request, services: ServicesDep) -> Response:
    try:
        conversation, _ = await _customer(services, request, conversation_id)
    except DomainError as exc:
        return _error(exc, page=False)
    return EventSourceResponse(
        _changes(services, conversation.id), ping=15, headers={"Cache-Control": "no-store"}
    )


async def _changes(services: Services, conversation_id: str) -> AsyncIterator[ServerSentEvent]:
    hub = services.conversation_hub
    while True:
        with hub.waiter(conversation_id) as changed, contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed, 5.0)  # also looks again for other replicas
        yield ServerSentEvent(event="change", data="{}")


__all__ = ["NotFoundError", "router"]
