"""The desk's live conversation view and its actions (join, write, canned responses, end,
transfer), and the consult ticket's transfer to a live agent. Every change goes through
the same services as the API (``HandoffService``, ``ConsultService``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from inloop.domain.conversations import Message, NewMessage
from inloop.domain.errors import InvalidError
from inloop.server.api.deps import ServicesDep
from inloop.server.desk.auth import SECURITY_HEADERS, DeskRoute, DeskUser, render, verify_csrf
from inloop.server.desk.request_page import _fields, _text
from inloop.server.services import Services
from inloop.server.services.providers.desk import customer_details

router = APIRouter(route_class=DeskRoute)
Csrf = Depends(verify_csrf)


def line(message: Message) -> dict[str, Any]:
    """A transcript line as the page's script builds it (text only: never HTML)."""
    return {
        "id": message.id,
        "role": message.role.value,
        "who": message.author_name or message.role.value,
        "text": message.text,
        "type": message.type.value,
        "audience": message.audience.value,
        "status": message.status.value,
        "at": message.created_at.isoformat(),
    }


@router.get("/conversations/{conversation_id}")
async def conversation_page(
    request: Request, conversation_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    conversation, handoff, found = await services.conversations.human_view(
        session.principal, conversation_id
    )
    settings = await services.db.read(services.handoffs.settings_tx)
    ticket = None
    if handoff is not None and handoff.request_id is not None:
        ticket = await services.requests.get(session.principal, handoff.request_id)
    now = services.clock.now()
    holds = ticket is not None and ticket.assigned_to == session.user.handle
    return render(
        request,
        "conversation.html",
        {
            "c": conversation,
            "h": handoff,
            "ticket": ticket,
            "lines": [line(m) for m in found],
            "last": found[-1].id if found else 0,
            "customer": customer_details(conversation, handoff.user_email if handoff else None),
            "canned": settings.get("canned_responses") or [],
            "holds": holds,
            "is_admin": session.principal.is_admin,
            "live": handoff is not None and handoff.is_open,
            "now": now,
        },
    )


@router.get("/conversations/{conversation_id}/messages.json")
async def messages_json(
    conversation_id: str, session: DeskUser, services: ServicesDep, after: int = 0
) -> Response:
    _, handoff, found = await services.conversations.human_view(
        session.principal, conversation_id, after=max(0, after)
    )
    body = {
        "items": [line(m) for m in found],
        "session": None
        if handoff is None
        else {
            "status": handoff.status.value,
            "human": handoff.human,
            "end_reason": handoff.end_reason,
        },
    }
    return Response(to_json(body), media_type="application/json", headers=SECURITY_HEADERS)


@router.get("/conversations/{conversation_id}/stream")
async def stream(conversation_id: str, session: DeskUser, services: ServicesDep) -> Response:
    await services.conversations.human_view(session.principal, conversation_id, after=2**62)
    return EventSourceResponse(
        _changes(services, conversation_id), ping=15, headers={"Cache-Control": "no-store"}
    )


async def _changes(services: Services, conversation_id: str) -> AsyncIterator[ServerSentEvent]:
    while True:
        with (
            services.conversation_hub.waiter(conversation_id) as changed,
            contextlib.suppress(TimeoutError),
        ):
            await asyncio.wait_for(changed, 5.0)
        yield ServerSentEvent(event="change", data="{}")


def _back(request: Request, conversation_id: str, data: dict[str, Any] | None = None) -> Response:
    target = f"/desk/conversations/{conversation_id}"
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": True, **(data or {})}, headers=SECURITY_HEADERS)
    return RedirectResponse(target, 303)


@router.post("/handoffs/{session_id}/join", dependencies=[Csrf])
async def join(
    request: Request, session_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    joined = await services.handoffs.join(session.principal, session_id)
    return _back(request, joined.conversation_id)


@router.post("/handoffs/{session_id}/messages", dependencies=[Csrf])
async def say(
    request: Request, session_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    text = _text(fields, "text") or _text(fields, "response")
    if not text or not text.strip():
        raise InvalidError("write a message first", field="text")
    try:
        new = NewMessage(text=text)
    except ValidationError as exc:
        raise InvalidError(str(exc.errors()[0]["msg"]), field="text") from None
    sent = await services.handoffs.say(session.principal, session_id, new)
    return _back(request, sent.conversation_id, {"id": sent.id})


@router.post("/handoffs/{session_id}/end", dependencies=[Csrf])
async def end(
    request: Request, session_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    ended = await services.handoffs.close(session.principal, session_id)
    return _back(request, ended.conversation_id)


@router.post("/handoffs/{session_id}/transfer", dependencies=[Csrf])
async def transfer(
    request: Request, session_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    to = (_text(fields, "to") or "").strip()
    if not to:
        raise InvalidError("say to whom: user:<handle>, team:<name> or role:<name>", field="to")
    moved = await services.handoffs.transfer(
        session.principal, session_id, to, reason=_text(fields, "reason")
    )
    if "application/json" not in request.headers.get("accept", ""):
        return RedirectResponse("/desk", 303)
    return _back(request, moved.conversation_id)


@router.post("/requests/{request_id}/transfer-to-live", dependencies=[Csrf])
async def consult_transfer(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    await services.consults.transfer(session.principal, request_id, reason=_text(fields, "reason"))
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": True, "next": "/desk"}, headers=SECURITY_HEADERS)
    return RedirectResponse("/desk", 303)
