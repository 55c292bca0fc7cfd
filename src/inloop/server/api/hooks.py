"""``/hooks/...``: where Slack, Teams, Twilio and webhook senders call back.

No bearer token here: each platform proves itself with its own signature, which the
services check before reading anything else (see ``services/inbound.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inloop.server.api.deps import ServicesDep, json

router = APIRouter(prefix="/hooks", tags=["channel callbacks"])


@router.post("/slack/{name}/interactions")
async def slack_interactions(name: str, request: Request, services: ServicesDep) -> Response:
    """Slack's interactivity Request URL: buttons, selects, modals."""
    body = await request.body()
    answer = await services.slack_inbound.interaction(name, body, request.headers)
    return JSONResponse(answer) if answer else Response(status_code=200)


@router.post("/teams/{name}/messages")
async def teams_messages(name: str, request: Request, services: ServicesDep) -> Response:
    """The bot's messaging endpoint: activities from the Bot Connector."""
    body = await request.body()
    answer = await services.teams_inbound.activity(name, body, request.headers)
    return JSONResponse(answer) if answer else Response(status_code=200)


@router.post("/sms/{name}")
async def sms_incoming(name: str, request: Request, services: ServicesDep) -> Response:
    """Twilio's webhook for incoming messages (answers with TwiML)."""
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    twiml = await services.sms_inbound.message(name, path, params, request.headers)
    return Response(twiml, media_type="application/xml")


@router.post("/webhook/{name}")
async def webhook_answer(name: str, request: Request, services: ServicesDep) -> Response:
    """A signed answer from the system behind a webhook channel: the request, answered."""
    body = await request.body()
    return json(await services.webhook_inbound.receive(name, body, request.headers))


@router.post("/slack/{name}/events")
async def slack_events(name: str, request: Request, services: ServicesDep) -> Response:
    """Slack's Events API Request URL: replies in a notice's thread."""
    body = await request.body()
    return JSONResponse(await services.slack_inbound.event(name, body, request.headers))
