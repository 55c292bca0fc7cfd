"""``/v1/stats``: the dashboard's figures as JSON (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from inloop.domain.durations import parse_duration
from inloop.domain.errors import InvalidError
from inloop.domain.monitoring import Stats
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.server.services.stats import DEFAULT_WINDOW

router = APIRouter(prefix="/v1", tags=["stats"])


@router.get("/stats", response_model=Stats)
async def stats(
    services: ServicesDep,
    principal: PrincipalDep,
    window: str = Query(
        DEFAULT_WINDOW,
        max_length=40,
        description="How far back the response times and rates look: 24h, 7d, 30d...",
    ),
    since: str | None = Query(
        None, max_length=40, description="The same as window (the CLI's --since); wins if given."
    ),
) -> Response:
    if since is not None:
        try:
            parse_duration(since)
        except ValueError as exc:
            raise InvalidError(str(exc), field="since", code="validation_error") from None
    return json(await services.stats.stats(principal, since or window))
