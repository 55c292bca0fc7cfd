"""``/v1/deliveries`` (admin): the outbox and its log; send, replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.domain.deliveries import Delivery, DeliveryDetail, DeliveryStatus, NewDelivery
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.server.store.deliveries import DeliveryFilter

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class ReplayDead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str | None = None
    limit: int = Field(default=1000, ge=1, le=1000)


class Replayed(BaseModel):
    replayed: list[int]


@router.post("", status_code=201, response_model=Delivery)
async def send(new: NewDelivery, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Deliver a message (email, SMS, Slack, Teams) or an event (webhook) through a
    channel, durably: retried with backoff, logged, dead-lettered. A known key answers with
    the delivery it made before."""
    delivery, created = await services.deliveries.send(principal, new)
    if created:
        return json(delivery, 201)
    return json(delivery, 200, **{"Idempotent-Replayed": "true"})


@router.get("", response_model=DeliveryPage)
async def list_deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    status: Annotated[list[DeliveryStatus] | None, Query()] = None,
    channel: str | None = None,
    request_id: str | None = None,
    topic: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Response:
    """Newest first."""
    where = DeliveryFilter(status=status or (), channel=channel, request_id=request_id, topic=topic)
    found, next_cursor = await services.deliveries.list_deliveries(
        principal, where, limit=limit, cursor=cursor
    )
    return json(DeliveryPage(items=found, next_cursor=next_cursor))


@router.post("/replay-dead", response_model=Replayed)
async def replay_dead(body: ReplayDead, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Replay every dead letter (of one channel), oldest first."""
    ids = await services.deliveries.replay_dead(principal, channel=body.channel, limit=body.limit)
    return json(Replayed(replayed=ids))


@router.get("/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(
    delivery_id: int, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The delivery and its log: one entry per attempt."""
    return json(await services.deliveries.get(principal, delivery_id))


@router.post("/{delivery_id}/replay", response_model=Delivery)
async def replay(delivery_id: int, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Send it again (delivered, dead or skipped), with its retries from the start."""
    return json(await services.deliveries.replay(principal, delivery_id))
