"""The request page and what a human does there: answer, claim, release, reassign or
transfer, escalate now. Every change goes through the same services as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from inloop.domain.access import can_see, check_can_answer
from inloop.domain.errors import DomainError, InvalidError
from inloop.domain.identity import Principal
from inloop.domain.requests import Request as InloopRequest
from inloop.server.api.deps import ServicesDep
from inloop.server.desk import views
from inloop.server.desk.auth import SECURITY_HEADERS, DeskRoute, DeskUser, render, verify_csrf
from inloop.server.desk.pages import safe_next

router = APIRouter(route_class=DeskRoute)
Csrf = Depends(verify_csrf)
MAX_FIELD = 200_000


@router.get("/requests/{request_id}")
async def request_page(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    after = await services.desk.latest_event_id()
    found = await services.requests.get(session.principal, request_id)
    if found.metadata.get("handoff_session") and found.conversation_id:
        # A live handoff's ticket: its page is the conversation itself.
        return RedirectResponse(f"/desk/conversations/{quote(found.conversation_id, safe='')}", 303)
    history = await services.requests.events(session.principal, request_id)
    now = services.clock.now()
    return render(
        request,
        "request.html",
        {
            "r": found,
            "events": history,
            "now": now,
            "layout": views.layout(found),
            "answers": views.shortcut_answers(found),
            "editable": views.editable_option(found),
            "payload": found.payload,
            "can_answer": found.is_open and _may_answer(session.principal, found),
            "holds": found.assigned_to is not None and found.assigned_to == session.user.handle,
            "is_admin": session.principal.is_admin,
            "after": after,
            "consult": bool(found.metadata.get("consult")) and found.conversation_id is not None,
        },
    )


def _may_answer(principal: Principal, request: InloopRequest) -> bool:
    """What the services will say to an answer now (they decide again when it comes)."""
    try:
        check_can_answer(principal, request)
    except DomainError:
        return False
    return can_see(principal, request)


async def _fields(request: Request) -> dict[str, Any]:
    """The action's fields: from a JSON body (the desk's scripts) or a posted form."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        if len(body) > MAX_FIELD:
            raise InvalidError("the answer is too large", field="response")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidError("the body is not valid JSON", field="response") from None
        if not isinstance(data, dict):
            raise InvalidError("send a JSON object", field="response")
        return data
    form = await request.form()
    fields: dict[str, Any] = {}
    for key in ("response", "comment", "next", "to", "reason"):
        value = form.get(key)
        if isinstance(value, str):
            fields[key] = value
    for key in ("response_json", "edited_json"):
        value = form.get(key)
        if isinstance(value, str) and value.strip():
            if len(value) > MAX_FIELD:
                raise InvalidError("the answer is too large", field=key)
            try:
                fields[key.removesuffix("_json")] = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise InvalidError(f"{key} is not valid JSON: {exc}", field=key) from None
    return fields


def _done(request: Request, fields: dict[str, Any], answered: InloopRequest) -> Response:
    target = safe_next(fields.get("next") or f"/desk/requests/{answered.id}")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {"id": answered.id, "status": answered.status.value, "next": target},
            headers=SECURITY_HEADERS,
        )
    return RedirectResponse(target, 303)


def _text(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidError(f"{key} must be text", field=key)
    return value


@router.post("/requests/{request_id}/respond", dependencies=[Csrf])
async def respond(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    if "response" not in fields:
        raise InvalidError("choose or write an answer", field="response")
    answered = await services.requests.respond(
        session.principal,
        request_id,
        fields["response"],
        comment=_text(fields, "comment"),
        edited=fields.get("edited"),
        via={"channel": "desk"},
    )
    return _done(request, fields, answered)


@router.post("/requests/{request_id}/claim", dependencies=[Csrf])
async def claim(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    claimed = await services.assignment.claim(session.principal, request_id)
    return _done(request, fields, claimed)


@router.post("/requests/{request_id}/release", dependencies=[Csrf])
async def release(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    released = await services.assignment.release(
        session.principal, request_id, reason=_text(fields, "reason")
    )
    return _done(request, fields, released)


@router.post("/requests/{request_id}/reassign", dependencies=[Csrf])
async def reassign(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    """To a user (user:alice, or just alice): they hold it. To a team or role: they may."""
    fields = await _fields(request)
    to = (_text(fields, "to") or "").strip()
    if not to:
        raise InvalidError("say to whom: user:<handle>, team:<name> or role:<name>", field="to")
    if ":" not in to:
        to = f"user:{to}"
    moved = await services.assignment.reassign(
        session.principal, request_id, to, reason=_text(fields, "reason")
    )
    target = "/desk" if not can_see(session.principal, moved) else None
    return _done(request, {**fields, "next": fields.get("next") or target}, moved)


@router.post("/requests/{request_id}/escalate", dependencies=[Csrf])
async def escalate(
    request: Request, request_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    fields = await _fields(request)
    escalated = await services.assignment.escalate(
        session.principal, request_id, reason=_text(fields, "reason")
    )
    target = "/desk" if not can_see(session.principal, escalated) else None
    return _done(request, {**fields, "next": fields.get("next") or target}, escalated)
