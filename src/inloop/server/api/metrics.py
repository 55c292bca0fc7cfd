"""``/metrics``: the monitoring figures for Prometheus (a ``metrics`` or admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from inloop.server.api.deps import PrincipalDep, ServicesDep
from inloop.server.services.metrics import CONTENT_TYPE, DEFAULT_WINDOW

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
async def metrics(
    services: ServicesDep,
    principal: PrincipalDep,
    window: str = Query(
        DEFAULT_WINDOW, max_length=40, description="The window of the rates and percentiles."
    ),
) -> Response:
    """Prometheus text exposition (format 0.0.4). Send ``Authorization: Bearer <key>`` with
    a key of the ``metrics`` scope (``bearer_token`` in Prometheus' scrape config)."""
    body = await services.metrics.scrape(principal, window)
    return Response(body, media_type=CONTENT_TYPE)
