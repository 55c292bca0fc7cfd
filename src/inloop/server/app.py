"""The ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import Response

from inloop._version import __version__
from inloop.server import chat, desk
from inloop.server.api import agent_sessions as agent_sessions_api
from inloop.server.api import alerts as alerts_api
from inloop.server.api import assignment, errors, events, identity, requests, runs
from inloop.server.api import channels as channels_api
from inloop.server.api import confirmations as confirmations_api
from inloop.server.api import conversations as conversations_api
from inloop.server.api import deliveries as deliveries_api
from inloop.server.api import handoff as handoff_api
from inloop.server.api import hooks as hooks_api
from inloop.server.api import metrics as metrics_api
from inloop.server.api import stats as stats_api
from inloop.server.api import tickets as tickets_api
from inloop.server.api import workflows as workflows_api
from inloop.server.api.deps import ServicesDep, json
from inloop.server.api.limits import BodyLimit
from inloop.server.config import Settings
from inloop.server.services import Services, build_services
from inloop.server.services.clock import Clock
from inloop.server.services.relay import PgRelay


def create_app(
    settings: Settings, *, clock: Clock | None = None, services: Services | None = None
) -> FastAPI:
    """Build the app. The database must be migrated already (``inloop serve`` does it)."""
    services = services or build_services(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = PgRelay(services.db, services.hub) if services.db.dialect == "postgresql" else None
        if relay is not None:
            relay.conversations = services.conversation_hub.changed
            await relay.start()
        await services.scheduler.start()
        await services.dispatcher.start()
        await services.provider_dispatcher.start()
        await services.alerts.start()
        await services.stats.start()
        try:
            yield
        finally:
            await services.stats.stop()
            await services.alerts.stop()
            await services.provider_dispatcher.stop()
            await services.summaries.close()
            await services.dispatcher.stop()
            await services.scheduler.stop()
            if relay is not None:
                await relay.stop()
            services.close()

    app = FastAPI(
        title="Inloop",
        version=__version__,
        summary="Human-in-the-loop server for AI agents",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)
    errors.install(app)
    # Routes are matched in the order included, each router's routes one by one: the
    # routes on every answer, step and workflow start come first, the desk's many later.
    app.include_router(requests.router)
    app.include_router(runs.router)
    app.include_router(workflows_api.router)
    app.include_router(assignment.router)
    app.include_router(events.router)
    app.include_router(identity.router)
    app.include_router(desk.router)
    app.include_router(desk.passwords_api)
    app.include_router(stats_api.router)
    app.include_router(channels_api.router)
    app.include_router(deliveries_api.router)
    app.include_router(hooks_api.router)
    app.include_router(conversations_api.router)
    app.include_router(handoff_api.router)
    app.include_router(chat.router)
    app.include_router(agent_sessions_api.router)
    app.include_router(tickets_api.router)
    app.include_router(confirmations_api.router)
    app.include_router(alerts_api.router)
    app.include_router(metrics_api.router)

    @app.get("/healthz", tags=["health"])
    async def healthz(services: ServicesDep) -> Response:
        return json({"status": "ok", "version": __version__, "database": services.db.dialect})

    return app
