"""``/v1/alerts``: alert rules (admin), their audit trail, and evaluating them now."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from inloop.domain.alerts import Alert, AlertEvent, AlertUpdate, Evaluation, NewAlert
from inloop.server.api.deps import PrincipalDep, ServicesDep, items, json

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.post("/alerts", status_code=201, response_model=Alert)
async def create_alert(new: NewAlert, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Store a rule such as ``escalation_rate > 0.15 over 7d`` and where its notice goes.
    It is evaluated at once, then every ``INLOOP_ALERT_INTERVAL``."""
    return json(await services.alerts.create(principal, new), 201)


@router.get("/alerts", response_model=dict[str, list[Alert]])
async def list_alerts(services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.alerts.list_alerts(principal))


@router.post("/alerts/evaluate", response_model=dict[str, list[Evaluation]])
async def evaluate_alerts(services: ServicesDep, principal: PrincipalDep) -> Response:
    """Judge every enabled rule now; a rule that starts firing notifies, as on schedule."""
    return items(await services.alerts.evaluate_now(principal))


@router.get("/alerts/{alert_id}", response_model=Alert)
async def get_alert(alert_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.alerts.get(principal, alert_id))


@router.patch("/alerts/{alert_id}", response_model=Alert)
async def update_alert(
    alert_id: str, change: AlertUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.alerts.update(principal, alert_id, change))


@router.delete("/alerts/{alert_id}", status_code=204)
async def delete_alert(alert_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    await services.alerts.delete(principal, alert_id)
    return Response(status_code=204)


@router.get("/alerts/{alert_id}/events", response_model=dict[str, list[AlertEvent]])
async def alert_events(alert_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """The rule's audit trail, oldest first: created, updated, fired, recovered, deleted."""
    return items(await services.alerts.events(principal, alert_id))
