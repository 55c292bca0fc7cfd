"""``/hooks/...``: where Slack, Teams, Twilio and webhook senders call back.

No bearer token here: each platform proves itself with its own signature, which the
services check before reading anything else (see ``services/inbound.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inloop.server.api.deps import ServicesDep

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


@router.post("/slack/{name}/events")
async def slack_events(name: str, request: Request, services: ServicesDep) -> Response:
    """Slack's Events API Request URL: replies in a notice's thread."""
    body = await request.body()
    return JSONResponse(await services.slack_inbound.event(name, body, request.headers))
